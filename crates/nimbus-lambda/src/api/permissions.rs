//! Function resource policies: AddPermission, RemovePermission, GetPolicy (one statement at a
//! time) and PutResourcePolicy, GetResourcePolicy, DeleteResourcePolicy (the whole document).
//!
//! A function has one policy per qualifier: the unqualified function (`$LATEST`), each published
//! version and each alias. As on AWS, a policy carries no revision of its own: `GetPolicy` answers
//! the RevisionId of the version or alias it belongs to, and adding or removing a statement gives
//! that version or alias a new RevisionId (so `RevisionId` preconditions compare against it).

use std::sync::LazyLock;

use nimbus_core::RequestContext;
use regex::Regex;
use serde_json::{json, Map, Value};

use super::functions::function_id;
use super::new_revision;
use crate::error::{self, Result};
use crate::ident::{self, FunctionId};
use crate::state::{Function, Policy};
use crate::{member_str, Lambda};

static IAM_ARN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^arn:aws[a-zA-Z-]*:iam::\d{12}:\S+$").expect("valid regex"));
static SERVICE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9][a-z0-9.-]*\.(amazonaws\.com|amazonaws\.com\.cn|amazon\.com)$").expect("valid regex")
});

/// Render a principal as AWS writes it in a policy statement: `*` stays a bare string, an account
/// id becomes its root ARN, IAM ARNs and service principals are wrapped.
pub fn principal(raw: &str) -> Result<Value> {
    if raw == "*" {
        return Ok(json!("*"));
    }
    if raw.len() == 12 && raw.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(json!({"AWS": format!("arn:aws:iam::{raw}:root")}));
    }
    if IAM_ARN.is_match(raw) {
        return Ok(json!({"AWS": raw}));
    }
    if SERVICE.is_match(raw) {
        return Ok(json!({"Service": raw}));
    }
    Err(error::invalid_parameter("The provided principal was invalid. Please check the principal and try again."))
}

/// The policy document AWS returns: `{"Version", "Id", "Statement"}`, compact JSON.
pub fn document(statements: &[Value]) -> String {
    json!({"Version": "2012-10-17", "Id": "default", "Statement": statements}).to_string()
}

/// The key a qualifier's policy is kept under: `""` for the unqualified function and `$LATEST`.
fn policy_key(id: &FunctionId) -> String {
    match id.qualifier.as_deref() {
        None | Some("$LATEST") => String::new(),
        Some(q) => q.to_string(),
    }
}

/// The RevisionId of what a policy key names: `$LATEST`, a version or an alias.
fn revision_of<'a>(function: &'a Function, key: &str) -> Option<&'a str> {
    if key.is_empty() {
        Some(&function.latest.config.revision_id)
    } else if ident::is_version(key) {
        function.versions.get(&key.parse().ok()?).map(|v| v.config.revision_id.as_str())
    } else {
        function.aliases.get(key).map(|a| a.revision_id.as_str())
    }
}

/// Give what a policy key names a new RevisionId (AWS does on every policy change); returns it.
fn bump_revision(function: &mut Function, key: &str) -> String {
    let revision = new_revision();
    let slot = if key.is_empty() {
        Some(&mut function.latest.config.revision_id)
    } else if ident::is_version(key) {
        key.parse().ok().and_then(|n| function.versions.get_mut(&n)).map(|v| &mut v.config.revision_id)
    } else {
        function.aliases.get_mut(key).map(|a| &mut a.revision_id)
    };
    if let Some(slot) = slot {
        slot.clone_from(&revision);
    }
    revision
}

/// Check that a qualifier names an existing version or alias, with AWS's messages.
fn check_qualifier(ctx: &RequestContext, function: &Function, id: &FunctionId) -> Result<()> {
    match id.qualifier.as_deref() {
        None => Ok(()),
        Some(q) if ident::is_version(q) || q == "$LATEST" => {
            if function.has_qualifier(q) {
                Ok(())
            } else {
                Err(error::function_not_found(&ident::qualified_arn(ctx, &id.name, Some(q))))
            }
        }
        Some(alias) if function.aliases.contains_key(alias) => Ok(()),
        // Matches the qualifier pattern but can be neither an alias nor a version.
        Some(other) if other.contains('$') => {
            Err(error::function_not_found(&ident::qualified_arn(ctx, &id.name, Some(other))))
        }
        Some(alias) => Err(error::not_found(format!(
            "Cannot find alias arn: {}",
            ident::qualified_arn(ctx, &id.name, Some(alias))
        ))),
    }
}

