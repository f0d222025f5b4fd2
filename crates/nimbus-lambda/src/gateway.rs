//! Lambda as a synchronous backend of other services (API Gateway integrations and
//! authorizers): [`nimbus_core::invoke::FunctionInvoker`]. As on AWS, the function runs only
//! if its resource policy lets the calling service's principal (with its `SourceArn`) invoke it.

use std::sync::Arc;

use nimbus_core::invoke::{FunctionInvoker, Invocation, InvokeResult};
use nimbus_core::service::BoxFuture;
use nimbus_core::{AwsError, RequestContext};

use crate::api::invoke;
use crate::{delivery, ident, Lambda};

/// Registered with the callers by the binary.
pub struct LambdaInvoker(pub Arc<Lambda>);

impl FunctionInvoker for LambdaInvoker {
    fn invoke(&self, call: Invocation) -> BoxFuture<'_, Result<InvokeResult, AwsError>> {
        Box::pin(async move {
            let lambda = &self.0;
            let ctx = RequestContext {
                account: call.account.clone(),
                region: call.region.clone(),
                request_id: uuid::Uuid::new_v4().to_string(),
                access_key_id: None,
                endpoint: lambda.endpoint_or("http://127.0.0.1:4566"),
                clock: lambda.clock.clone(),
            };
            let id = ident::parse_function(&ctx, &call.function, None)?;
            if !delivery::allows(lambda, &ctx, &id, &call.source) {
                return Err(AwsError::new(
                    403,
                    "AccessDeniedException",
                    format!(
                        "The resource policy of {} does not allow {} to invoke it",
                        call.function, call.source.principal
                    ),
                ));
            }
            let target = invoke::target(lambda, &ctx, &id)?;
            let outcome = lambda.invoker.invoke(&lambda.blobs, &ctx, target, &call.payload, None).await?;
            Ok(InvokeResult { payload: outcome.payload.to_vec(), function_error: outcome.function_error })
        })
    }
}
