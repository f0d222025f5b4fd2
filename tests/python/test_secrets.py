"""KMS, SSM Parameter Store and Secrets Manager through boto3 and clients nobody here wrote:
the AWS Encryption SDK for Python encrypts and decrypts with a nimbus KMS key, and nimbus's
signatures and public keys work with `cryptography` (and the reverse); a Python function reads a
SecureString and a secret at invocation."""
import io
import json
import uuid
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import client

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_aws_encryption_sdk_round_trips_through_nimbus_kms(endpoint, monkeypatch):
    aws_encryption_sdk = pytest.importorskip("aws_encryption_sdk")
    import botocore.session

    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    kms = client(endpoint, "kms")
    key_arn = kms.create_key(Description="esdk")["KeyMetadata"]["Arn"]
    provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(
        key_ids=[key_arn], botocore_session=botocore.session.Session()
    )
    sdk = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=aws_encryption_sdk.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    message = b"a message nobody here encrypted by hand" * 50
    ciphertext, header = sdk.encrypt(source=message, key_provider=provider, encryption_context={"purpose": "test"})
    assert message not in ciphertext
    assert header.encryption_context["purpose"] == "test"
    plaintext, decrypted_header = sdk.decrypt(source=ciphertext, key_provider=provider)
    assert plaintext == message
    assert decrypted_header.encryption_context["purpose"] == "test"
    # Another key cannot decrypt it.
    other = kms.create_key()["KeyMetadata"]["Arn"]
    wrong = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[other], botocore_session=botocore.session.Session())
    with pytest.raises(Exception):
        sdk.decrypt(source=ciphertext, key_provider=wrong)


@pytest.mark.parametrize(
    "spec,algorithm",
    [
        ("ECC_NIST_P256", "ECDSA_SHA_256"),
        ("ECC_NIST_P384", "ECDSA_SHA_384"),
        ("ECC_NIST_P521", "ECDSA_SHA_512"),
        ("ECC_SECG_P256K1", "ECDSA_SHA_256"),
        ("RSA_2048", "RSASSA_PSS_SHA_256"),
        ("RSA_3072", "RSASSA_PKCS1_V1_5_SHA_384"),
        ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"),
    ],
)
def test_nimbus_signatures_verify_with_cryptography(endpoint, spec, algorithm):
    pytest.importorskip("cryptography")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding

    kms = client(endpoint, "kms")
    key = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    der = kms.get_public_key(KeyId=key)["PublicKey"]
    public = serialization.load_der_public_key(der)
    message = b"signed by nimbus"
    signature = kms.sign(KeyId=key, Message=message, MessageType="RAW", SigningAlgorithm=algorithm)["Signature"]
    hash_alg = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[algorithm[-3:]]
    if spec.startswith("ECC_NIST_EDWARDS"):
        assert isinstance(public, ed25519.Ed25519PublicKey)
        public.verify(signature, message)
    elif spec.startswith("ECC"):
        public.verify(signature, message, ec.ECDSA(hash_alg))
    elif "PSS" in algorithm:
        public.verify(signature, message, padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=hash_alg.digest_size), hash_alg)
    else:
        public.verify(signature, message, padding.PKCS1v15(), hash_alg)
    # A signature over a digest computed here verifies in nimbus (MessageType DIGEST).
    if not spec.startswith("ECC_NIST_EDWARDS"):
        h = hashes.Hash(hash_alg)
        h.update(message)
        digest = h.finalize()
        out = kms.verify(KeyId=key, Message=digest, MessageType="DIGEST", Signature=signature, SigningAlgorithm=algorithm)
        assert out["SignatureValid"] is True
    with pytest.raises(ClientError) as err:
        kms.verify(KeyId=key, Message=b"tampered", Signature=signature, SigningAlgorithm=algorithm)
    assert err.value.response["Error"]["Code"] == "KMSInvalidSignatureException"


