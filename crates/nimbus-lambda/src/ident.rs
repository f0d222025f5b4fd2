//! Function identifiers in every form AWS accepts, and the ARNs Lambda builds.
//!
//! `my-function`, `my-function:alias`, `123456789012:function:my-function[:qualifier]` and
//! `arn:aws:lambda:region:account:function:my-function[:qualifier]` all name the same function.

use std::sync::LazyLock;

use nimbus_core::{AwsError, RequestContext};
use regex::Regex;

use crate::error::{self, Result};

static FUNCTION_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:arn:(?P<partition>aws[a-zA-Z-]*):lambda:(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d):)?(?:(?P<account>\d{12}):)?(?:function:)?(?P<name>[a-zA-Z0-9_-]+)(?::(?P<qualifier>\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9_-]+))?$",
    )
    .expect("valid regex")
});

/// A parsed function identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionId {
    pub name: String,
    pub qualifier: Option<String>,
}

/// Resolve a `FunctionName` (+ optional `Qualifier` parameter) the way Lambda does.
pub fn parse_function(ctx: &RequestContext, raw: &str, qualifier_param: Option<&str>) -> Result<FunctionId> {
    let caps = FUNCTION_ID.captures(raw).ok_or_else(|| {
        error::validation(format!(
            "1 validation error detected: Value '{raw}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
        ))
    })?;
    if let Some(region) = caps.name("region") {
        if region.as_str() != ctx.region {
            return Err(error::not_found(format!(
                "Functions from '{}' are not reachable in this region ('{}')",
                region.as_str(),
                ctx.region
            )));
        }
    }
    if let Some(account) = caps.name("account") {
        if account.as_str() != ctx.account {
            // AWS answers a bare 403 without a message here.
            return Err(AwsError::new(403, "AccessDeniedException", ""));
        }
    }
    let name = caps["name"].to_string();
    let derived = caps.name("qualifier").map(|q| q.as_str().to_string());
    let qualifier = match (derived, qualifier_param) {
        (Some(d), Some(q)) if d != q => {
            return Err(error::invalid_parameter(
                "The derived qualifier from the function name does not match the specified qualifier.",
            ))
        }
        (Some(d), _) => Some(d),
        (None, q) => q.map(str::to_string),
    };
    Ok(FunctionId { name, qualifier })
}

pub fn function_arn(ctx: &RequestContext, name: &str) -> String {
    format!("arn:aws:lambda:{}:{}:function:{name}", ctx.region, ctx.account)
}

pub fn qualified_arn(ctx: &RequestContext, name: &str, qualifier: Option<&str>) -> String {
    match qualifier {
        Some(q) => format!("{}:{q}", function_arn(ctx, name)),
        None => function_arn(ctx, name),
    }
}

pub fn layer_arn(ctx: &RequestContext, name: &str) -> String {
    format!("arn:aws:lambda:{}:{}:layer:{name}", ctx.region, ctx.account)
}

/// Whether a qualifier names a published version (digits) rather than an alias.
pub fn is_version(qualifier: &str) -> bool {
    !qualifier.is_empty() && qualifier.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nimbus_core::clock::Clock;

    fn ctx() -> RequestContext {
        RequestContext {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            request_id: "r".into(),
            access_key_id: None,
            endpoint: "http://localhost:4566".into(),
            clock: Clock::new(),
        }
    }

    #[test]
    fn every_form_resolves_to_the_same_function() {
        let c = ctx();
        for raw in ["f", "123456789012:function:f", "arn:aws:lambda:us-east-1:123456789012:function:f"] {
            assert_eq!(parse_function(&c, raw, None).unwrap(), FunctionId { name: "f".into(), qualifier: None });
        }
        for raw in ["f:prod", "123456789012:function:f:prod", "arn:aws:lambda:us-east-1:123456789012:function:f:prod"] {
            assert_eq!(parse_function(&c, raw, None).unwrap().qualifier.as_deref(), Some("prod"));
        }
        assert_eq!(parse_function(&c, "f", Some("3")).unwrap().qualifier.as_deref(), Some("3"));
        assert_eq!(parse_function(&c, "f:3", Some("4")).unwrap_err().code, "InvalidParameterValueException");
        assert_eq!(parse_function(&c, "bad name", None).unwrap_err().code, "ValidationException");
        assert_eq!(
            parse_function(&c, "arn:aws:lambda:eu-west-1:123456789012:function:f", None).unwrap_err().code,
            "ResourceNotFoundException"
        );
    }
}