/// The statement AddPermission adds, keys in AWS's order: Sid, Effect, Principal, Action,
/// Resource, Condition (StringEquals before ArnLike).
fn statement(input: &Value, sid: &str, resource: &str) -> Result<Value> {
    let mut statement = Map::new();
    statement.insert("Sid".into(), json!(sid));
    statement.insert("Effect".into(), json!("Allow"));
    statement.insert("Principal".into(), principal(member_str(input, "Principal").unwrap_or_default())?);
    statement.insert("Action".into(), json!(member_str(input, "Action").unwrap_or_default()));
    statement.insert("Resource".into(), json!(resource));
    let mut string_equals = Map::new();
    for (member, key) in [
        ("FunctionUrlAuthType", "lambda:FunctionUrlAuthType"),
        ("PrincipalOrgID", "aws:PrincipalOrgID"),
        ("SourceAccount", "AWS:SourceAccount"),
        ("EventSourceToken", "lambda:EventSourceToken"),
    ] {
        if let Some(value) = member_str(input, member) {
            string_equals.insert(key.into(), json!(value));
        }
    }
    let mut condition = Map::new();
    if !string_equals.is_empty() {
        condition.insert("StringEquals".into(), Value::Object(string_equals));
    }
    if let Some(source) = member_str(input, "SourceArn") {
        condition.insert("ArnLike".into(), json!({"AWS:SourceArn": source}));
    }
    if !condition.is_empty() {
        statement.insert("Condition".into(), Value::Object(condition));
    }
    Ok(Value::Object(statement))
}

fn duplicate_sid(sid: &str) -> nimbus_core::AwsError {
    error::conflict(format!(
        "The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."
    ))
}

fn has_sid(policy: &Policy, sid: &str) -> bool {
    policy.statements.iter().any(|s| s["Sid"] == sid)
}

pub fn add_permission(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    if id.qualifier.as_deref() == Some("$LATEST") {
        return Err(error::invalid_parameter("We currently do not support adding policies for $LATEST."));
    }
    let sid = member_str(input, "StatementId").unwrap_or_default();
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = region
        .functions
        .get_mut(&id.name)
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    check_qualifier(ctx, function, &id)?;
    let key = policy_key(&id);
    if let Some(expected) = member_str(input, "RevisionId") {
        if revision_of(function, &key) != Some(expected) {
            return Err(error::revision_mismatch());
        }
    }
    if function.policies.get(&key).is_some_and(|p| has_sid(p, sid)) {
        return Err(duplicate_sid(sid));
    }
    let statement = statement(input, sid, &ident::qualified_arn(ctx, &id.name, id.qualifier.as_deref()))?;
    let revision = bump_revision(function, &key);
    let policy = function.policies.entry(key).or_default();
    policy.statements.push(statement.clone());
    policy.revision_id = revision;
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(json!({"Statement": statement.to_string()}))
}

pub fn remove_permission(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let sid = member_str(input, "StatementId").unwrap_or_default();
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = region
        .functions
        .get_mut(&id.name)
        .ok_or_else(|| error::not_found(format!("No policy found for: {}", ident::function_arn(ctx, &id.name))))?;
    check_qualifier(ctx, function, &id)?;
    let key = policy_key(&id);
    let Some(policy) = function.policies.get(&key) else {
        return Err(error::not_found("No policy is associated with the given resource."));
    };
    if !has_sid(policy, sid) {
        return Err(error::not_found(format!("Statement {sid} is not found in resource policy.")));
    }
    if let Some(expected) = member_str(input, "RevisionId") {
        if revision_of(function, &key) != Some(expected) {
            return Err(error::revision_mismatch());
        }
    }
    let revision = bump_revision(function, &key);
    let policy = function.policies.get_mut(&key).expect("checked above");
    policy.statements.retain(|s| s["Sid"] != sid);
    policy.revision_id = revision;
    if policy.statements.is_empty() {
        function.policies.remove(&key);
    }
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(Value::Null)
}

