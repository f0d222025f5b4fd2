//! IAM state and operations: roles, their inline and attached policies, tags, and customer
//! managed policies. IAM is global: state is per account, never per region, and ARNs carry
//! no region (`arn:aws:iam::123456789012:role/path/name`). Names are unique per account
//! regardless of case, as on AWS.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use nimbus_core::journal::{Journal, Records};
use nimbus_core::AwsError;
use parking_lot::RwLock;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::errors;

/// IAM quotas AWS enforces by default.
pub const TRUST_POLICY_LIMIT: usize = 2048;
pub const INLINE_POLICIES_LIMIT: usize = 10240;
pub const MANAGED_POLICY_LIMIT: usize = 6144;
pub const ATTACHED_POLICIES_LIMIT: usize = 10;
pub const TAGS_LIMIT: usize = 50;
pub const DEFAULT_MAX_ITEMS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub path: String,
    pub id: String,
    pub arn: String,
    pub create_date: String,
    pub assume_role_policy: String,
    pub description: Option<String>,
    pub max_session_duration: u32,
    pub permissions_boundary: Option<String>,
    pub tags: Vec<Tag>,
    /// Inline policies: name → document, as given.
    pub inline_policies: BTreeMap<String, String>,
    /// ARNs of attached managed policies, in attach order.
    pub attached: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyVersion {
    pub id: String,
    pub document: String,
    pub create_date: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedPolicy {
    pub name: String,
    pub path: String,
    pub id: String,
    pub arn: String,
    pub description: Option<String>,
    pub create_date: String,
    pub update_date: String,
    pub default_version: String,
    pub versions: Vec<PolicyVersion>,
    pub tags: Vec<Tag>,
}

/// A managed policy as listed: the policy and how many roles it is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyView {
    pub policy: ManagedPolicy,
    pub attachment_count: usize,
    /// AWS managed policies are not stored: their document is unknown to nimbus.
    pub aws_managed: bool,
}

#[derive(Debug, Clone, Default)]
pub struct CreateRole {
    pub name: String,
    pub path: Option<String>,
    pub assume_role_policy: String,
    pub description: Option<String>,
    pub max_session_duration: Option<u32>,
    pub permissions_boundary: Option<String>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default)]
pub struct CreatePolicy {
    pub name: String,
    pub path: Option<String>,
    pub document: String,
    pub description: Option<String>,
    pub tags: Vec<Tag>,
}

/// `Marker`/`MaxItems` of a list call. The marker is the position of the next item.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub marker: Option<String>,
    pub max_items: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    /// Set when truncated: pass it back as `Marker` for the next page.
    pub marker: Option<String>,
}

#[derive(Debug, Default)]
struct Account {
    /// Keyed by lower-case name: role names are unique regardless of case.
    roles: BTreeMap<String, Role>,
    /// Customer managed policies keyed by ARN.
    policies: BTreeMap<String, ManagedPolicy>,
}

pub struct Iam {
    accounts: RwLock<HashMap<String, Account>>,
    journal: Option<Arc<Journal>>,
}

