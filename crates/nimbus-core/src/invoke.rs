//! The cross-service interface "invoke this function now and give me its answer": API Gateway
//! integrations and authorizers (and any other front end that waits for a function). Lambda
//! implements [`FunctionInvoker`]; the binary hands it to the callers.

use crate::delivery::Source;
use crate::error::AwsError;
use crate::service::BoxFuture;

/// One synchronous (`RequestResponse`) invocation on behalf of another service.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The account and region the function lives in.
    pub account: String,
    pub region: String,
    /// The function's ARN (qualified or not) or name.
    pub function: String,
    pub payload: Vec<u8>,
    /// The invoking service, checked against the function's resource policy as AWS does.
    pub source: Source,
}

#[derive(Debug, Clone)]
pub struct InvokeResult {
    pub payload: Vec<u8>,
    /// `Unhandled` / `Handled` when the function failed (the payload is then its error).
    pub function_error: Option<String>,
}

pub trait FunctionInvoker: Send + Sync + 'static {
    /// Run the function and wait for its result. An error is Lambda's refusal (no such
    /// function, not allowed by its policy (403 `AccessDeniedException`), throttled, …).
    fn invoke(&self, invocation: Invocation) -> BoxFuture<'_, Result<InvokeResult, AwsError>>;
}
