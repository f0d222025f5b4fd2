//! Resource policies, evaluated where AWS evaluates them for cross-account calls (SQS queue
//! policies, Lambda function policies): does a statement let this account do this action on
//! this resource? Explicit `Deny` wins; no matching `Allow` means denied.
//!
//! Principals are matched by account (`"*"`, `"123456789012"`, `arn:aws:iam::123456789012:…`);
//! service principals never match an account caller. Conditions are not evaluated: a statement
//! with a `Condition` is taken to apply (nimbus has no request context to test most keys on).

use serde_json::Value;

/// What a policy says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
    /// No statement applies: the caller has no access through this policy.
    NoMatch,
}

fn list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

fn principal_matches(principal: &Value, account: &str) -> bool {
    let names: Vec<&Value> = match principal {
        Value::String(s) if s == "*" => return true,
        Value::Object(map) => map.get("AWS").map(list).unwrap_or_default(),
        other => list(other),
    };
    names.iter().filter_map(|n| n.as_str()).any(|n| {
        n == "*" || n == account || n.strip_prefix("arn:aws:iam::").and_then(|r| r.split(':').next()) == Some(account)
    })
}

/// `pattern` with `*` and `?` wildcards, case-insensitive (action names are).
pub fn wildcard(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

/// Evaluate a policy document (JSON text or value) for `account` doing `action`
/// (`sqs:SendMessage`) on `resource` (an ARN).
pub fn evaluate(policy: &Value, account: &str, action: &str, resource: &str) -> Decision {
    let parsed;
    let policy = match policy {
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(v) => {
                parsed = v;
                &parsed
            }
            Err(_) => return Decision::NoMatch,
        },
        other => other,
    };
    let mut decision = Decision::NoMatch;
    for statement in list(&policy["Statement"]) {
        if !principal_matches(&statement["Principal"], account) {
            continue;
        }
        let actions = list(&statement["Action"]);
        if !actions.iter().filter_map(|a| a.as_str()).any(|a| wildcard(a, action)) {
            continue;
        }
        let resources = list(&statement["Resource"]);
        if !resources.is_empty() && !resources.iter().filter_map(|r| r.as_str()).any(|r| wildcard(r, resource)) {
            continue;
        }
        match statement["Effect"].as_str() {
            Some("Deny") => return Decision::Deny,
            Some("Allow") => decision = Decision::Allow,
            _ => {}
        }
    }
    decision
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn allows_only_named_accounts_and_actions_and_deny_wins() {
        let arn = "arn:aws:sqs:us-east-1:111111111111:q";
        let policy = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"}, "Action": "sqs:SendMessage", "Resource": arn},
            {"Effect": "Allow", "Principal": {"AWS": ["333333333333"]}, "Action": ["sqs:*"]},
            {"Effect": "Deny", "Principal": "*", "Action": "sqs:PurgeQueue", "Resource": "*"},
        ]})
        .to_string();
        let policy = Value::String(policy);
        assert_eq!(evaluate(&policy, "222222222222", "sqs:SendMessage", arn), Decision::Allow);
        assert_eq!(evaluate(&policy, "222222222222", "sqs:ReceiveMessage", arn), Decision::NoMatch);
        assert_eq!(evaluate(&policy, "333333333333", "sqs:receivemessage", arn), Decision::Allow);
        assert_eq!(evaluate(&policy, "333333333333", "sqs:PurgeQueue", arn), Decision::Deny);
        assert_eq!(evaluate(&policy, "444444444444", "sqs:SendMessage", arn), Decision::NoMatch);
        assert_eq!(
            evaluate(
                &json!({"Statement": {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage"}}),
                "444444444444",
                "sqs:SendMessage",
                arn
            ),
            Decision::NoMatch
        );
    }
}