impl Iam {
    /// Build the state from journal records (empty without a data dir).
    pub fn new(journal: Option<Arc<Journal>>, records: &Records) -> Iam {
        let mut accounts: HashMap<String, Account> = HashMap::new();
        for (key, value) in records {
            let mut parts = key.splitn(3, '/');
            let (Some(kind), Some(account), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let entry = accounts.entry(account.to_string()).or_default();
            let loaded = match kind {
                "role" => serde_json::from_value(value.clone()).map(|r| {
                    entry.roles.insert(id.to_string(), r);
                }),
                "policy" => serde_json::from_value(value.clone()).map(|p| {
                    entry.policies.insert(id.to_string(), p);
                }),
                _ => Ok(()),
            };
            if let Err(err) = loaded {
                tracing::warn!(key, error = %err, "skipping unreadable IAM record");
            }
        }
        Iam { accounts: RwLock::new(accounts), journal }
    }

    pub fn reset(&self) {
        self.accounts.write().clear();
        if let Some(journal) = &self.journal {
            if let Err(err) = journal.clear() {
                tracing::error!(error = %err, "could not clear the IAM journal");
            }
        }
    }

    fn persist(&self, key: String, value: Option<Value>) -> Result<(), AwsError> {
        match &self.journal {
            Some(journal) => journal.write(&[(key, value)]).map_err(errors::storage),
            None => Ok(()),
        }
    }

    /// Write a role through the journal, then into memory.
    fn save_role(&self, acct: &mut Account, account: &str, role: Role) -> Result<(), AwsError> {
        let key = role.name.to_lowercase();
        let json = serde_json::to_value(&role).map_err(|e| AwsError::internal(e.to_string()))?;
        self.persist(format!("role/{account}/{key}"), Some(json))?;
        acct.roles.insert(key, role);
        Ok(())
    }

    /// Run `f` on a copy of the role and save the result.
    fn update_role_with(
        &self,
        account: &str,
        name: &str,
        f: impl FnOnce(&mut Role) -> Result<(), AwsError>,
    ) -> Result<Role, AwsError> {
        let mut accounts = self.accounts.write();
        let acct = accounts.entry(account.to_string()).or_default();
        let mut role = acct.roles.get(&name.to_lowercase()).cloned().ok_or_else(|| errors::no_such_role(name))?;
        f(&mut role)?;
        self.save_role(acct, account, role.clone())?;
        Ok(role)
    }

    fn read_role<T>(&self, account: &str, name: &str, f: impl FnOnce(&Role) -> T) -> Result<T, AwsError> {
        let accounts = self.accounts.read();
        accounts
            .get(account)
            .and_then(|a| a.roles.get(&name.to_lowercase()))
            .map(f)
            .ok_or_else(|| errors::no_such_role(name))
    }

    pub fn create_role(&self, account: &str, input: CreateRole, now: DateTime<Utc>) -> Result<Role, AwsError> {
        check_document(&input.assume_role_policy)?;
        if policy_size(&input.assume_role_policy) > TRUST_POLICY_LIMIT {
            return Err(errors::trust_policy_too_large(TRUST_POLICY_LIMIT));
        }
        check_tag_keys_unique(&input.tags)?;
        if input.tags.len() > TAGS_LIMIT {
            return Err(errors::too_many_tags(TAGS_LIMIT));
        }
        let path = input.path.unwrap_or_else(|| "/".to_string());
        let mut accounts = self.accounts.write();
        let acct = accounts.entry(account.to_string()).or_default();
        if acct.roles.contains_key(&input.name.to_lowercase()) {
            return Err(errors::role_exists(&input.name));
        }
        let role = Role {
            arn: format!("arn:aws:iam::{account}:role{path}{}", input.name),
            id: unique_id("AROA"),
            create_date: iso_seconds(now),
            name: input.name,
            path,
            assume_role_policy: input.assume_role_policy,
            description: input.description,
            max_session_duration: input.max_session_duration.unwrap_or(3600),
            permissions_boundary: input.permissions_boundary,
            tags: input.tags,
            inline_policies: BTreeMap::new(),
            attached: Vec::new(),
        };
        self.save_role(acct, account, role.clone())?;
        Ok(role)
    }

    pub fn get_role(&self, account: &str, name: &str) -> Result<Role, AwsError> {
        self.read_role(account, name, Role::clone)
    }

    /// A role by ARN, for STS.
    pub fn role_by_arn(&self, account: &str, arn: &str) -> Option<Role> {
        let accounts = self.accounts.read();
        accounts.get(account)?.roles.values().find(|r| r.arn == arn).cloned()
    }

    pub fn list_roles(&self, account: &str, path_prefix: Option<&str>, page: &Page) -> Result<Listing<Role>, AwsError> {
        let accounts = self.accounts.read();
        let prefix = path_prefix.unwrap_or("/");
        let roles = accounts
            .get(account)
            .map(|a| a.roles.values().filter(|r| r.path.starts_with(prefix)).cloned().collect())
            .unwrap_or_default();
        paginate(roles, page)
    }

    pub fn delete_role(&self, account: &str, name: &str) -> Result<(), AwsError> {
        let mut accounts = self.accounts.write();
        let acct = accounts.entry(account.to_string()).or_default();
        let key = name.to_lowercase();
        let role = acct.roles.get(&key).ok_or_else(|| errors::no_such_role(name))?;
        if !role.attached.is_empty() {
            return Err(errors::role_has_attached_policies());
        }
        if !role.inline_policies.is_empty() {
            return Err(errors::role_has_inline_policies());
        }
        self.persist(format!("role/{account}/{key}"), None)?;
        acct.roles.remove(&key);
        Ok(())
    }

    pub fn update_role(
        &self,
        account: &str,
        name: &str,
        description: Option<String>,
        max_session_duration: Option<u32>,
    ) -> Result<Role, AwsError> {
        self.update_role_with(account, name, |role| {
            if let Some(description) = description {
                role.description = Some(description);
            }
            if let Some(max) = max_session_duration {
                role.max_session_duration = max;
            }
            Ok(())
        })
    }

    pub fn update_assume_role_policy(&self, account: &str, name: &str, document: String) -> Result<(), AwsError> {
        check_document(&document)?;
        if policy_size(&document) > TRUST_POLICY_LIMIT {
            return Err(errors::trust_policy_too_large(TRUST_POLICY_LIMIT));
        }
        self.update_role_with(account, name, |role| {
            role.assume_role_policy = document;
            Ok(())
        })
        .map(drop)
    }

    pub fn put_role_permissions_boundary(&self, account: &str, name: &str, arn: &str) -> Result<(), AwsError> {
        parse_policy_arn(arn)?;
        self.update_role_with(account, name, |role| {
            role.permissions_boundary = Some(arn.to_string());
            Ok(())
        })
        .map(drop)
    }

    pub fn delete_role_permissions_boundary(&self, account: &str, name: &str) -> Result<(), AwsError> {
        self.update_role_with(account, name, |role| {
            role.permissions_boundary = None;
            Ok(())
        })
        .map(drop)
    }

    pub fn attach_role_policy(&self, account: &str, name: &str, policy_arn: &str) -> Result<(), AwsError> {
        let policy_account = parse_policy_arn(policy_arn)?;
        let mut accounts = self.accounts.write();
        let acct = accounts.entry(account.to_string()).or_default();
        let mut role = acct.roles.get(&name.to_lowercase()).cloned().ok_or_else(|| errors::no_such_role(name))?;
        // Customer managed policies attach only within their account, and must exist.
        if policy_account != "aws" && (policy_account != account || !acct.policies.contains_key(policy_arn)) {
            return Err(errors::policy_not_attachable(policy_arn));
        }
        if role.attached.iter().any(|a| a == policy_arn) {
            return Ok(());
        }
        if role.attached.len() >= ATTACHED_POLICIES_LIMIT {
            return Err(errors::too_many_attached(ATTACHED_POLICIES_LIMIT));
        }
        role.attached.push(policy_arn.to_string());
        self.save_role(acct, account, role)
    }

    pub fn detach_role_policy(&self, account: &str, name: &str, policy_arn: &str) -> Result<(), AwsError> {
        parse_policy_arn(policy_arn)?;
        self.update_role_with(account, name, |role| {
            let before = role.attached.len();
            role.attached.retain(|a| a != policy_arn);
            if role.attached.len() == before {
                return Err(errors::policy_not_attached(policy_arn));
            }
            Ok(())
        })
        .map(drop)
    }

    /// Attached policies as (name, ARN), filtered by the policy path.
    pub fn list_attached_role_policies(
        &self,
        account: &str,
        name: &str,
        path_prefix: Option<&str>,
        page: &Page,
    ) -> Result<Listing<(String, String)>, AwsError> {
        let attached = self.read_role(account, name, |r| r.attached.clone())?;
        let prefix = path_prefix.unwrap_or("/");
        let items = attached
            .into_iter()
            .filter_map(|arn| {
                let (path, policy_name) = policy_path_and_name(&arn)?;
                path.starts_with(prefix).then_some((policy_name, arn))
            })
            .collect();
        paginate(items, page)
    }

    pub fn put_role_policy(
        &self,
        account: &str,
        name: &str,
        policy_name: &str,
        document: String,
    ) -> Result<(), AwsError> {
        check_document(&document)?;
        self.update_role_with(account, name, |role| {
            role.inline_policies.insert(policy_name.to_string(), document);
            let total: usize = role.inline_policies.values().map(|d| policy_size(d)).sum();
            if total > INLINE_POLICIES_LIMIT {
                return Err(errors::inline_policies_too_large(&role.name, INLINE_POLICIES_LIMIT));
            }
            Ok(())
        })
        .map(drop)
    }

    /// (role name, policy name, document).
    pub fn get_role_policy(
        &self,
        account: &str,
        name: &str,
        policy_name: &str,
    ) -> Result<(String, String, String), AwsError> {
        self.read_role(account, name, |r| {
            r.inline_policies.get(policy_name).map(|doc| (r.name.clone(), policy_name.to_string(), doc.clone()))
        })?
        .ok_or_else(|| errors::no_such_role_policy(policy_name))
    }

    pub fn delete_role_policy(&self, account: &str, name: &str, policy_name: &str) -> Result<(), AwsError> {
        self.update_role_with(account, name, |role| {
            role.inline_policies.remove(policy_name).map(drop).ok_or_else(|| errors::no_such_role_policy(policy_name))
        })
        .map(drop)
    }

    pub fn list_role_policies(&self, account: &str, name: &str, page: &Page) -> Result<Listing<String>, AwsError> {
        let names = self.read_role(account, name, |r| r.inline_policies.keys().cloned().collect())?;
        paginate(names, page)
    }

    pub fn tag_role(&self, account: &str, name: &str, tags: Vec<Tag>) -> Result<(), AwsError> {
        check_tag_keys_unique(&tags)?;
        self.update_role_with(account, name, |role| {
            merge_tags(&mut role.tags, tags);
            if role.tags.len() > TAGS_LIMIT {
                return Err(errors::too_many_tags(TAGS_LIMIT));
            }
            Ok(())
        })
        .map(drop)
    }

    pub fn untag_role(&self, account: &str, name: &str, keys: &[String]) -> Result<(), AwsError> {
        self.update_role_with(account, name, |role| {
            role.tags.retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
            Ok(())
        })
        .map(drop)
    }

    pub fn list_role_tags(&self, account: &str, name: &str, page: &Page) -> Result<Listing<Tag>, AwsError> {
        let tags = self.read_role(account, name, |r| r.tags.clone())?;
        paginate(tags, page)
    }

    pub fn create_policy(
        &self,
        account: &str,
        input: CreatePolicy,
        now: DateTime<Utc>,
    ) -> Result<PolicyView, AwsError> {
        check_document(&input.document)?;
        if policy_size(&input.document) > MANAGED_POLICY_LIMIT {
            return Err(errors::managed_policy_too_large(MANAGED_POLICY_LIMIT));
        }
        check_tag_keys_unique(&input.tags)?;
        let path = input.path.unwrap_or_else(|| "/".to_string());
        let mut accounts = self.accounts.write();
        let acct = accounts.entry(account.to_string()).or_default();
        if acct.policies.values().any(|p| p.name.eq_ignore_ascii_case(&input.name)) {
            return Err(errors::policy_exists(&input.name));
        }
        let date = iso_seconds(now);
        let policy = ManagedPolicy {
            arn: format!("arn:aws:iam::{account}:policy{path}{}", input.name),
            id: unique_id("ANPA"),
            name: input.name,
            path,
            description: input.description,
            create_date: date.clone(),
            update_date: date.clone(),
            default_version: "v1".into(),
            versions: vec![PolicyVersion { id: "v1".into(), document: input.document, create_date: date }],
            tags: input.tags,
        };
        let json = serde_json::to_value(&policy).map_err(|e| AwsError::internal(e.to_string()))?;
        self.persist(format!("policy/{account}/{}", policy.arn), Some(json))?;
        acct.policies.insert(policy.arn.clone(), policy.clone());
        Ok(PolicyView { policy, attachment_count: 0, aws_managed: false })
    }

    pub fn get_policy(&self, account: &str, arn: &str) -> Result<PolicyView, AwsError> {
        let policy_account = parse_policy_arn(arn)?;
        let accounts = self.accounts.read();
        let acct = accounts.get(account);
        let attachment_count = acct.map_or(0, |a| attachment_count(a, arn));
        if policy_account == "aws" {
            return aws_managed_policy(arn)
                .map(|policy| PolicyView { policy, attachment_count, aws_managed: true })
                .ok_or_else(|| errors::no_such_policy(arn));
        }
        acct.and_then(|a| a.policies.get(arn))
            .map(|p| PolicyView { policy: p.clone(), attachment_count, aws_managed: false })
            .ok_or_else(|| errors::no_such_policy(arn))
    }

    pub fn delete_policy(&self, account: &str, arn: &str) -> Result<(), AwsError> {
        parse_policy_arn(arn)?;
        let mut accounts = self.accounts.write();
        let acct = accounts.entry(account.to_string()).or_default();
        if !acct.policies.contains_key(arn) {
            return Err(errors::no_such_policy(arn));
        }
        if attachment_count(acct, arn) > 0 {
            return Err(errors::policy_attached());
        }
        self.persist(format!("policy/{account}/{arn}"), None)?;
        acct.policies.remove(arn);
        Ok(())
    }

    /// Customer managed policies (nimbus keeps no catalogue of AWS managed ones, so
    /// `Scope=AWS` lists nothing).
    pub fn list_policies(
        &self,
        account: &str,
        scope: Option<&str>,
        only_attached: bool,
        path_prefix: Option<&str>,
        page: &Page,
    ) -> Result<Listing<PolicyView>, AwsError> {
        if scope == Some("AWS") {
            return paginate(Vec::new(), page);
        }
        let accounts = self.accounts.read();
        let prefix = path_prefix.unwrap_or("/");
        let items = accounts
            .get(account)
            .map(|a| {
                a.policies
                    .values()
                    .filter(|p| p.path.starts_with(prefix))
                    .map(|p| PolicyView {
                        policy: p.clone(),
                        attachment_count: attachment_count(a, &p.arn),
                        aws_managed: false,
                    })
                    .filter(|v| !only_attached || v.attachment_count > 0)
                    .collect()
            })
            .unwrap_or_default();
        paginate(items, page)
    }

    /// (version, is default).
    pub fn get_policy_version(
        &self,
        account: &str,
        arn: &str,
        version: &str,
    ) -> Result<(PolicyVersion, bool), AwsError> {
        let view = self.get_policy(account, arn)?;
        view.policy
            .versions
            .iter()
            .find(|v| v.id == version)
            .map(|v| (v.clone(), v.id == view.policy.default_version))
            .ok_or_else(|| errors::no_such_policy_version(arn, version))
    }

    pub fn list_policy_versions(
        &self,
        account: &str,
        arn: &str,
        page: &Page,
    ) -> Result<Listing<(PolicyVersion, bool)>, AwsError> {
        let view = self.get_policy(account, arn)?;
        let default = view.policy.default_version.clone();
        let versions = view.policy.versions.into_iter().map(|v| {
            let is_default = v.id == default;
            (v, is_default)
        });
        paginate(versions.collect(), page)
    }
}

fn attachment_count(acct: &Account, arn: &str) -> usize {
    acct.roles.values().filter(|r| r.attached.iter().any(|a| a == arn)).count()
}

/// AWS managed policies are accepted without a catalogue; GetPolicy describes them from the ARN.
fn aws_managed_policy(arn: &str) -> Option<ManagedPolicy> {
    let (path, name) = policy_path_and_name(arn)?;
    let date = "2015-04-09T15:03:43Z".to_string();
    Some(ManagedPolicy {
        id: stable_id("ANPA", arn),
        arn: arn.to_string(),
        name,
        path,
        description: None,
        create_date: date.clone(),
        update_date: date,
        default_version: "v1".into(),
        versions: Vec::new(),
        tags: Vec::new(),
    })
}

/// Validate a managed policy ARN (`arn:aws:iam::<account|aws>:policy/<path><name>`) and return
/// its account (`aws` for AWS managed policies).
pub fn parse_policy_arn(arn: &str) -> Result<String, AwsError> {
    let parsed = nimbus_core::arn::Arn::parse(arn).ok_or_else(|| errors::invalid_arn(arn))?;
    let account_ok =
        parsed.account == "aws" || (parsed.account.len() == 12 && parsed.account.bytes().all(|b| b.is_ascii_digit()));
    let name_ok = parsed
        .resource
        .strip_prefix("policy/")
        .and_then(|rest| rest.rsplit('/').next())
        .is_some_and(|name| !name.is_empty());
    if parsed.service != "iam" || !parsed.region.is_empty() || !account_ok || !name_ok {
        return Err(errors::invalid_arn(arn));
    }
    Ok(parsed.account)
}

/// (path, name) of a policy ARN: `…:policy/service-role/X` → (`/service-role/`, `X`).
fn policy_path_and_name(arn: &str) -> Option<(String, String)> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let rest = resource.strip_prefix("policy")?;
    let slash = rest.rfind('/')?;
    Some((rest[..=slash].to_string(), rest[slash + 1..].to_string()))
}

