//! Repositories: name, settings (tag mutability, scan on push, encryption), tags, lifecycle
//! policy and repository policy, one journal record per repository keyed
//! `<registry>|<region>|<name>`. The registry id is the caller's account unless a request names
//! another (`registryId`). No repository ever holds an image: nimbus serves no Docker registry.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use nimbus_core::clock::Clock;
use nimbus_core::crypto::KeyService;
use nimbus_core::members::{str_of, tags_json, tags_of, KEY_VALUE};
use nimbus_core::state::{Keyed, Store};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::errors::*;

/// The key AWS uses for `KMS` encryption when a repository names none.
pub const DEFAULT_KEY: &str = "alias/aws/ecr";
const MAX_TAGS: usize = 50;
const DEFAULT_PAGE: usize = 100;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Repository {
    pub name: String,
    pub registry: String,
    pub region: String,
    /// Epoch seconds.
    pub created: f64,
    pub tag_mutability: String,
    pub mutability_exclusions: Option<Value>,
    pub scan_on_push: bool,
    pub encryption_type: String,
    /// The key ARN, for `KMS` and `KMS_DSSE`.
    pub kms_key: Option<String>,
    pub tags: Vec<(String, String)>,
    pub lifecycle_policy: Option<String>,
    pub repository_policy: Option<String>,
}

impl Repository {
    pub fn arn(&self) -> String {
        format!("arn:aws:ecr:{}:{}:repository/{}", self.region, self.registry, self.name)
    }

    pub fn uri(&self) -> String {
        format!("{}.dkr.ecr.{}.amazonaws.com/{}", self.registry, self.region, self.name)
    }

    pub fn to_json(&self) -> Value {
        let mut encryption = json!({"encryptionType": self.encryption_type});
        if let Some(k) = &self.kms_key {
            encryption["kmsKey"] = json!(k);
        }
        let mut out = json!({
            "repositoryArn": self.arn(),
            "registryId": self.registry,
            "repositoryName": self.name,
            "repositoryUri": self.uri(),
            "createdAt": self.created,
            "imageTagMutability": self.tag_mutability,
            "imageScanningConfiguration": {"scanOnPush": self.scan_on_push},
            "encryptionConfiguration": encryption,
        });
        if let Some(f) = &self.mutability_exclusions {
            out["imageTagMutabilityExclusionFilters"] = f.clone();
        }
        out
    }
}

/// Repositories by `<registry>|<region>|<name>`.
pub type Db = Keyed<Repository>;

#[derive(Debug, Clone)]
pub struct Ctx {
    pub account: String,
    pub region: String,
    pub now: f64,
}

impl Ctx {
    /// The registry a request addresses: its `registryId`, or the caller's account.
    pub fn registry(&self, input: &Value) -> String {
        str_of(input, "registryId").map_or_else(|| self.account.clone(), String::from)
    }

    fn key(&self, registry: &str, name: &str) -> String {
        format!("{registry}|{}|{name}", self.region)
    }

    fn prefix(&self, registry: &str) -> String {
        format!("{registry}|{}|", self.region)
    }
}

pub struct Ecr {
    store: Store<Db>,
    clock: Clock,
    keys: Option<Arc<dyn KeyService>>,
}

fn check_tags(tags: &[(String, String)]) -> Result<()> {
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || k.to_ascii_lowercase().starts_with("aws:") {
            return Err(error("InvalidTagParameterException", "Invalid parameter at 'tags' failed to satisfy constraint: 'Tag keys must be between 1 and 128 characters and must not begin with aws:'"));
        }
        if v.chars().count() > 256 {
            return Err(error(
                "InvalidTagParameterException",
                "Invalid parameter at 'tags' failed to satisfy constraint: 'Tag values must be at most 256 characters'",
            ));
        }
    }
    Ok(())
}

/// Merge `new` into `tags` (a key given again takes the new value).
fn merge_tags(tags: &mut Vec<(String, String)>, new: Vec<(String, String)>) {
    for (k, v) in new {
        match tags.iter_mut().find(|(key, _)| *key == k) {
            Some(t) => t.1 = v,
            None => tags.push((k, v)),
        }
    }
}

