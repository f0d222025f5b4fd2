//! OpenAPI import and export.

use nimbus_core::state::Changes;
use nimbus_core::{AwsError, RequestContext};
use serde_json::Value;

use crate::state::{Record, RestApi};

pub fn import(_ctx: &RequestContext, _api: Option<RestApi>, _input: &Value, _changes: &mut Changes<Record>) -> Result<Value, AwsError> {
    Err(nimbus_core::front::unsupported("ImportRestApi"))
}

pub fn export(_ctx: &RequestContext, _api: &RestApi, _input: &Value) -> Result<Value, AwsError> {
    Err(nimbus_core::front::unsupported("GetExport"))
}

pub fn import_v2(
    _ctx: &RequestContext,
    _api: Option<crate::state::HttpApi>,
    _input: &Value,
    _changes: &mut Changes<Record>,
) -> Result<Value, AwsError> {
    Err(nimbus_core::front::unsupported("ImportApi"))
}