/// A policy document must be a JSON object.
pub fn check_document(document: &str) -> Result<(), AwsError> {
    match serde_json::from_str::<Value>(document) {
        Ok(Value::Object(_)) => Ok(()),
        Ok(_) => Err(errors::policy_syntax()),
        Err(_) => Err(errors::invalid_json()),
    }
}

/// IAM counts policy size without whitespace.
fn policy_size(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

fn check_tag_keys_unique(tags: &[Tag]) -> Result<(), AwsError> {
    for (i, tag) in tags.iter().enumerate() {
        if tags[..i].iter().any(|t| t.key.eq_ignore_ascii_case(&tag.key)) {
            return Err(errors::duplicate_tag_keys());
        }
    }
    Ok(())
}

/// Tag keys are case-insensitive: a new value replaces the old one under the new spelling.
fn merge_tags(existing: &mut Vec<Tag>, new: Vec<Tag>) {
    for tag in new {
        match existing.iter_mut().find(|t| t.key.eq_ignore_ascii_case(&tag.key)) {
            Some(old) => *old = tag,
            None => existing.push(tag),
        }
    }
}

fn paginate<T>(items: Vec<T>, page: &Page) -> Result<Listing<T>, AwsError> {
    let start = match &page.marker {
        Some(m) => m.parse::<usize>().map_err(|_| errors::validation("Invalid Marker."))?,
        None => 0,
    };
    let max = page.max_items.unwrap_or(DEFAULT_MAX_ITEMS);
    let total = items.len();
    let items: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let next = start + items.len();
    Ok(Listing { items, marker: (next < total).then(|| next.to_string()) })
}

/// `AROA…`/`ANPA…`: a prefix and 17 random upper-case letters and digits.
pub fn unique_id(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    let tail: String = (0..17).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    format!("{prefix}{tail}")
}

/// A deterministic id for things nimbus does not store (AWS managed policies, unknown roles).
pub fn stable_id(prefix: &str, seed: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    // FNV-1a, stretched: stable across runs, which std's hasher is not.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let tail: String = (0..17)
        .map(|i| {
            h = (h ^ i).wrapping_mul(0x0100_0000_01b3);
            ALPHABET[(h >> 33) as usize % ALPHABET.len()] as char
        })
        .collect();
    format!("{prefix}{tail}")
}

pub fn iso_seconds(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCT: &str = "123456789012";
    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

    fn iam() -> Iam {
        Iam::new(None, &Records::new())
    }

    fn role(name: &str) -> CreateRole {
        CreateRole { name: name.into(), assume_role_policy: TRUST.into(), ..Default::default() }
    }

    #[test]
    fn create_get_delete_role() {
        let iam = iam();
        let r = iam.create_role(ACCT, CreateRole { path: Some("/svc/".into()), ..role("Fn") }, Utc::now()).unwrap();
        assert_eq!(r.arn, "arn:aws:iam::123456789012:role/svc/Fn");
        assert!(r.id.starts_with("AROA") && r.id.len() == 21);
        assert_eq!(r.max_session_duration, 3600);
        let err = iam.create_role(ACCT, role("fn"), Utc::now()).unwrap_err();
        assert_eq!((err.status, err.code.as_str()), (409, "EntityAlreadyExists"));
        assert_eq!(err.message, "Role with name fn already exists.");
        assert_eq!(iam.get_role(ACCT, "FN").unwrap().name, "Fn");
        // Per account.
        assert_eq!(iam.get_role("000000000000", "Fn").unwrap_err().message, "The role with name Fn cannot be found.");
        iam.delete_role(ACCT, "Fn").unwrap();
        assert_eq!(iam.get_role(ACCT, "Fn").unwrap_err().status, 404);
    }

    #[test]
    fn malformed_documents() {
        let iam = iam();
        let err = iam
            .create_role(ACCT, CreateRole { assume_role_policy: "{nope".into(), ..role("r") }, Utc::now())
            .unwrap_err();
        assert_eq!(
            (err.code.as_str(), err.message.as_str()),
            ("MalformedPolicyDocument", "This policy contains invalid Json")
        );
        iam.create_role(ACCT, role("r"), Utc::now()).unwrap();
        assert_eq!(iam.update_assume_role_policy(ACCT, "r", "[]".into()).unwrap_err().code, "MalformedPolicyDocument");
        let big = format!(r#"{{"Version":"2012-10-17","Sid":"{}"}}"#, "x".repeat(3000));
        assert_eq!(iam.update_assume_role_policy(ACCT, "r", big).unwrap_err().code, "LimitExceeded");
    }

    #[test]
    fn delete_conflicts_and_policies() {
        let iam = iam();
        iam.create_role(ACCT, role("r"), Utc::now()).unwrap();
        let basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
        iam.attach_role_policy(ACCT, "r", basic).unwrap();
        iam.attach_role_policy(ACCT, "r", basic).unwrap();
        let listed = iam.list_attached_role_policies(ACCT, "r", None, &Page::default()).unwrap();
        assert_eq!(listed.items, vec![("AWSLambdaBasicExecutionRole".to_string(), basic.to_string())]);
        assert!(iam
            .list_attached_role_policies(ACCT, "r", Some("/other/"), &Page::default())
            .unwrap()
            .items
            .is_empty());
        assert_eq!(
            iam.delete_role(ACCT, "r").unwrap_err().message,
            "Cannot delete entity, must detach all policies first."
        );
        iam.detach_role_policy(ACCT, "r", basic).unwrap();
        assert_eq!(iam.detach_role_policy(ACCT, "r", basic).unwrap_err().code, "NoSuchEntity");
        iam.put_role_policy(ACCT, "r", "inline", TRUST.into()).unwrap();
        assert_eq!(iam.get_role_policy(ACCT, "r", "inline").unwrap().2, TRUST);
        assert_eq!(
            iam.delete_role(ACCT, "r").unwrap_err().message,
            "Cannot delete entity, must delete policies first."
        );
        assert_eq!(
            iam.get_role_policy(ACCT, "r", "nope").unwrap_err().message,
            "The role policy with name nope cannot be found."
        );
        iam.delete_role_policy(ACCT, "r", "inline").unwrap();
        iam.delete_role(ACCT, "r").unwrap();
    }

    #[test]
    fn customer_policies_must_exist_to_attach() {
        let iam = iam();
        iam.create_role(ACCT, role("r"), Utc::now()).unwrap();
        let arn = "arn:aws:iam::123456789012:policy/team/p";
        assert_eq!(
            iam.attach_role_policy(ACCT, "r", arn).unwrap_err().message,
            format!("Policy {arn} does not exist or is not attachable.")
        );
        assert_eq!(iam.attach_role_policy(ACCT, "r", "arn:aws:s3:::b").unwrap_err().code, "InvalidInput");
        let p = iam
            .create_policy(
                ACCT,
                CreatePolicy {
                    name: "p".into(),
                    path: Some("/team/".into()),
                    document: TRUST.into(),
                    ..Default::default()
                },
                Utc::now(),
            )
            .unwrap();
        assert_eq!(p.policy.arn, arn);
        iam.attach_role_policy(ACCT, "r", arn).unwrap();
        assert_eq!(iam.get_policy(ACCT, arn).unwrap().attachment_count, 1);
        assert_eq!(iam.delete_policy(ACCT, arn).unwrap_err().code, "DeleteConflict");
        assert_eq!(iam.get_policy_version(ACCT, arn, "v1").unwrap().0.document, TRUST);
        iam.detach_role_policy(ACCT, "r", arn).unwrap();
        iam.delete_policy(ACCT, arn).unwrap();
        assert_eq!(iam.get_policy(ACCT, arn).unwrap_err().status, 404);
    }

    #[test]
    fn tags_are_case_insensitive() {
        let iam = iam();
        iam.create_role(ACCT, role("r"), Utc::now()).unwrap();
        let tag = |k: &str, v: &str| Tag { key: k.into(), value: v.into() };
        iam.tag_role(ACCT, "r", vec![tag("Env", "dev"), tag("team", "a")]).unwrap();
        iam.tag_role(ACCT, "r", vec![tag("env", "prod")]).unwrap();
        assert_eq!(
            iam.list_role_tags(ACCT, "r", &Page::default()).unwrap().items,
            vec![tag("env", "prod"), tag("team", "a")]
        );
        assert_eq!(iam.tag_role(ACCT, "r", vec![tag("a", "1"), tag("A", "2")]).unwrap_err().code, "InvalidInput");
        iam.untag_role(ACCT, "r", &["ENV".into()]).unwrap();
        assert_eq!(iam.list_role_tags(ACCT, "r", &Page::default()).unwrap().items, vec![tag("team", "a")]);
    }

    #[test]
    fn list_roles_paginates() {
        let iam = iam();
        for name in ["a", "b", "c"] {
            iam.create_role(ACCT, role(name), Utc::now()).unwrap();
        }
        let first = iam.list_roles(ACCT, None, &Page { marker: None, max_items: Some(2) }).unwrap();
        assert_eq!(first.items.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        let second = iam.list_roles(ACCT, None, &Page { marker: first.marker, max_items: Some(2) }).unwrap();
        assert_eq!(second.items.len(), 1);
        assert!(second.marker.is_none());
    }

    #[test]
    fn state_survives_a_restart_through_the_journal() {
        let dir = std::env::temp_dir().join(format!("nimbus-iam-test-{:016x}", rand::random::<u64>()));
        {
            let (journal, records) = Journal::open(&dir, "iam").unwrap();
            let iam = Iam::new(Some(Arc::new(journal)), &records);
            iam.create_role(ACCT, role("Keep"), Utc::now()).unwrap();
            iam.create_role(ACCT, role("Gone"), Utc::now()).unwrap();
            iam.put_role_policy(ACCT, "Keep", "p", TRUST.into()).unwrap();
            iam.delete_role(ACCT, "Gone").unwrap();
            iam.create_policy(
                ACCT,
                CreatePolicy { name: "mp".into(), document: TRUST.into(), ..Default::default() },
                Utc::now(),
            )
            .unwrap();
        }
        let (journal, records) = Journal::open(&dir, "iam").unwrap();
        let iam = Iam::new(Some(Arc::new(journal)), &records);
        assert_eq!(iam.get_role(ACCT, "keep").unwrap().inline_policies.len(), 1);
        assert!(iam.get_role(ACCT, "Gone").is_err());
        assert!(iam.get_policy(ACCT, "arn:aws:iam::123456789012:policy/mp").is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
