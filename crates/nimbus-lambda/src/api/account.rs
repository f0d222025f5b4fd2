//! GetAccountSettings: Lambda's limits and this account's usage, per region.
//!
//! Usage counts every function once (`FunctionCount`) and the deployment packages of `$LATEST`,
//! of every published version and of every layer version (`TotalCodeSize`): AWS keeps each
//! version's package, so publishing a version adds its code size again. Container-image functions
//! count against ECR, not here. `UnreservedConcurrentExecutions` is the account's concurrency
//! minus what functions reserve with PutFunctionConcurrency.

use nimbus_core::RequestContext;
use serde_json::{json, Value};

use crate::code::{MAX_UNZIPPED_BYTES, MAX_ZIPPED_BYTES};
use crate::error::Result;
use crate::invoke::ACCOUNT_CONCURRENCY;
use crate::state::Version;
use crate::Lambda;

/// 75 GB of code per account and region.
const TOTAL_CODE_SIZE: u64 = 80_530_636_800;

fn package_size(version: &Version) -> u64 {
    version.code.as_ref().map_or(0, |c| c.size)
}

pub fn get_account_settings(lambda: &Lambda, ctx: &RequestContext, _input: &Value) -> Result<Value> {
    let store = lambda.store.read();
    let (mut code_size, mut functions, mut reserved) = (0u64, 0u64, 0u64);
    if let Some(region) = store.region(&ctx.account, &ctx.region) {
        for function in region.functions.values() {
            functions += 1;
            reserved += u64::from(function.reserved_concurrency.unwrap_or(0));
            code_size += package_size(&function.latest);
            code_size += function.versions.values().map(package_size).sum::<u64>();
        }
        for layer in region.layers.values() {
            code_size += layer.versions.values().map(|v| v.code.size).sum::<u64>();
        }
    }
    Ok(json!({
        "AccountLimit": {
            "TotalCodeSize": TOTAL_CODE_SIZE,
            "CodeSizeUnzipped": MAX_UNZIPPED_BYTES,
            "CodeSizeZipped": MAX_ZIPPED_BYTES,
            "ConcurrentExecutions": ACCOUNT_CONCURRENCY,
            "UnreservedConcurrentExecutions": u64::from(ACCOUNT_CONCURRENCY).saturating_sub(reserved),
        },
        "AccountUsage": {"TotalCodeSize": code_size, "FunctionCount": functions},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::permissions::tests::{create, ctx, ctx_in, lambda, zip_b64};

    #[test]
    fn limits_and_usage() {
        let (l, c) = (lambda(), ctx());
        let empty = get_account_settings(&l, &c, &json!({})).unwrap();
        assert_eq!(
            empty,
            json!({
                "AccountLimit": {
                    "TotalCodeSize": 80_530_636_800u64, "CodeSizeUnzipped": 262_144_000u64, "CodeSizeZipped": 52_428_800u64,
                    "ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 1000,
                },
                "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": 0},
            })
        );

        let f = create(&l, &c, "f");
        let size = f["CodeSize"].as_u64().unwrap();
        create(&l, &c, "g");
        crate::api::versions::publish_version(&l, &c, &json!({"FunctionName": "f"})).unwrap();
        crate::api::concurrency::put_function_concurrency(
            &l,
            &c,
            &json!({"FunctionName": "g", "ReservedConcurrentExecutions": 100}),
        )
        .unwrap();
        let layer = crate::api::layers::publish_layer_version(
            &l,
            &c,
            &json!({"LayerName": "lib", "Content": {"ZipFile": zip_b64(b"x = 1\n")}}),
        )
        .unwrap();
        let layer_size = layer["Content"]["CodeSize"].as_u64().unwrap();

        let settings = get_account_settings(&l, &c, &json!({})).unwrap();
        assert_eq!(settings["AccountUsage"]["FunctionCount"], 2);
        // f's $LATEST and version 1, g's $LATEST, and the layer version.
        assert_eq!(settings["AccountUsage"]["TotalCodeSize"], 3 * size + layer_size);
        assert_eq!(settings["AccountLimit"]["UnreservedConcurrentExecutions"], 900);

        // Usage is per account and region.
        let elsewhere = get_account_settings(&l, &ctx_in("123456789012", "eu-west-1"), &json!({})).unwrap();
        assert_eq!(elsewhere["AccountUsage"]["FunctionCount"], 0);
    }
}