fn check_mutability(mutability: &str, filters: Option<&Value>) -> Result<()> {
    let with_exclusion = mutability.ends_with("_WITH_EXCLUSION");
    match (with_exclusion, filters) {
        (true, None) => Err(invalid_parameter(
            "imageTagMutabilityExclusionFilters",
            &format!("imageTagMutabilityExclusionFilters must be specified when imageTagMutability is {mutability}"),
        )),
        (false, Some(_)) => Err(invalid_parameter(
            "imageTagMutabilityExclusionFilters",
            &format!("imageTagMutabilityExclusionFilters cannot be specified when imageTagMutability is {mutability}"),
        )),
        _ => Ok(()),
    }
}

/// A lifecycle policy as ECR accepts it: `{"rules": [...]}`, each rule with a unique
/// `rulePriority`, a `selection` (`tagStatus`, `countType`, `countNumber`) and an `expire` action.
pub fn check_lifecycle_policy(text: &str) -> Result<()> {
    let fail =
        |why: &str| invalid_parameter("LifecyclePolicyText", &format!("Lifecycle policy validation failure: {why}"));
    let doc: Value = serde_json::from_str(text).map_err(|_| fail("the policy is not valid JSON"))?;
    let rules = doc
        .get("rules")
        .and_then(Value::as_array)
        .ok_or_else(|| fail("object has missing required properties ([\"rules\"])"))?;
    if rules.is_empty() {
        return Err(fail("array is too short: must have at least 1 elements but instance has 0 elements"));
    }
    let mut priorities = Vec::new();
    for rule in rules {
        let priority = rule
            .get("rulePriority")
            .and_then(Value::as_u64)
            .ok_or_else(|| fail("rulePriority must be a positive integer"))?;
        if priority == 0 || priorities.contains(&priority) {
            return Err(fail("rulePriority must be a unique positive integer"));
        }
        priorities.push(priority);
        let sel =
            rule.get("selection").ok_or_else(|| fail("object has missing required properties ([\"selection\"])"))?;
        let status = sel.get("tagStatus").and_then(Value::as_str).unwrap_or_default();
        if !["tagged", "untagged", "any"].contains(&status) {
            return Err(fail("tagStatus must be one of tagged, untagged, any"));
        }
        if status == "tagged"
            && sel.get("tagPrefixList").and_then(Value::as_array).is_none_or(Vec::is_empty)
            && sel.get("tagPatternList").and_then(Value::as_array).is_none_or(Vec::is_empty)
        {
            return Err(fail("tagPrefixList or tagPatternList is required when tagStatus is tagged"));
        }
        let count_type = sel.get("countType").and_then(Value::as_str).unwrap_or_default();
        match count_type {
            "imageCountMoreThan" => {}
            "sinceImagePushed" => {
                if sel.get("countUnit").and_then(Value::as_str) != Some("days") {
                    return Err(fail("countUnit must be days when countType is sinceImagePushed"));
                }
            }
            _ => return Err(fail("countType must be one of imageCountMoreThan, sinceImagePushed")),
        }
        if sel.get("countNumber").and_then(Value::as_u64).is_none_or(|n| n == 0) {
            return Err(fail("countNumber must be a positive integer"));
        }
        if rule.pointer("/action/type").and_then(Value::as_str) != Some("expire") {
            return Err(fail("action type must be expire"));
        }
    }
    Ok(())
}

fn check_repository_policy(text: &str) -> Result<()> {
    let ok = serde_json::from_str::<Value>(text).is_ok_and(|v| v.get("Statement").is_some());
    if ok {
        Ok(())
    } else {
        Err(invalid_parameter("PolicyText", "Invalid repository policy provided"))
    }
}

