//! The HTTP face: ECR (`AmazonEC2ContainerRegistry_V20150921`, JSON 1.1) on the shared front.
//! The repository control plane is emulated; the image and layer operations (nimbus serves no
//! Docker registry) and `GetAuthorizationToken` answer NotImplemented in ECR's protocol.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use nimbus_core::clock::Clock;
use nimbus_core::crypto::KeyService;
use nimbus_core::front::{unsupported, ModelService, OpResult, Operations};
use nimbus_core::model::ServiceModel;
use nimbus_core::service::BoxFuture;
use nimbus_core::RequestContext;
use serde_json::Value;

use crate::repos::Ecr;

pub fn model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::parse(include_str!("../model/ecr.json")))
}

pub struct EcrOps(pub Arc<Ecr>);

impl Operations for EcrOps {
    fn model(&self) -> &'static ServiceModel {
        model()
    }

    fn call<'a>(&'a self, ctx: &'a RequestContext, op: &'a str, input: Value) -> BoxFuture<'a, OpResult> {
        Box::pin(async move {
            let ecr = &self.0;
            let c = ecr.ctx(&ctx.account, &ctx.region);
            let i = &input;
            match op {
                "CreateRepository" => ecr.create_repository(&c, i),
                "DescribeRepositories" => ecr.describe_repositories(&c, i),
                "DeleteRepository" => ecr.delete_repository(&c, i),
                "TagResource" => ecr.tag_resource(&c, i),
                "UntagResource" => ecr.untag_resource(&c, i),
                "ListTagsForResource" => ecr.list_tags(&c, i),
                "PutLifecyclePolicy" => ecr.put_lifecycle_policy(&c, i),
                "GetLifecyclePolicy" => ecr.get_lifecycle_policy(&c, i),
                "DeleteLifecyclePolicy" => ecr.delete_lifecycle_policy(&c, i),
                "SetRepositoryPolicy" => ecr.set_repository_policy(&c, i),
                "GetRepositoryPolicy" => ecr.get_repository_policy(&c, i),
                "DeleteRepositoryPolicy" => ecr.delete_repository_policy(&c, i),
                "PutImageTagMutability" => ecr.put_image_tag_mutability(&c, i),
                "PutImageScanningConfiguration" => ecr.put_image_scanning_configuration(&c, i),
                "DescribeRegistry" => ecr.describe_registry(&c),
                "ListImages" => ecr.list_images(&c, i),
                "DescribeImages" => ecr.describe_images(&c, i),
                _ => Err(unsupported(op)),
            }
        })
    }

    fn reset(&self) {
        self.0.reset();
    }
}

pub struct EcrService;

impl EcrService {
    /// ECR on the router; `keys` resolves the KMS keys of `KMS`-encrypted repositories.
    pub fn open(
        data_dir: Option<&Path>,
        clock: Clock,
        keys: Option<Arc<dyn KeyService>>,
    ) -> std::io::Result<(ModelService<EcrOps>, Arc<Ecr>)> {
        let ecr = Arc::new(Ecr::open(data_dir, clock, keys)?);
        Ok((ModelService::new("ecr", &["ecr"], Arc::new(EcrOps(ecr.clone()))), ecr))
    }
}
