//! The cross-service interface "invoke this function and wait for its answer": Secrets
//! Manager's rotation functions. nimbus-lambda implements [`FunctionInvoker`]; the binary hands
//! it to the services that call functions synchronously. (Asynchronous deliveries go through
//! [`crate::delivery`].)

use crate::service::BoxFuture;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoked {
    /// What the function returned (or its error document).
    pub payload: Vec<u8>,
    /// `Some("Unhandled")` when the function failed, as in Invoke's `X-Amz-Function-Error`.
    pub function_error: Option<String>,
}

pub trait FunctionInvoker: Send + Sync + 'static {
    /// Invoke `function` (name or ARN) in `account`/`region` with `payload` (RequestResponse).
    /// `Err` is why the function could not be invoked at all (missing, throttled, …).
    fn invoke<'a>(
        &'a self,
        account: &'a str,
        region: &'a str,
        function: &'a str,
        payload: Vec<u8>,
    ) -> BoxFuture<'a, Result<Invoked, String>>;
}
