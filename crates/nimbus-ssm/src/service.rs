//! The HTTP face: SSM (`AmazonSSM`, JSON 1.1) on the shared front. Parameter Store is
//! emulated; every other SSM operation answers NotImplemented in SSM's protocol.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use nimbus_core::clock::Clock;
use nimbus_core::crypto::KeyService;
use nimbus_core::front::{unsupported, ModelService, OpResult, Operations};
use nimbus_core::model::ServiceModel;
use nimbus_core::service::BoxFuture;
use nimbus_core::RequestContext;
use serde_json::Value;

use crate::params::Ssm;

pub fn model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::parse(include_str!("../model/ssm.json")))
}

pub struct SsmOps(pub Arc<Ssm>);

impl Operations for SsmOps {
    fn model(&self) -> &'static ServiceModel {
        model()
    }

    fn call<'a>(&'a self, ctx: &'a RequestContext, op: &'a str, input: Value) -> BoxFuture<'a, OpResult> {
        Box::pin(async move {
            let ssm = &self.0;
            let c = ssm.ctx(&ctx.account, &ctx.region);
            let i = &input;
            match op {
                "PutParameter" => ssm.put_parameter(&c, i),
                "GetParameter" => ssm.get_parameter(&c, i),
                "GetParameters" => ssm.get_parameters(&c, i),
                "GetParametersByPath" => ssm.get_parameters_by_path(&c, i),
                "DeleteParameter" => ssm.delete_parameter(&c, i),
                "DeleteParameters" => ssm.delete_parameters(&c, i),
                "DescribeParameters" => ssm.describe_parameters(&c, i),
                "GetParameterHistory" => ssm.get_parameter_history(&c, i),
                "LabelParameterVersion" => ssm.label_version(&c, i),
                "UnlabelParameterVersion" => ssm.unlabel_version(&c, i),
                "AddTagsToResource" => ssm.add_tags(&c, i),
                "RemoveTagsFromResource" => ssm.remove_tags(&c, i),
                "ListTagsForResource" => ssm.list_tags(&c, i),
                _ => Err(unsupported(op)),
            }
        })
    }

    fn reset(&self) {
        self.0.reset();
    }
}

pub struct SsmService;

impl SsmService {
    pub fn open(
        data_dir: Option<&Path>,
        clock: Clock,
        keys: Arc<dyn KeyService>,
    ) -> std::io::Result<(ModelService<SsmOps>, Arc<Ssm>)> {
        let ssm = Arc::new(Ssm::open(data_dir, clock, keys)?);
        Ok((ModelService::new("ssm", &["ssm"], Arc::new(SsmOps(ssm.clone()))), ssm))
    }
}