pub fn get_policy(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let store = lambda.store.read();
    let function = store
        .region(&ctx.account, &ctx.region)
        .and_then(|r| r.functions.get(&id.name))
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    let key = policy_key(&id);
    // A missing version or alias has no policy either: AWS answers the same.
    let policy = function
        .policies
        .get(&key)
        .filter(|p| !p.statements.is_empty())
        .ok_or_else(|| error::not_found("The resource you requested does not exist."))?;
    let revision = revision_of(function, &key).unwrap_or(&policy.revision_id);
    Ok(json!({"Policy": document(&policy.statements), "RevisionId": revision}))
}

/// The function (and qualifier) a resource-policy operation's `ResourceArn` names.
fn resource_id(ctx: &RequestContext, input: &Value) -> Result<FunctionId> {
    ident::parse_function(ctx, member_str(input, "ResourceArn").unwrap_or_default(), None)
}

/// Whether a statement lets anyone in: an `Allow` for the principal `*` with no condition.
fn grants_public_access(statement: &Value) -> bool {
    let wildcard = |v: &Value| match v {
        Value::String(s) => s == "*",
        Value::Array(items) => items.iter().any(|i| i == "*"),
        _ => false,
    };
    let principal = &statement["Principal"];
    let public = wildcard(principal) || principal.get("AWS").is_some_and(wildcard);
    statement["Effect"] == "Allow"
        && public
        && statement.get("Condition").is_none_or(|c| c.as_object().is_none_or(Map::is_empty))
}

/// The statements of a policy document as PutResourcePolicy receives it.
fn statements_of(policy: &str) -> Result<Vec<Value>> {
    let invalid = || error::invalid_parameter("The policy document is not valid JSON or is missing Statement.");
    let document: Value = serde_json::from_str(policy).map_err(|_| invalid())?;
    let statements = match document.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(item @ Value::Object(_)) => vec![item.clone()],
        _ => return Err(invalid()),
    };
    if statements.iter().any(|s| !s.is_object() || !matches!(s["Effect"].as_str(), Some("Allow" | "Deny"))) {
        return Err(invalid());
    }
    if statements.iter().any(grants_public_access) {
        return Err(nimbus_core::AwsError::new(
            400,
            "PublicPolicyException",
            "The resource-based policy you tried to add to the Lambda resource would grant public access to it, which isn't allowed.",
        ));
    }
    Ok(statements)
}

/// PutResourcePolicy: replace the whole policy of a function, version or alias (statements
/// added with AddPermission included). The RevisionId is the one GetPolicy answers.
pub fn put_resource_policy(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = resource_id(ctx, input)?;
    let statements = statements_of(member_str(input, "Policy").unwrap_or_default())?;
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = region
        .functions
        .get_mut(&id.name)
        .ok_or_else(|| error::function_not_found(&ident::qualified_arn(ctx, &id.name, id.qualifier.as_deref())))?;
    check_qualifier(ctx, function, &id)?;
    let key = policy_key(&id);
    if let Some(expected) = member_str(input, "RevisionId") {
        if revision_of(function, &key) != Some(expected) {
            return Err(error::revision_mismatch());
        }
    }
    let revision = bump_revision(function, &key);
    let policy = function.policies.entry(key).or_default();
    policy.statements = statements;
    policy.revision_id.clone_from(&revision);
    let document = document(&policy.statements);
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(json!({"Policy": document, "RevisionId": revision}))
}

/// GetResourcePolicy: GetPolicy addressed by ARN.
pub fn get_resource_policy(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = resource_id(ctx, input)?;
    get_policy(lambda, ctx, &json!({"FunctionName": id.name, "Qualifier": id.qualifier}))
}