/// `arn:aws:ecr:<region>:<registry>:repository/<name>` → (region, registry, name).
fn parse_arn(arn: &str) -> Result<(String, String, String)> {
    let invalid = || invalid_parameter("resourceArn", "Invalid ARN");
    let rest = arn.strip_prefix("arn:aws:ecr:").ok_or_else(invalid)?;
    let mut parts = rest.splitn(3, ':');
    let (region, registry, resource) = (parts.next(), parts.next(), parts.next());
    match (region, registry, resource.and_then(|r| r.strip_prefix("repository/"))) {
        (Some(region), Some(registry), Some(name)) if !region.is_empty() && !name.is_empty() => {
            Ok((region.to_string(), registry.to_string(), name.to_string()))
        }
        _ => Err(invalid()),
    }
}

impl Ecr {
    pub fn open(data_dir: Option<&Path>, clock: Clock, keys: Option<Arc<dyn KeyService>>) -> std::io::Result<Ecr> {
        Ok(Ecr { store: Store::open(data_dir, "ecr")?, clock, keys })
    }

    pub fn ctx(&self, account: &str, region: &str) -> Ctx {
        Ctx { account: account.to_string(), region: region.to_string(), now: self.clock.now_millis() as f64 / 1000.0 }
    }

    pub fn reset(&self) {
        self.store.reset();
    }

    fn lookup(&self, ctx: &Ctx, registry: &str, name: &str) -> Result<Repository> {
        self.store
            .read(|db| db.0.get(&ctx.key(registry, name)).cloned())
            .ok_or_else(|| repository_not_found(name, registry))
    }

    /// Read-modify-write of one repository, journaled before the answer.
    fn modify<T>(
        &self,
        ctx: &Ctx,
        registry: &str,
        name: &str,
        f: impl FnOnce(&mut Repository) -> Result<T>,
    ) -> Result<T> {
        let key = ctx.key(registry, name);
        self.store.write(|db, changes| {
            let mut repo = db.0.get(&key).cloned().ok_or_else(|| repository_not_found(name, registry))?;
            let out = f(&mut repo)?;
            changes.put(key.clone(), repo);
            Ok(out)
        })
    }

    /// The encryption settings a request asks for, with the KMS key resolved to its ARN.
    fn encryption(&self, ctx: &Ctx, input: &Value) -> Result<(String, Option<String>)> {
        let Some(conf) = input.get("encryptionConfiguration") else { return Ok(("AES256".into(), None)) };
        let kind = str_of(conf, "encryptionType").unwrap_or("AES256").to_string();
        let key = str_of(conf, "kmsKey");
        if kind == "AES256" {
            if key.is_some() {
                return Err(invalid_parameter(
                    "encryptionConfiguration.kmsKey",
                    "kmsKey can only be specified when encryptionType is KMS or KMS_DSSE",
                ));
            }
            return Ok((kind, None));
        }
        let keys = self.keys.as_ref().ok_or_else(|| kms("KMS is not available"))?;
        let arn =
            keys.usable_key_arn(&ctx.account, &ctx.region, key.unwrap_or(DEFAULT_KEY)).map_err(|e| kms(e.message))?;
        Ok((kind, Some(arn)))
    }

    pub fn create_repository(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let registry = ctx.registry(input);
        let name = str_of(input, "repositoryName").unwrap_or_default().to_string();
        let mutability = str_of(input, "imageTagMutability").unwrap_or("MUTABLE").to_string();
        let exclusions = input.get("imageTagMutabilityExclusionFilters").cloned();
        check_mutability(&mutability, exclusions.as_ref())?;
        let tags = tags_of(input.get("tags"), KEY_VALUE);
        check_tags(&tags)?;
        if tags.len() > MAX_TAGS {
            return Err(error(
                "TooManyTagsException",
                format!("Tag limit exceeded: a resource can have at most {MAX_TAGS} tags"),
            ));
        }
        let (encryption_type, kms_key) = self.encryption(ctx, input)?;
        let repo = Repository {
            name: name.clone(),
            registry: registry.clone(),
            region: ctx.region.clone(),
            created: ctx.now,
            tag_mutability: mutability,
            mutability_exclusions: exclusions,
            scan_on_push: input
                .pointer("/imageScanningConfiguration/scanOnPush")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            encryption_type,
            kms_key,
            tags,
            lifecycle_policy: None,
            repository_policy: None,
        };
        let key = ctx.key(&registry, &name);
        self.store.write(|db, changes| {
            if db.0.contains_key(&key) {
                return Err(repository_exists(&name, &registry));
            }
            let out = json!({"repository": repo.to_json()});
            changes.put(key.clone(), repo);
            Ok(out)
        })
    }