def test_cryptography_encrypts_to_a_nimbus_rsa_key_and_loads_its_data_key_pairs(endpoint):
    pytest.importorskip("cryptography")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding

    kms = client(endpoint, "kms")
    key = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key)["PublicKey"])
    for name, hash_alg in [("RSAES_OAEP_SHA_256", hashes.SHA256()), ("RSAES_OAEP_SHA_1", hashes.SHA1())]:
        ciphertext = public.encrypt(b"for nimbus", padding.OAEP(mgf=padding.MGF1(hash_alg), algorithm=hash_alg, label=None))
        out = kms.decrypt(KeyId=key, CiphertextBlob=ciphertext, EncryptionAlgorithm=name)
        assert out["Plaintext"] == b"for nimbus"

    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    pair = kms.generate_data_key_pair(KeyId=symmetric, KeyPairSpec="ECC_NIST_P384")
    private = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], password=None)
    public = serialization.load_der_public_key(pair["PublicKey"])
    signature = private.sign(b"data key pair", ec.ECDSA(hashes.SHA384()))
    public.verify(signature, b"data key pair", ec.ECDSA(hashes.SHA384()))
    assert kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"])["Plaintext"] == pair["PrivateKeyPlaintext"]


def test_boto3_errors_for_bad_input(endpoint):
    kms = client(endpoint, "kms")
    ssm = client(endpoint, "ssm")
    sm = client(endpoint, "secretsmanager")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    cases = [
        (lambda: kms.encrypt(KeyId=key, Plaintext=b"x" * 4097), "ValidationException"),
        (lambda: kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="ENCRYPT_DECRYPT"), "ValidationException"),
        (lambda: kms.decrypt(CiphertextBlob=b"not a ciphertext blob at all"), "InvalidCiphertextException"),
        (lambda: ssm.put_parameter(Name="ssm-reserved", Value="x", Type="String"), "ValidationException"),
        (lambda: ssm.get_parameter(Name="/never/put"), "ParameterNotFound"),
        (lambda: sm.get_secret_value(SecretId="never-created"), "ResourceNotFoundException"),
        (lambda: sm.create_secret(Name="bad#name", SecretString="x"), "InvalidParameterException"),
    ]
    for call, code in cases:
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == code
        assert 400 <= err.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500
    blob = kms.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"a": "b"})["CiphertextBlob"]
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    for ct, ctx in [(tampered, {"a": "b"}), (blob, {"a": "c"})]:
        with pytest.raises(ClientError) as err:
            kms.decrypt(CiphertextBlob=ct, EncryptionContext=ctx)
        assert err.value.response["Error"]["Code"] == "InvalidCiphertextException"


READER = """
import boto3

def handler(event, context):
    ssm = boto3.client("ssm")
    sm = boto3.client("secretsmanager")
    parameter = ssm.get_parameter(Name=event["parameter"], WithDecryption=True)["Parameter"]
    secret = sm.get_secret_value(SecretId=event["secret"])["SecretString"]
    return {"parameter": parameter["Value"], "type": parameter["Type"], "secret": secret}
"""


def test_a_python_function_reads_a_secure_string_and_a_secret(endpoint):
    ssm = client(endpoint, "ssm")
    sm = client(endpoint, "secretsmanager")
    lam = client(endpoint, "lambda")
    parameter = f"/{unique('app')}/db-password"
    ssm.put_parameter(Name=parameter, Value="from-parameter-store", Type="SecureString")
    secret = unique("app-secret")
    sm.create_secret(Name=secret, SecretString=json.dumps({"api_key": "from-secrets-manager"}))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", READER)
    fn = unique("reader")
    lam.create_function(FunctionName=fn, Runtime="python3.12", Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": buf.getvalue()}, Timeout=30)
    out = lam.invoke(FunctionName=fn, Payload=json.dumps({"parameter": parameter, "secret": secret}).encode())
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    assert body == {
        "parameter": "from-parameter-store",
        "type": "SecureString",
        "secret": json.dumps({"api_key": "from-secrets-manager"}),
    }
