//! The HTTP face: Secrets Manager (`secretsmanager`, JSON 1.1) on the shared front. A
//! background tick ends recovery windows and starts scheduled rotations on nimbus's clock.

use std::path::Path;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use nimbus_core::clock::Clock;
use nimbus_core::crypto::KeyService;
use nimbus_core::front::{unsupported, ModelService, OpResult, Operations};
use nimbus_core::invoke::FunctionInvoker;
use nimbus_core::model::ServiceModel;
use nimbus_core::service::BoxFuture;
use nimbus_core::RequestContext;
use serde_json::Value;

use crate::secrets::{random_password, Secrets};

pub fn model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::parse(include_str!("../model/secretsmanager.json")))
}

pub struct SecretsOps {
    pub secrets: Arc<Secrets>,
    /// Runs rotation functions (Lambda), when wired.
    pub invoker: Option<Arc<dyn FunctionInvoker>>,
}

impl Operations for SecretsOps {
    fn model(&self) -> &'static ServiceModel {
        model()
    }

    fn call<'a>(&'a self, ctx: &'a RequestContext, op: &'a str, input: Value) -> BoxFuture<'a, OpResult> {
        Box::pin(async move {
            let sm = &self.secrets;
            let c = sm.ctx(&ctx.account, &ctx.region);
            let i = &input;
            match op {
                "CreateSecret" => sm.create_secret(&c, i),
                "GetSecretValue" => sm.get_secret_value(&c, i),
                "BatchGetSecretValue" => sm.batch_get(&c, i),
                "PutSecretValue" => sm.put_secret_value(&c, i),
                "UpdateSecret" => sm.update_secret(&c, i),
                "DescribeSecret" => sm.describe_secret(&c, i),
                "ListSecrets" => sm.list_secrets(&c, i),
                "ListSecretVersionIds" => sm.list_version_ids(&c, i),
                "UpdateSecretVersionStage" => sm.update_version_stage(&c, i),
                "DeleteSecret" => sm.delete_secret(&c, i),
                "RestoreSecret" => sm.restore_secret(&c, i),
                "GetRandomPassword" => random_password(i),
                "TagResource" => sm.tag(&c, i),
                "UntagResource" => sm.untag(&c, i),
                "PutResourcePolicy" => sm.put_policy(&c, i),
                "GetResourcePolicy" => sm.get_policy(&c, i),
                "DeleteResourcePolicy" => sm.delete_policy(&c, i),
                "ValidateResourcePolicy" => sm.validate_policy(i),
                "ReplicateSecretToRegions" => sm.replicate(&c, i),
                "RemoveRegionsFromReplication" => sm.remove_regions(&c, i),
                "StopReplicationToReplica" => sm.stop_replication(&c, i),
                "RotateSecret" => sm.rotate_secret(&c, i, self.invoker.clone()),
                "CancelRotateSecret" => sm.cancel_rotation(&c, i),
                _ => Err(unsupported(op)),
            }
        })
    }

    fn reset(&self) {
        self.secrets.reset();
    }
}

pub struct SecretsManagerService;

impl SecretsManagerService {
    pub fn open(
        data_dir: Option<&Path>,
        clock: Clock,
        keys: Arc<dyn KeyService>,
        invoker: Option<Arc<dyn FunctionInvoker>>,
    ) -> std::io::Result<ModelService<SecretsOps>> {
        let secrets = Arc::new(Secrets::open(data_dir, clock, keys)?);
        Self::start_background(&secrets, invoker.clone());
        Ok(ModelService::new("secretsmanager", &["secretsmanager"], Arc::new(SecretsOps { secrets, invoker })))
    }

    /// Sweep every second (real time) so recovery windows and schedules follow nimbus's clock.
    fn start_background(secrets: &Arc<Secrets>, invoker: Option<Arc<dyn FunctionInvoker>>) {
        let me: Weak<Secrets> = Arc::downgrade(secrets);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let Some(me) = me.upgrade() else { return };
                me.sweep_deleted();
                me.sweep_rotations(invoker.clone());
            }
        });
    }
}
