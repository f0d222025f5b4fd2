"""SNS `https` subscriptions to endpoints the user runs, trusted through the CA that nimbus is
pointed at with SSL_CERT_FILE (as mkcert users do), and an untrusted endpoint that never gets a
message; and `http` delivery retries that survive `kill -9` with `--data-dir`."""
import base64
import datetime
import http.server
import ipaddress
import json
import ssl
import threading
import time

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from conftest import client, start_nimbus


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_server_cert(tmp_path, label, ca_key, ca_cert):
    """A `localhost` / 127.0.0.1 certificate issued by the CA: (cert file, key file)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_file, key_file = tmp_path / f"{label}.pem", tmp_path / f"{label}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class Endpoint:
    """An endpoint the user runs: records each POST, answers the next scripted status (200 once
    the script is empty); over TLS it also counts handshakes that failed."""

    def __init__(self, tls=None):
        self.received, self.script, self.failed_handshakes = [], [], 0
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                with outer.lock:
                    outer.received.append({"headers": {k.lower(): v for k, v in self.headers.items()},
                                           "body": body, "path": self.path})
                    status = outer.script.pop(0) if outer.script else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            def get_request(self):
                sock, addr = self.socket.accept()
                if tls is None:
                    return sock, addr
                try:
                    return tls.wrap_socket(sock, server_side=True), addr
                except (ssl.SSLError, OSError):
                    with outer.lock:
                        outer.failed_handshakes += 1
                    sock.close()
                    raise

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, scheme, host="localhost"):
        return f"{scheme}://{host}:{self.port}/hook"

    def wait_for(self, n, what, deadline_s=60):
        deadline = time.time() + deadline_s
        while time.time() < deadline:
            with self.lock:
                if len(self.received) >= n:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"{what} never arrived ({len(self.received)} requests)")

    def wait_for_failed_handshakes(self, n, deadline_s=60):
        deadline = time.time() + deadline_s
        while time.time() < deadline:
            if self.failed_handshakes >= n:
                return self.failed_handshakes
            time.sleep(0.05)
        raise AssertionError(f"{self.failed_handshakes} failed TLS handshakes, waited for {n}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def tls_context(cert_file, key_file):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


def advance(url, seconds):
    requests.post(f"{url}/_nimbus/clock/advance", json={"seconds": seconds}).raise_for_status()


def verify_signature(url, body, fields):
    """Check SNS's SignatureVersion 1 signature with the certificate nimbus serves."""
    assert body["SignatureVersion"] == "1"
    cert_url = body["SigningCertURL"]
    assert cert_url.startswith(url), cert_url
    cert = x509.load_pem_x509_certificate(requests.get(cert_url).content)
    text = "".join(f"{f}\n{body[f]}\n" for f in fields if f in body)
    cert.public_key().verify(base64.b64decode(body["Signature"]), text.encode(), padding.PKCS1v15(), hashes.SHA1())


