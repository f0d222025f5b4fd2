//! Lambda as a delivery target of other services (S3 notifications, SNS, EventBridge,
//! Scheduler): the function is invoked asynchronously, as AWS does it, and only if its resource
//! policy lets the delivering service's principal invoke it.

use std::sync::Arc;

use nimbus_core::delivery::{Deliver, Delivery, Source};
use nimbus_core::RequestContext;
use serde_json::Value;

use crate::api::invoke;
use crate::{ident, Lambda};

/// Registered with [`nimbus_core::delivery::Targets`] under `lambda`.
pub struct LambdaTarget(pub Arc<Lambda>);

impl Deliver for LambdaTarget {
    fn deliver(&self, d: &Delivery) -> Result<(), String> {
        let lambda = &self.0;
        let ctx = RequestContext {
            account: d.account.clone(),
            region: d.region.clone(),
            request_id: uuid::Uuid::new_v4().to_string(),
            access_key_id: None,
            endpoint: lambda.endpoint_or("http://127.0.0.1:4566"),
            clock: lambda.clock.clone(),
        };
        let id = ident::parse_function(&ctx, &d.target_arn, None).map_err(|e| e.message)?;
        if let Some(source) = &d.source {
            if !allows(lambda, &ctx, &id, source) {
                return Err(format!(
                    "the resource policy of {} does not allow {} to invoke it",
                    d.target_arn, source.principal
                ));
            }
        }
        let target = invoke::target(lambda, &ctx, &id).map_err(|e| e.message)?;
        invoke::enqueue(lambda, &ctx, &id, target, d.message.clone().into_bytes()).map_err(|e| e.message)
    }

    fn reachable(&self, d: &Delivery) -> bool {
        let lambda = &self.0;
        let ctx = RequestContext {
            account: d.account.clone(),
            region: d.region.clone(),
            request_id: String::new(),
            access_key_id: None,
            endpoint: lambda.endpoint_or("http://127.0.0.1:4566"),
            clock: lambda.clock.clone(),
        };
        let Ok(id) = ident::parse_function(&ctx, &d.target_arn, None) else { return false };
        invoke::target(lambda, &ctx, &id).is_ok() && d.source.as_ref().is_none_or(|s| allows(lambda, &ctx, &id, s))
    }
}

/// Whether the resource policy of the function (or of the version/alias `id` names) lets
/// `source` invoke it.
pub(crate) fn allows(lambda: &Lambda, ctx: &RequestContext, id: &ident::FunctionId, source: &Source) -> bool {
    let qualifier = id.qualifier.clone().unwrap_or_default();
    let store = lambda.store.read();
    store
        .region(&ctx.account, &ctx.region)
        .and_then(|r| r.functions.get(&id.name))
        .and_then(|f| f.policies.get(&qualifier))
        .is_some_and(|p| p.statements.iter().any(|s| grants(s, source)))
}

/// Whether one policy statement lets `source` invoke the function (`lambda:InvokeFunction`
/// for the service principal, with its `AWS:SourceArn` / `AWS:SourceAccount` conditions).
fn grants(statement: &Value, source: &Source) -> bool {
    let action_ok = match &statement["Action"] {
        Value::String(a) => matches!(a.as_str(), "lambda:InvokeFunction" | "lambda:*" | "*"),
        Value::Array(list) => {
            list.iter().any(|a| matches!(a.as_str(), Some("lambda:InvokeFunction" | "lambda:*" | "*")))
        }
        _ => false,
    };
    let principal_ok = statement["Principal"] == "*"
        || statement["Principal"]["Service"] == source.principal.as_str()
        || statement["Principal"]["Service"]
            .as_array()
            .is_some_and(|l| l.iter().any(|p| p == source.principal.as_str()));
    if statement["Effect"] != "Allow" || !action_ok || !principal_ok {
        return false;
    }
    let condition = &statement["Condition"];
    for (operator, key, actual) in [
        ("ArnLike", "AWS:SourceArn", source.source_arn.as_deref()),
        ("ArnEquals", "AWS:SourceArn", source.source_arn.as_deref()),
        ("StringEquals", "AWS:SourceAccount", source.source_account.as_deref()),
    ] {
        let Some(expected) = condition[operator][key].as_str() else { continue };
        let matched = match actual {
            Some(actual) if operator == "ArnLike" => glob_match(expected, actual),
            Some(actual) => expected == actual,
            None => false,
        };
        if !matched {
            return false;
        }
    }
    true
}

/// IAM's `ArnLike`: `*` matches any run of characters, `?` any one.
fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn s3(arn: &str, account: &str) -> Source {
        Source {
            principal: "s3.amazonaws.com".into(),
            source_arn: Some(arn.into()),
            source_account: Some(account.into()),
        }
    }

    #[test]
    fn statements_grant_the_service_principal_under_their_conditions() {
        let statement = json!({
            "Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "lambda:InvokeFunction", "Resource": "arn:aws:lambda:us-east-1:1:function:f",
            "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket-*"},
                          "StringEquals": {"AWS:SourceAccount": "111111111111"}}
        });
        assert!(grants(&statement, &s3("arn:aws:s3:::bucket-1", "111111111111")));
        assert!(!grants(&statement, &s3("arn:aws:s3:::other", "111111111111")));
        assert!(!grants(&statement, &s3("arn:aws:s3:::bucket-1", "222222222222")));
        let sns = Source { principal: "sns.amazonaws.com".into(), source_arn: None, source_account: None };
        assert!(!grants(&statement, &sns));
        assert!(glob_match("a*c?e", "abbbcde"));
        assert!(!glob_match("a*c", "abd"));
    }
}