/// DeleteResourcePolicy: remove every statement of a function's, version's or alias's policy.
pub fn delete_resource_policy(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = resource_id(ctx, input)?;
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = region
        .functions
        .get_mut(&id.name)
        .ok_or_else(|| error::function_not_found(&ident::qualified_arn(ctx, &id.name, id.qualifier.as_deref())))?;
    check_qualifier(ctx, function, &id)?;
    let key = policy_key(&id);
    if !function.policies.get(&key).is_some_and(|p| !p.statements.is_empty()) {
        return Err(error::not_found("No policy is associated with the given resource."));
    }
    if let Some(expected) = member_str(input, "RevisionId") {
        if revision_of(function, &key) != Some(expected) {
            return Err(error::revision_mismatch());
        }
    }
    bump_revision(function, &key);
    function.policies.remove(&key);
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(Value::Null)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use base64::Engine;
    use nimbus_core::clock::Clock;

    /// Shared by the tests of the layers, tags and account modules too.
    pub(crate) fn lambda() -> Lambda {
        Lambda::open(None, crate::invoke::Settings::default(), None, Clock::new()).expect("in-memory Lambda opens")
    }

    pub(crate) fn ctx() -> RequestContext {
        ctx_in("123456789012", "us-east-1")
    }

    pub(crate) fn ctx_in(account: &str, region: &str) -> RequestContext {
        RequestContext {
            account: account.into(),
            region: region.into(),
            request_id: "r".into(),
            access_key_id: None,
            endpoint: "http://localhost:4566".into(),
            clock: Clock::new(),
        }
    }

    pub(crate) fn zip_b64(body: &[u8]) -> String {
        let zip = crate::code::tests::zip_with(&[("index.py", body)]);
        base64::engine::general_purpose::STANDARD.encode(zip)
    }

    pub(crate) fn create(lambda: &Lambda, ctx: &RequestContext, name: &str) -> Value {
        crate::api::functions::create_function(
            lambda,
            ctx,
            &json!({
                "FunctionName": name,
                "Runtime": "python3.12",
                "Role": "arn:aws:iam::123456789012:role/r",
                "Handler": "index.handler",
                "Code": {"ZipFile": zip_b64(b"def handler(e, c):\n    return e\n")},
            }),
        )
        .expect("function created")
    }

    fn function_revision(lambda: &Lambda, ctx: &RequestContext, name: &str) -> String {
        let store = lambda.store.read();
        store.region(&ctx.account, &ctx.region).unwrap().functions[name].latest.config.revision_id.clone()
    }

    fn add(lambda: &Lambda, ctx: &RequestContext, input: Value) -> Result<Value> {
        add_permission(lambda, ctx, &input)
    }

    fn parsed_statement(out: &Value) -> Value {
        serde_json::from_str(out["Statement"].as_str().expect("Statement is a JSON string")).unwrap()
    }

    #[test]
    fn principals_render_as_aws_writes_them() {
        assert_eq!(principal("*").unwrap(), json!("*"));
        assert_eq!(principal("111122223333").unwrap(), json!({"AWS": "arn:aws:iam::111122223333:root"}));
        assert_eq!(
            principal("arn:aws:iam::111122223333:role/caller").unwrap(),
            json!({"AWS": "arn:aws:iam::111122223333:role/caller"})
        );
        assert_eq!(principal("s3.amazonaws.com").unwrap(), json!({"Service": "s3.amazonaws.com"}));
        assert_eq!(principal("alexa-appkit.amazon.com").unwrap(), json!({"Service": "alexa-appkit.amazon.com"}));
        for bad in ["invalid", "12345", "example.com", "arn:aws:s3:::bucket"] {
            let err = principal(bad).unwrap_err();
            assert_eq!(err.code, "InvalidParameterValueException", "{bad}");
            assert_eq!(err.message, "The provided principal was invalid. Please check the principal and try again.");
        }
    }

    #[test]
    fn statement_keys_and_conditions_follow_aws() {
        let (l, c) = (lambda(), ctx());
        create(&l, &c, "f");
        let out = add(
            &l,
            &c,
            json!({
                "FunctionName": "f", "StatementId": "all", "Action": "lambda:InvokeFunctionUrl", "Principal": "*",
                "FunctionUrlAuthType": "NONE", "PrincipalOrgID": "o-1234567890", "SourceAccount": "111111111111",
                "SourceArn": "arn:aws:s3:::bucket",
            }),
        )
        .unwrap();
        let raw = out["Statement"].as_str().unwrap();
        assert_eq!(
            raw,
            r#"{"Sid":"all","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunctionUrl","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","Condition":{"StringEquals":{"lambda:FunctionUrlAuthType":"NONE","aws:PrincipalOrgID":"o-1234567890","AWS:SourceAccount":"111111111111"},"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::bucket"}}}"#
        );
        let token = add(
            &l,
            &c,
            json!({"FunctionName": "f", "StatementId": "alexa", "Action": "lambda:InvokeFunction",
                   "Principal": "alexa-appkit.amazon.com", "EventSourceToken": "amzn1.ask.skill.x"}),
        )
        .unwrap();
        assert_eq!(
            parsed_statement(&token)["Condition"],
            json!({"StringEquals": {"lambda:EventSourceToken": "amzn1.ask.skill.x"}})
        );
        let plain = add(
            &l,
            &c,
            json!({"FunctionName": "f", "StatementId": "s3", "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com"}),
        )
        .unwrap();
        assert!(parsed_statement(&plain).get("Condition").is_none());
    }

    #[test]
    fn policy_document_lifecycle() {
        let (l, c) = (lambda(), ctx());
        create(&l, &c, "f");
        let missing = get_policy(&l, &c, &json!({"FunctionName": "f"})).unwrap_err();
        assert_eq!((missing.status, missing.message.as_str()), (404, "The resource you requested does not exist."));
        for (sid, p) in [("s3", "s3.amazonaws.com"), ("sqs", "sqs.amazonaws.com")] {
            add(
                &l,
                &c,
                json!({"FunctionName": "f", "StatementId": sid, "Action": "lambda:InvokeFunction", "Principal": p}),
            )
            .unwrap();
        }
        let got = get_policy(&l, &c, &json!({"FunctionName": "f"})).unwrap();
        let doc: Value = serde_json::from_str(got["Policy"].as_str().unwrap()).unwrap();
        assert_eq!(doc["Version"], "2012-10-17");
        assert_eq!(doc["Id"], "default");
        let sids: Vec<&str> = doc["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].as_str().unwrap()).collect();
        assert_eq!(sids, ["s3", "sqs"]);
        // The policy's revision is the function's.
        assert_eq!(got["RevisionId"], function_revision(&l, &c, "f"));
        // $LATEST names the same policy.
        assert!(get_policy(&l, &c, &json!({"FunctionName": "f", "Qualifier": "$LATEST"})).is_ok());

        let dup = add(
            &l,
            &c,
            json!({"FunctionName": "f", "StatementId": "s3", "Action": "lambda:InvokeFunction", "Principal": "*"}),
        )
        .unwrap_err();
        assert_eq!(dup.status, 409);
        assert_eq!(
            dup.message,
            "The statement id (s3) provided already exists. Please provide a new statement id, or remove the existing statement."
        );

        let gone = remove_permission(&l, &c, &json!({"FunctionName": "f", "StatementId": "non-existent"})).unwrap_err();
        assert_eq!(
            (gone.status, gone.message.as_str()),
            (404, "Statement non-existent is not found in resource policy.")
        );
        remove_permission(&l, &c, &json!({"FunctionName": "f", "StatementId": "sqs"})).unwrap();
        remove_permission(&l, &c, &json!({"FunctionName": "f", "StatementId": "s3"})).unwrap();
        assert_eq!(get_policy(&l, &c, &json!({"FunctionName": "f"})).unwrap_err().status, 404);
        let none = remove_permission(&l, &c, &json!({"FunctionName": "f", "StatementId": "s3"})).unwrap_err();
        assert_eq!(none.message, "No policy is associated with the given resource.");
    }

    #[test]
    fn revisions_change_with_the_policy_and_guard_it() {
        let (l, c) = (lambda(), ctx());
        create(&l, &c, "f");
        let rev1 = function_revision(&l, &c, "f");
        let input = json!({"FunctionName": "f", "StatementId": "s3", "Action": "lambda:InvokeFunction",
                           "Principal": "s3.amazonaws.com", "RevisionId": "wrong"});
        let err = add(&l, &c, input.clone()).unwrap_err();
        assert_eq!((err.status, err.code.as_str()), (412, "PreconditionFailedException"));
        let mut ok = input;
        ok["RevisionId"] = json!(rev1);
        add(&l, &c, ok).unwrap();
        let rev2 = function_revision(&l, &c, "f");
        assert_ne!(rev1, rev2);
        assert_eq!(get_policy(&l, &c, &json!({"FunctionName": "f"})).unwrap()["RevisionId"], rev2);
        let err = remove_permission(&l, &c, &json!({"FunctionName": "f", "StatementId": "s3", "RevisionId": rev1}))
            .unwrap_err();
        assert_eq!(err.status, 412);
        remove_permission(&l, &c, &json!({"FunctionName": "f", "StatementId": "s3", "RevisionId": rev2})).unwrap();
        assert_ne!(function_revision(&l, &c, "f"), rev2);
    }

    #[test]
    fn qualifiers_have_their_own_policies() {
        let (l, c) = (lambda(), ctx());
        create(&l, &c, "f");
        crate::api::versions::publish_version(&l, &c, &json!({"FunctionName": "f"})).unwrap();
        crate::api::aliases::create_alias(
            &l,
            &c,
            &json!({"FunctionName": "f", "Name": "live", "FunctionVersion": "1"}),
        )
        .unwrap();
        add(
            &l,
            &c,
            json!({"FunctionName": "f", "StatementId": "fn", "Action": "lambda:InvokeFunction", "Principal": "*"}),
        )
        .unwrap();
        // The unqualified policy is not the version's.
        assert_eq!(get_policy(&l, &c, &json!({"FunctionName": "f", "Qualifier": "1"})).unwrap_err().status, 404);
        let v = add(
            &l,
            &c,
            json!({"FunctionName": "f", "Qualifier": "1", "StatementId": "fn", "Action": "lambda:InvokeFunction", "Principal": "*"}),
        )
        .unwrap();
        assert_eq!(parsed_statement(&v)["Resource"], "arn:aws:lambda:us-east-1:123456789012:function:f:1");
        let a = add(
            &l,
            &c,
            json!({"FunctionName": "f:live", "StatementId": "fn", "Action": "lambda:InvokeFunction", "Principal": "*"}),
        )
        .unwrap();
        assert_eq!(parsed_statement(&a)["Resource"], "arn:aws:lambda:us-east-1:123456789012:function:f:live");
        let alias_policy = get_policy(&l, &c, &json!({"FunctionName": "f", "Qualifier": "live"})).unwrap();
        let alias_rev =
            l.store.read().region(&c.account, &c.region).unwrap().functions["f"].aliases["live"].revision_id.clone();
        assert_eq!(alias_policy["RevisionId"], alias_rev);
    }

    #[test]
    fn missing_things_answer_as_aws() {
        let (l, c) = (lambda(), ctx());
        let base = json!({"StatementId": "s", "Action": "lambda:InvokeFunction", "Principal": "*"});
        let with = |extra: Value| {
            let mut input = base.clone();
            input.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            input
        };
        let err = add(&l, &c, with(json!({"FunctionName": "nope"}))).unwrap_err();
        assert_eq!(err.message, "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope");
        let err = get_policy(&l, &c, &json!({"FunctionName": "nope"})).unwrap_err();
        assert_eq!(err.message, "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope");
        let err = remove_permission(&l, &c, &json!({"FunctionName": "nope", "StatementId": "s"})).unwrap_err();
        assert_eq!(err.message, "No policy found for: arn:aws:lambda:us-east-1:123456789012:function:nope");

        create(&l, &c, "f");
        let err = add(&l, &c, with(json!({"FunctionName": "f", "Qualifier": "$LATEST"}))).unwrap_err();
        assert_eq!(err.message, "We currently do not support adding policies for $LATEST.");
        let err = add(&l, &c, with(json!({"FunctionName": "f", "Qualifier": "42"}))).unwrap_err();
        assert_eq!(err.message, "Function not found: arn:aws:lambda:us-east-1:123456789012:function:f:42");
        let err = add(&l, &c, with(json!({"FunctionName": "f", "Qualifier": "alias-doesnotexist"}))).unwrap_err();
        assert_eq!(
            err.message,
            "Cannot find alias arn: arn:aws:lambda:us-east-1:123456789012:function:f:alias-doesnotexist"
        );
        let err =
            add(&l, &c, with(json!({"FunctionName": "f", "Qualifier": "valid-with-$-but-doesnotexist"}))).unwrap_err();
        assert_eq!(
            err.message,
            "Function not found: arn:aws:lambda:us-east-1:123456789012:function:f:valid-with-$-but-doesnotexist"
        );
        let err = remove_permission(
            &l,
            &c,
            &json!({"FunctionName": "f", "Qualifier": "alias-doesnotexist", "StatementId": "s"}),
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "Cannot find alias arn: arn:aws:lambda:us-east-1:123456789012:function:f:alias-doesnotexist"
        );
        let err = add(&l, &c, with(json!({"FunctionName": "f", "Principal": "nobody"}))).unwrap_err();
        assert_eq!(err.code, "InvalidParameterValueException");
    }

    #[test]
    fn resource_policies_replace_read_and_delete_the_whole_document() {
        let (l, c) = (lambda(), ctx());
        create(&l, &c, "f");
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:f";
        add(&l, &c, json!({"FunctionName": "f", "StatementId": "s3", "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com"})).unwrap();
        let before = get_policy(&l, &c, &json!({"FunctionName": "f"})).unwrap();
        let got = get_resource_policy(&l, &c, &json!({"ResourceArn": arn})).unwrap();
        assert_eq!(got, before);

        let doc = json!({"Version": "2012-10-17", "Statement": [{"Sid": "acct", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "lambda:InvokeFunction", "Resource": arn}]});
        let stale = put_resource_policy(
            &l,
            &c,
            &json!({"ResourceArn": arn, "Policy": doc.to_string(),
            "RevisionId": "00000000-0000-0000-0000-000000000000"}),
        )
        .unwrap_err();
        assert_eq!(stale.code, "PreconditionFailedException");
        let put = put_resource_policy(
            &l,
            &c,
            &json!({"ResourceArn": arn, "Policy": doc.to_string(),
            "RevisionId": before["RevisionId"]}),
        )
        .unwrap();
        assert_ne!(put["RevisionId"], before["RevisionId"]);
        // The AddPermission statement is gone; GetPolicy and GetFunction agree on the revision.
        let after = get_policy(&l, &c, &json!({"FunctionName": "f"})).unwrap();
        assert_eq!(after["Policy"], put["Policy"]);
        assert_eq!(after["RevisionId"], put["RevisionId"]);
        assert_eq!(function_revision(&l, &c, "f"), put["RevisionId"].as_str().unwrap());
        let statements: Value = serde_json::from_str(after["Policy"].as_str().unwrap()).unwrap();
        assert_eq!(statements["Statement"].as_array().unwrap().len(), 1);
        assert_eq!(statements["Statement"][0]["Sid"], "acct");
        // RemovePermission sees the statement PutResourcePolicy wrote.
        remove_permission(&l, &c, &json!({"FunctionName": "f", "StatementId": "acct"})).unwrap();
        assert_eq!(
            get_resource_policy(&l, &c, &json!({"ResourceArn": arn})).unwrap_err().code,
            "ResourceNotFoundException"
        );

        let public = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction", "Resource": arn}]});
        let err = put_resource_policy(&l, &c, &json!({"ResourceArn": arn, "Policy": public.to_string()})).unwrap_err();
        assert_eq!((err.status, err.code.as_str()), (400, "PublicPolicyException"));
        let err = put_resource_policy(&l, &c, &json!({"ResourceArn": arn, "Policy": "not json"})).unwrap_err();
        assert_eq!(err.code, "InvalidParameterValueException");

        put_resource_policy(&l, &c, &json!({"ResourceArn": arn, "Policy": doc.to_string()})).unwrap();
        delete_resource_policy(&l, &c, &json!({"ResourceArn": arn})).unwrap();
        let err = delete_resource_policy(&l, &c, &json!({"ResourceArn": arn})).unwrap_err();
        assert_eq!((err.status, err.message.as_str()), (404, "No policy is associated with the given resource."));
        let err = put_resource_policy(&l, &c, &json!({"ResourceArn": format!("{arn}:9"), "Policy": doc.to_string()}))
            .unwrap_err();
        assert_eq!(err.message, format!("Function not found: {arn}:9"));
        let err =
            get_resource_policy(&l, &c, &json!({"ResourceArn": "arn:aws:lambda:us-east-1:123456789012:function:nope"}))
                .unwrap_err();
        assert_eq!(err.code, "ResourceNotFoundException");
    }
}
