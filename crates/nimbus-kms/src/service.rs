//! The HTTP face: KMS (`TrentService`, JSON 1.1) on the shared front. A background tick runs
//! scheduled deletions and automatic rotations on nimbus's clock.

use std::path::Path;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use nimbus_core::clock::Clock;
use nimbus_core::front::{unsupported, ModelService, OpResult, Operations};
use nimbus_core::model::ServiceModel;
use nimbus_core::service::BoxFuture;
use nimbus_core::RequestContext;
use serde_json::Value;

use crate::keys::Kms;

pub fn model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::parse(include_str!("../model/kms.json")))
}

pub struct KmsOps(pub Arc<Kms>);

impl Operations for KmsOps {
    fn model(&self) -> &'static ServiceModel {
        model()
    }

    fn call<'a>(&'a self, ctx: &'a RequestContext, op: &'a str, input: Value) -> BoxFuture<'a, OpResult> {
        Box::pin(async move {
            let kms = &self.0;
            let c = kms.ctx(&ctx.account, &ctx.region);
            let i = &input;
            match op {
                "CreateKey" => kms.create_key(&c, i),
                "DescribeKey" => kms.describe_key(&c, i),
                "ListKeys" => kms.list_keys(&c, i),
                "EnableKey" => kms.set_enabled(&c, i, true),
                "DisableKey" => kms.set_enabled(&c, i, false),
                "ScheduleKeyDeletion" => kms.schedule_deletion(&c, i),
                "CancelKeyDeletion" => kms.cancel_deletion(&c, i),
                "UpdateKeyDescription" => kms.update_description(&c, i),
                "CreateAlias" => kms.create_alias(&c, i),
                "UpdateAlias" => kms.update_alias(&c, i),
                "DeleteAlias" => kms.delete_alias(&c, i),
                "ListAliases" => kms.list_aliases(&c, i),
                "EnableKeyRotation" => kms.enable_rotation(&c, i),
                "DisableKeyRotation" => kms.disable_rotation(&c, i),
                "GetKeyRotationStatus" => kms.rotation_status(&c, i),
                "RotateKeyOnDemand" => kms.rotate_on_demand(&c, i),
                "ListKeyRotations" => kms.list_rotations(&c, i),
                "GetKeyPolicy" => kms.get_policy(&c, i),
                "PutKeyPolicy" => kms.put_policy(&c, i),
                "ListKeyPolicies" => kms.list_policies(&c, i),
                "CreateGrant" => kms.create_grant(&c, i),
                "ListGrants" => kms.list_grants(&c, i),
                "ListRetirableGrants" => kms.list_retirable_grants(&c, i),
                "RetireGrant" => kms.retire_grant(&c, i),
                "RevokeGrant" => kms.revoke_grant(&c, i),
                "TagResource" => kms.tag(&c, i),
                "UntagResource" => kms.untag(&c, i),
                "ListResourceTags" => kms.list_tags(&c, i),
                "ReplicateKey" => kms.replicate_key(&c, i),
                "Encrypt" => kms.encrypt(&c, i),
                "Decrypt" => kms.decrypt(&c, i),
                "ReEncrypt" => kms.re_encrypt(&c, i),
                "GenerateDataKey" => kms.generate_data_key(&c, i, true),
                "GenerateDataKeyWithoutPlaintext" => kms.generate_data_key(&c, i, false),
                "GenerateDataKeyPair" => kms.generate_data_key_pair(&c, i, true),
                "GenerateDataKeyPairWithoutPlaintext" => kms.generate_data_key_pair(&c, i, false),
                "Sign" => kms.sign(&c, i),
                "Verify" => kms.verify(&c, i),
                "GetPublicKey" => kms.get_public_key(&c, i),
                "GenerateMac" => kms.generate_mac(&c, i),
                "VerifyMac" => kms.verify_mac(&c, i),
                "GenerateRandom" => kms.generate_random(i),
                "DeriveSharedSecret" => kms.derive_shared_secret(&c, i),
                _ => Err(unsupported(op)),
            }
        })
    }

    fn reset(&self) {
        self.0.reset();
    }
}

pub struct KmsService;

impl KmsService {
    /// KMS on the router, and the handle other services use ([`nimbus_core::crypto::KeyService`]).
    pub fn open(data_dir: Option<&Path>, clock: Clock) -> std::io::Result<(ModelService<KmsOps>, Arc<Kms>)> {
        let kms = Arc::new(Kms::open(data_dir, clock)?);
        Ok((ModelService::new("kms", &["kms"], Arc::new(KmsOps(kms.clone()))), kms))
    }

    /// Sweep every second (real time) so deletions and rotations follow nimbus's clock.
    pub fn start_background(kms: &Arc<Kms>) {
        let me: Weak<Kms> = Arc::downgrade(kms);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let Some(me) = me.upgrade() else { return };
                me.sweep();
            }
        });
    }
}
