//! GetAccountSettings: Lambda's limits and this account's usage in the region.

use nimbus_core::RequestContext;
use serde_json::{json, Value};

use crate::code::{MAX_UNZIPPED_BYTES, MAX_ZIPPED_BYTES};
use crate::error::Result;
use crate::invoke::ACCOUNT_CONCURRENCY;
use crate::Lambda;

/// 75 GB of code per account and region.
const TOTAL_CODE_SIZE: u64 = 80_530_636_800;

pub fn get_account_settings(lambda: &Lambda, ctx: &RequestContext, _input: &Value) -> Result<Value> {
    let store = lambda.store.read();
    let (mut code_size, mut functions, mut reserved) = (0u64, 0u64, 0u64);
    if let Some(region) = store.region(&ctx.account, &ctx.region) {
        for function in region.functions.values() {
            functions += 1;
            reserved += u64::from(function.reserved_concurrency.unwrap_or(0));
            code_size += function.latest.config.code_size;
            code_size += function.versions.values().map(|v| v.config.code_size).sum::<u64>();
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