def test_https_endpoint_trusted_through_ssl_cert_file_and_an_untrusted_one_never_served(tmp_path):
    ca_key, ca_cert = make_ca("nimbus test CA")
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    trusted = Endpoint(tls_context(*make_server_cert(tmp_path, "trusted", ca_key, ca_cert)))
    # A self-signed CA nimbus was not told about: what AWS refuses too.
    rogue_key, rogue_ca = make_ca("untrusted CA")
    untrusted = Endpoint(tls_context(*make_server_cert(tmp_path, "untrusted", rogue_key, rogue_ca)))
    proc, url = start_nimbus(env={"SSL_CERT_FILE": str(bundle)})
    try:
        sns = client(url, "sns")
        topic = sns.create_topic(Name="secure")["TopicArn"]
        # Credentials in the URL become Basic authentication, as SNS sends them over HTTPS.
        hook = trusted.url("https").replace("https://", "https://hook:s3cret@")
        sub = sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=hook, ReturnSubscriptionArn=False)
        assert sub["SubscriptionArn"] == "pending confirmation"
        got = trusted.wait_for(1, "the SubscriptionConfirmation over TLS")
        assert got[0]["path"] == "/hook"
        assert got[0]["headers"]["authorization"] == "Basic " + base64.b64encode(b"hook:s3cret").decode()
        assert got[0]["headers"]["x-amz-sns-message-type"] == "SubscriptionConfirmation"
        confirmation = json.loads(got[0]["body"])
        verify_signature(url, confirmation,
                         ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"])
        answer = requests.get(confirmation["SubscribeURL"])
        assert answer.status_code == 200 and "<ConfirmSubscriptionResult>" in answer.text, answer.text
        sub_arn = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0]["SubscriptionArn"]
        assert sub_arn.startswith(topic + ":")

        message_id = sns.publish(TopicArn=topic, Subject="Over TLS", Message="hello https")["MessageId"]
        got = trusted.wait_for(2, "the Notification over TLS")
        note = got[1]
        assert note["headers"]["x-amz-sns-message-type"] == "Notification"
        assert note["headers"]["x-amz-sns-subscription-arn"] == sub_arn
        body = json.loads(note["body"])
        assert (body["MessageId"], body["Message"], body["Subject"]) == (message_id, "hello https", "Over TLS")
        verify_signature(url, body, ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"])
        assert trusted.failed_handshakes == 0

        # The untrusted endpoint: every attempt fails in the TLS handshake, so no request ever
        # reaches it and the subscription stays pending; the attempts follow the topic's delivery
        # policy on nimbus's clock (the first at once, then two retries 5 s apart).
        other = sns.create_topic(Name="rogue")["TopicArn"]
        sns.set_topic_attributes(TopicArn=other, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(
            {"http": {"defaultHealthyRetryPolicy": {"numRetries": 2, "minDelayTarget": 5, "maxDelayTarget": 5}}}))
        sns.subscribe(TopicArn=other, Protocol="https", Endpoint=untrusted.url("https", "127.0.0.1"))
        assert untrusted.wait_for_failed_handshakes(1) == 1
        advance(url, 5)
        assert untrusted.wait_for_failed_handshakes(2) >= 2
        advance(url, 5)
        assert untrusted.wait_for_failed_handshakes(3) == 3
        advance(url, 60)
        # Something later on the trusted endpoint, then: still three attempts, and no request.
        sns.publish(TopicArn=topic, Message="after the schedule")
        trusted.wait_for(3, "the later notification")
        assert untrusted.failed_handshakes == 3 and untrusted.received == []
        listed = sns.list_subscriptions_by_topic(TopicArn=other)["Subscriptions"]
        assert listed[0]["SubscriptionArn"] == "PendingConfirmation"
    finally:
        proc.kill()
        proc.wait()
        trusted.close()
        untrusted.close()


def test_http_delivery_retry_survives_kill_9(tmp_path):
    data = tmp_path / "data"
    endpoint = Endpoint()
    proc, url = start_nimbus("--data-dir", str(data))
    try:
        sns = client(url, "sns")
        topic = sns.create_topic(Name="durable-hooks")["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url("http", "127.0.0.1"))
        confirmation = json.loads(endpoint.wait_for(1, "the SubscriptionConfirmation")[0]["body"])
        assert requests.get(confirmation["SubscribeURL"]).status_code == 200
        # The endpoint is down (503) for the first attempt; AWS's default policy retries 20 s later.
        endpoint.script.append(503)
        message_id = sns.publish(TopicArn=topic, Message="acknowledged, so delivered")["MessageId"]
        got = endpoint.wait_for(2, "the failing first attempt")
        assert json.loads(got[1]["body"])["MessageId"] == message_id
    finally:
        proc.kill()  # SIGKILL: no shutdown work
        proc.wait()

    proc, url = start_nimbus("--data-dir", str(data))
    try:
        # The endpoint is up now; the retry is due on the restarted nimbus's clock.
        advance(url, 25)
        got = endpoint.wait_for(3, "the retried notification after the restart")
        retried = got[2]
        assert retried["headers"]["x-amz-sns-message-id"] == message_id
        body = json.loads(retried["body"])
        assert (body["Type"], body["MessageId"], body["Message"]) == ("Notification", message_id,
                                                                      "acknowledged, so delivered")
        assert body["TopicArn"] == topic
    finally:
        proc.kill()
        proc.wait()
        endpoint.close()