    pub fn describe_repositories(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let registry = ctx.registry(input);
        if let Some(names) = input.get("repositoryNames").and_then(Value::as_array) {
            for member in ["maxResults", "nextToken"] {
                if input.get(member).is_some() {
                    return Err(invalid_parameter(
                        member,
                        &format!("{member} cannot be used together with repositoryNames"),
                    ));
                }
            }
            let mut found = Vec::new();
            for name in names.iter().filter_map(Value::as_str) {
                found.push(self.lookup(ctx, &registry, name)?.to_json());
            }
            return Ok(json!({"repositories": found}));
        }
        let after = match str_of(input, "nextToken") {
            Some(token) => Some(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(token)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| invalid_parameter("nextToken", "Invalid NextToken"))?,
            ),
            None => None,
        };
        let max = input.get("maxResults").and_then(Value::as_u64).map_or(DEFAULT_PAGE, |m| m as usize);
        let prefix = ctx.prefix(&registry);
        let (page, more) = self.store.read(|db| {
            let mut it =
                db.0.range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, r)| r)
                    .filter(|r| after.as_ref().is_none_or(|a| r.name.as_str() > a.as_str()));
            let page: Vec<Repository> = it.by_ref().take(max).cloned().collect();
            (page, it.next().is_some())
        });
        let mut out = json!({"repositories": page.iter().map(Repository::to_json).collect::<Vec<_>>()});
        if more {
            if let Some(last) = page.last() {
                out["nextToken"] = json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&last.name));
            }
        }
        Ok(out)
    }

    pub fn delete_repository(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let registry = ctx.registry(input);
        let name = str_of(input, "repositoryName").unwrap_or_default();
        let key = ctx.key(&registry, name);
        // A repository never holds images here, so `force` has nothing to remove.
        self.store.write(|db, changes| {
            let repo = db.0.get(&key).ok_or_else(|| repository_not_found(name, &registry))?;
            let out = json!({"repository": repo.to_json()});
            changes.delete(key.clone());
            Ok(out)
        })
    }

    fn by_arn(&self, ctx: &Ctx, input: &Value) -> Result<(String, String)> {
        let (region, registry, name) = parse_arn(str_of(input, "resourceArn").unwrap_or_default())?;
        if region != ctx.region {
            return Err(invalid_parameter(
                "resourceArn",
                "Invalid ARN: the region does not match the request's region",
            ));
        }
        Ok((registry, name))
    }

    pub fn tag_resource(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let (registry, name) = self.by_arn(ctx, input)?;
        let tags = tags_of(input.get("tags"), KEY_VALUE);
        check_tags(&tags)?;
        self.modify(ctx, &registry, &name, |repo| {
            merge_tags(&mut repo.tags, tags);
            if repo.tags.len() > MAX_TAGS {
                return Err(error(
                    "TooManyTagsException",
                    format!("Tag limit exceeded: a resource can have at most {MAX_TAGS} tags"),
                ));
            }
            Ok(json!({}))
        })
    }

    pub fn untag_resource(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let (registry, name) = self.by_arn(ctx, input)?;
        let keys: Vec<String> =
            input["tagKeys"].as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from).collect();
        self.modify(ctx, &registry, &name, |repo| {
            repo.tags.retain(|(k, _)| !keys.contains(k));
            Ok(json!({}))
        })
    }

    pub fn list_tags(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let (registry, name) = self.by_arn(ctx, input)?;
        let repo = self.lookup(ctx, &registry, &name)?;
        Ok(json!({"tags": tags_json(&repo.tags, KEY_VALUE)}))
    }

    fn named<'a>(&self, ctx: &Ctx, input: &'a Value) -> (String, &'a str) {
        (ctx.registry(input), str_of(input, "repositoryName").unwrap_or_default())
    }

    pub fn put_lifecycle_policy(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let (registry, name) = self.named(ctx, input);
        let text = str_of(input, "lifecyclePolicyText").unwrap_or_default().to_string();
        self.lookup(ctx, &registry, name)?;
        check_lifecycle_policy(&text)?;
        self.modify(ctx, &registry, name, |repo| {
            repo.lifecycle_policy = Some(text.clone());
            Ok(json!({"registryId": registry, "repositoryName": name, "lifecyclePolicyText": text}))
        })
    }

    pub fn get_lifecycle_policy(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let (registry, name) = self.named(ctx, input);
        let repo = self.lookup(ctx, &registry, name)?;
        let text = repo.lifecycle_policy.ok_or_else(|| lifecycle_policy_not_found(name, &registry))?;
        // No image is ever pushed, so the policy has never been evaluated (AWS: the epoch).
        Ok(json!({"registryId": registry, "repositoryName": name, "lifecyclePolicyText": text, "lastEvaluatedAt": 0.0}))
    }

    pub fn delete_lifecycle_policy(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let (registry, name) = self.named(ctx, input);
        self.modify(ctx, &registry, name, |repo| {
            let text = repo.lifecycle_policy.take().ok_or_else(|| lifecycle_policy_not_found(name, &registry))?;
            Ok(json!({"registryId": registry, "repositoryName": name, "lifecyclePolicyText": text, "lastEvaluatedAt": 0.0}))
        })
    }

    pub fn set_repository_policy(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let (registry, name) = self.named(ctx, input);
        let text = str_of(input, "policyText").unwrap_or_default().to_string();
        self.lookup(ctx, &registry, name)?;
        check_repository_policy(&text)?;
        self.modify(ctx, &registry, name, |repo| {
            repo.repository_policy = Some(text.clone());
            Ok(json!({"registryId": registry, "repositoryName": name, "policyText": text}))
        })
    }

    pub fn get_repository_policy(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let (registry, name) = self.named(ctx, input);
        let repo = self.lookup(ctx, &registry, name)?;
        let text = repo.repository_policy.ok_or_else(|| repository_policy_not_found(name, &registry))?;
        Ok(json!({"registryId": registry, "repositoryName": name, "policyText": text}))
    }

    pub fn delete_repository_policy(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let (registry, name) = self.named(ctx, input);
        self.modify(ctx, &registry, name, |repo| {
            let text = repo.repository_policy.take().ok_or_else(|| repository_policy_not_found(name, &registry))?;
            Ok(json!({"registryId": registry, "repositoryName": name, "policyText": text}))
        })
    }

    pub fn put_image_tag_mutability(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let (registry, name) = self.named(ctx, input);
        let mutability = str_of(input, "imageTagMutability").unwrap_or_default().to_string();
        let exclusions = input.get("imageTagMutabilityExclusionFilters").cloned();
        self.lookup(ctx, &registry, name)?;
        check_mutability(&mutability, exclusions.as_ref())?;
        self.modify(ctx, &registry, name, |repo| {
            repo.tag_mutability = mutability.clone();
            repo.mutability_exclusions = exclusions.clone();
            let mut out = json!({"registryId": registry, "repositoryName": name, "imageTagMutability": mutability});
            if let Some(f) = exclusions {
                out["imageTagMutabilityExclusionFilters"] = f;
            }
            Ok(out)
        })
    }

    pub fn put_image_scanning_configuration(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let (registry, name) = self.named(ctx, input);
        let scan = input.pointer("/imageScanningConfiguration/scanOnPush").and_then(Value::as_bool).unwrap_or(false);
        self.modify(ctx, &registry, name, |repo| {
            repo.scan_on_push = scan;
            Ok(json!({
                "registryId": registry,
                "repositoryName": name,
                "imageScanningConfiguration": {"scanOnPush": scan},
            }))
        })
    }

    pub fn describe_registry(&self, ctx: &Ctx) -> Result<Value> {
        Ok(json!({"registryId": ctx.account, "replicationConfiguration": {"rules": []}}))
    }

    pub fn list_images(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let (registry, name) = self.named(ctx, input);
        self.lookup(ctx, &registry, name)?;
        Ok(json!({"imageIds": []}))
    }

    pub fn describe_images(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let (registry, name) = self.named(ctx, input);
        self.lookup(ctx, &registry, name)?;
        // No image exists, so the first one asked for is not found.
        if let Some(id) = input.get("imageIds").and_then(Value::as_array).and_then(|ids| ids.first()) {
            let show = |m: &str| str_of(id, m).map_or_else(|| "null".to_string(), String::from);
            let image = format!("{{imageDigest:'{}', imageTag:'{}'}}", show("imageDigest"), show("imageTag"));
            return Err(image_not_found(&image, name, &registry));
        }
        Ok(json!({"imageDetails": []}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ecr() -> Ecr {
        Ecr::open(None, Clock::default(), None).unwrap()
    }

    #[test]
    fn create_answers_aws_defaults_and_refuses_a_duplicate() {
        let e = ecr();
        let c = e.ctx("000000000000", "us-east-1");
        let out = e.create_repository(&c, &json!({"repositoryName": "team/app"})).unwrap();
        let r = &out["repository"];
        assert_eq!(r["repositoryArn"], "arn:aws:ecr:us-east-1:000000000000:repository/team/app");
        assert_eq!(r["repositoryUri"], "000000000000.dkr.ecr.us-east-1.amazonaws.com/team/app");
        assert_eq!(r["imageTagMutability"], "MUTABLE");
        assert_eq!(r["imageScanningConfiguration"]["scanOnPush"], false);
        assert_eq!(r["encryptionConfiguration"], json!({"encryptionType": "AES256"}));
        let err = e.create_repository(&c, &json!({"repositoryName": "team/app"})).unwrap_err();
        assert_eq!(err.code, "RepositoryAlreadyExistsException");
        assert_eq!(
            err.message,
            "The repository with name 'team/app' already exists in the registry with id '000000000000'"
        );
    }

    #[test]
    fn describe_pages_by_name() {
        let e = ecr();
        let c = e.ctx("000000000000", "us-east-1");
        for n in ["cc", "aa", "bb"] {
            e.create_repository(&c, &json!({"repositoryName": n})).unwrap();
        }
        let first = e.describe_repositories(&c, &json!({"maxResults": 2})).unwrap();
        let names: Vec<&str> =
            first["repositories"].as_array().unwrap().iter().map(|r| r["repositoryName"].as_str().unwrap()).collect();
        assert_eq!(names, ["aa", "bb"]);
        let token = first["nextToken"].as_str().unwrap();
        let second = e.describe_repositories(&c, &json!({"maxResults": 2, "nextToken": token})).unwrap();
        assert_eq!(second["repositories"][0]["repositoryName"], "cc");
        assert!(second.get("nextToken").is_none());
        let err = e.describe_repositories(&c, &json!({"repositoryNames": ["aa", "zz"]})).unwrap_err();
        assert_eq!(err.message, "The repository with name 'zz' does not exist in the registry with id '000000000000'");
    }

    #[test]
    fn lifecycle_policies_are_validated() {
        let good = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}"#;
        assert!(check_lifecycle_policy(good).is_ok());
        assert!(check_lifecycle_policy(r#"{"rules":[]}"#).is_err());
        assert!(check_lifecycle_policy("not json").is_err());
        let tagged_without_prefix = good.replace("untagged", "tagged");
        assert!(check_lifecycle_policy(&tagged_without_prefix).is_err());
    }

    #[test]
    fn arns_parse() {
        assert_eq!(
            parse_arn("arn:aws:ecr:us-east-1:000000000000:repository/a/b").unwrap(),
            ("us-east-1".into(), "000000000000".into(), "a/b".into())
        );
        assert!(parse_arn("arn:aws:s3:::bucket").is_err());
    }
}
