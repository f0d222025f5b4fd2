//! The stack engine: preparing a template (parameters, conditions, dependency waves), and
//! running create, update and delete operations in the background with CloudFormation's
//! states, events and real rollback. Each wave's resources are provisioned in parallel through
//! the providers; the stack record is saved (journaled) at every state change.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use nimbus_core::clock::Clock;
use nimbus_core::state::Store;
use nimbus_core::AwsError;
use serde_json::{Map, Value};
use tokio::task::JoinSet;

use crate::api::{Api, Dispatch};
use crate::errors::{insufficient_capabilities, validation, Result};
use crate::eval::{self, Known, Pseudo, Scope};
use crate::graph;
use crate::providers::{self, Created, Cx, Outcome};
use crate::state::{stack_key, Event, Output, Parameter, Record, Resource, Stack, Stacks};
use crate::template;

pub struct Engine {
    pub store: Store<Stacks>,
    pub dispatch: Arc<dyn Dispatch>,
    pub clock: Clock,
    /// How functions reach nimbus (ResponseURLs, wait handles).
    pub endpoint: parking_lot::RwLock<String>,
}

/// A parameter as the caller passed it.
#[derive(Debug, Clone, Default)]
pub struct ParamInput {
    pub key: String,
    pub value: Option<String>,
    pub use_previous: bool,
}

/// A template ready to run: parameters resolved, conditions decided, resources ordered.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub template: Value,
    pub parameters: Vec<Parameter>,
    pub values: BTreeMap<String, Value>,
    pub conditions: BTreeMap<String, bool>,
    /// Resources whose condition holds, in dependency waves.
    pub waves: Vec<Vec<String>>,
}

impl Prepared {
    pub fn resource(&self, logical: &str) -> &Value {
        &self.template["Resources"][logical]
    }

    pub fn all_resources(&self) -> Vec<String> {
        self.waves.iter().flatten().cloned().collect()
    }
}

const IAM_TYPES: &[&str] = &[
    "AWS::IAM::AccessKey",
    "AWS::IAM::Group",
    "AWS::IAM::InstanceProfile",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::Policy",
    "AWS::IAM::Role",
    "AWS::IAM::User",
    "AWS::IAM::UserToGroupAddition",
    "AWS::IAM::RolePolicy",
    "AWS::IAM::GroupPolicy",
    "AWS::IAM::UserPolicy",
];
const IAM_NAMES: &[&str] = &["RoleName", "ManagedPolicyName", "UserName", "GroupName", "InstanceProfileName"];

/// The capability a template needs (`CAPABILITY_IAM` / `CAPABILITY_NAMED_IAM`) and the resource
/// types that need it.
pub fn required_capability(template: &Value) -> Option<(&'static str, Vec<String>)> {
    let resources = template.get("Resources")?.as_object()?;
    let mut types = BTreeSet::new();
    let mut named = false;
    for res in resources.values() {
        let ty = res["Type"].as_str().unwrap_or_default();
        if IAM_TYPES.contains(&ty) {
            types.insert(ty.to_string());
            named |= IAM_NAMES.iter().any(|n| res.get("Properties").and_then(|p| p.get(*n)).is_some());
        }
    }
    if types.is_empty() {
        return None;
    }
    Some((if named { "CAPABILITY_NAMED_IAM" } else { "CAPABILITY_IAM" }, types.into_iter().collect()))
}

pub fn check_capabilities(template: &Value, capabilities: &[String]) -> Result<()> {
    if let Some((needed, _)) = required_capability(template) {
        let has = |c: &str| capabilities.iter().any(|x| x == c);
        let ok = if needed == "CAPABILITY_NAMED_IAM" {
            has("CAPABILITY_NAMED_IAM")
        } else {
            has("CAPABILITY_IAM") || has("CAPABILITY_NAMED_IAM")
        };
        if !ok {
            return Err(insufficient_capabilities(needed));
        }
    }
    Ok(())
}

impl Engine {
    pub fn now(&self) -> String {
        self.clock.now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }

    pub fn api(&self, account: &str, region: &str) -> Api {
        Api { dispatch: self.dispatch.clone(), account: account.to_string(), region: region.to_string() }
    }

    pub fn save(&self, stack: &Stack) {
        let record = Record::Stack(Box::new(stack.clone()));
        if let Err(err) = self.store.write(|_, c| {
            c.put(stack_key(&stack.id), record);
            Ok(())
        }) {
            tracing::error!(stack = %stack.name, error = %err, "could not save the stack");
        }
    }

    /// Parse, check and order a template for a stack (new or existing).
    pub async fn prepare(
        &self,
        template: Value,
        inputs: &[ParamInput],
        pseudo: &Pseudo,
        previous: Option<&Stack>,
    ) -> Result<Prepared> {
        template::check(&template)?;
        if let Some(name) = eval::find_unsupported(&template) {
            return Err(validation(eval::unsupported_function(&name)));
        }
        let resources = template["Resources"].as_object().cloned().unwrap_or_default();
        let unknown: Vec<String> = resources
            .values()
            .filter_map(|r| r["Type"].as_str())
            .filter(|t| providers::spec(t).is_none() && !t.starts_with("Custom::"))
            .map(str::to_string)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !unknown.is_empty() {
            return Err(validation(format!(
                "Template format error: Unrecognized resource types: [{}]",
                unknown.join(", ")
            )));
        }
        let (parameters, values) = self.parameters(&template, inputs, pseudo, previous).await?;
        let exports = BTreeMap::new();
        let empty = BTreeMap::new();
        let pending = BTreeSet::new();
        let base = Scope {
            pseudo,
            params: &values,
            mappings: template.get("Mappings").unwrap_or(&Value::Null),
            conditions: &empty,
            resources: &empty_known(),
            exports: &exports,
            pending: &pending,
        };
        let conditions = eval::conditions(&base, template.get("Conditions")).map_err(validation)?;
        let mut active = Map::new();
        for (name, res) in &resources {
            if let Some(cond) = res.get("Condition").and_then(Value::as_str) {
                match conditions.get(cond) {
                    Some(false) => continue,
                    Some(true) => {}
                    None => {
                        return Err(validation(format!(
                            "Template format error: Unresolved dependencies [{cond}]. Cannot reference resources in the Conditions block of the template"
                        )))
                    }
                }
            }
            active.insert(name.clone(), res.clone());
        }
        let known_params: BTreeSet<String> = values.keys().cloned().collect();
        let all_names: BTreeSet<String> = resources.keys().cloned().collect();
        // References to resources skipped by their condition are allowed inside an Fn::If.
        let deps =
            graph::dependencies(&active, &known_params.union(&all_names).cloned().collect()).map_err(validation)?;
        let deps: BTreeMap<String, BTreeSet<String>> =
            deps.into_iter().map(|(k, v)| (k, v.into_iter().filter(|d| active.contains_key(d)).collect())).collect();
        let waves = graph::waves(&deps).map_err(validation)?;
        Ok(Prepared { template, parameters, values, conditions, waves })
    }

    async fn parameters(
        &self,
        template: &Value,
        inputs: &[ParamInput],
        pseudo: &Pseudo,
        previous: Option<&Stack>,
    ) -> Result<(Vec<Parameter>, BTreeMap<String, Value>)> {
        let defs = template.get("Parameters").and_then(Value::as_object).cloned().unwrap_or_default();
        let unknown: Vec<&str> = inputs.iter().map(|p| p.key.as_str()).filter(|k| !defs.contains_key(*k)).collect();
        if !unknown.is_empty() {
            return Err(validation(format!("Parameters: [{}] do not exist in the template", unknown.join(", "))));
        }
        let mut params = Vec::new();
        let mut values = BTreeMap::new();
        let mut missing = Vec::new();
        for (name, def) in &defs {
            let given = inputs.iter().find(|p| &p.key == name);
            let value = match given {
                Some(p) if p.use_previous => {
                    previous.and_then(|s| s.parameters.iter().find(|x| &x.key == name)).map(|x| x.value.clone())
                }
                Some(p) => p.value.clone(),
                None => None,
            }
            .or_else(|| def.get("Default").and_then(eval::text_of));
            let Some(value) = value else {
                missing.push(name.clone());
                continue;
            };
            let ty = def["Type"].as_str().unwrap_or("String");
            check_constraints(name, def, ty, &value)?;
            let mut resolved = None;
            let effective =
                if let Some(inner) = ty.strip_prefix("AWS::SSM::Parameter::Value<").and_then(|t| t.strip_suffix('>')) {
                    let v = self.ssm_value(pseudo, &value).await?;
                    resolved = Some(v.clone());
                    typed_value(inner, &v)
                } else {
                    typed_value(ty, &value)
                };
            values.insert(name.clone(), effective);
            let no_echo = def.get("NoEcho").is_some_and(|v| v == &Value::Bool(true) || v == "true");
            params.push(Parameter { key: name.clone(), value, resolved, no_echo });
        }
        if !missing.is_empty() {
            return Err(validation(format!("Parameters: [{}] must have values", missing.join(", "))));
        }
        Ok((params, values))
    }

    async fn ssm_value(&self, pseudo: &Pseudo, name: &str) -> Result<String> {
        let api = self.api(&pseudo.account, &pseudo.region);
        let out = api
            .json("ssm", "AmazonSSM.GetParameter", "1.1", serde_json::json!({"Name": name, "WithDecryption": true}))
            .await
            .map_err(|e| {
                if e.status == 501 {
                    validation(format!("Parameters: [{name}] cannot be resolved: {}", e.message))
                } else {
                    validation(format!("Parameters: [{name}] cannot be found."))
                }
            })?;
        Ok(out["Parameter"]["Value"].as_str().unwrap_or_default().to_string())
    }

    /// What `Ref`/`Fn::GetAtt` see of a stack's live resources.
    fn known(stack: &Stack) -> BTreeMap<String, Known> {
        stack
            .resources
            .values()
            .filter(|r| r.physical_id.is_some() && !matches!(r.status.as_str(), "DELETE_COMPLETE" | "CREATE_FAILED"))
            .map(|r| (r.logical_id.clone(), Known { ref_value: r.ref_value.clone(), attributes: r.attributes.clone() }))
            .collect()
    }

    pub fn pseudo(stack: &Stack) -> Pseudo {
        Pseudo {
            account: stack.account.clone(),
            region: stack.region.clone(),
            stack_id: stack.id.clone(),
            stack_name: stack.name.clone(),
            notification_arns: stack.notification_arns.clone(),
        }
    }

    fn exports_for(&self, stack: &Stack) -> BTreeMap<String, String> {
        self.store.read(|s| s.exports(&stack.account, &stack.region)).into_iter().map(|(k, (v, _))| (k, v)).collect()
    }

    /// A scope over the stack as it stands.
    fn scope<'a>(
        known: &'a BTreeMap<String, Known>,
        pseudo: &'a Pseudo,
        pending: &'a BTreeSet<String>,
        prepared: &'a Prepared,
        exports: &'a BTreeMap<String, String>,
    ) -> Scope<'a> {
        Scope {
            pseudo,
            params: &prepared.values,
            mappings: prepared.template.get("Mappings").unwrap_or(&Value::Null),
            conditions: &prepared.conditions,
            resources: known,
            exports,
            pending,
        }
    }

    fn with_scope<T>(
        stack: &Stack,
        prepared: &Prepared,
        exports: &BTreeMap<String, String>,
        f: impl FnOnce(&Scope<'_>) -> T,
    ) -> T {
        let (known, pseudo, pending) = (Self::known(stack), Self::pseudo(stack), BTreeSet::new());
        f(&Self::scope(&known, &pseudo, &pending, prepared, exports))
    }

    /// Evaluate one resource's properties against the stack as it stands.
    fn properties(
        &self,
        stack: &Stack,
        prepared: &Prepared,
        logical: &str,
        exports: &BTreeMap<String, String>,
    ) -> std::result::Result<Value, String> {
        let props = prepared.resource(logical).get("Properties").cloned().unwrap_or(Value::Object(Map::new()));
        Self::with_scope(stack, prepared, exports, |scope| scope.value(&props))
    }

    fn cx(&self, stack: &Stack, logical: &str) -> Cx {
        Cx {
            api: self.api(&stack.account, &stack.region),
            stack_name: stack.name.clone(),
            stack_id: stack.id.clone(),
            logical_id: logical.to_string(),
            resource_type: stack
                .resources
                .get(logical)
                .map(|r| r.resource_type.clone())
                .or_else(|| stack.template["Resources"][logical]["Type"].as_str().map(str::to_string))
                .unwrap_or_default(),
            tags: stack.tags.clone(),
            endpoint: self.endpoint.read().clone(),
        }
    }

    pub fn stack_event(&self, stack: &mut Stack, status: &str, reason: Option<String>) {
        stack.status = status.to_string();
        stack.status_reason = reason.clone();
        let (id, name) = (stack.id.clone(), stack.name.clone());
        self.push_event(stack, &name, &id, "AWS::CloudFormation::Stack", status, reason, None);
        self.save(stack);
    }

    #[allow(clippy::too_many_arguments)]
    fn push_event(
        &self,
        stack: &mut Stack,
        logical: &str,
        physical: &str,
        ty: &str,
        status: &str,
        reason: Option<String>,
        props: Option<&Value>,
    ) {
        stack.events.push(Event {
            event_id: format!("{logical}-{status}-{}", self.now()),
            logical_id: logical.to_string(),
            physical_id: physical.to_string(),
            resource_type: ty.to_string(),
            timestamp: self.now(),
            status: status.to_string(),
            reason,
            properties: props.map(Value::to_string),
        });
    }

    fn resource_event(&self, stack: &mut Stack, res: &Resource, status: &str, reason: Option<String>) {
        let physical = res.physical_id.clone().unwrap_or_default();
        let props =
            (status.ends_with("IN_PROGRESS") && !status.starts_with("DELETE")).then_some(&res.properties).cloned();
        self.push_event(stack, &res.logical_id, &physical, &res.resource_type, status, reason, props.as_ref());
    }

    fn set_resource(&self, stack: &mut Stack, mut res: Resource, status: &str, reason: Option<String>) {
        res.status = status.to_string();
        res.reason = reason.clone();
        res.updated = self.now();
        self.resource_event(stack, &res, status, reason);
        stack.resources.insert(res.logical_id.clone(), res);
    }

    /// Dynamic references (`{{resolve:ssm:…}}`, `{{resolve:secretsmanager:…}}`) in evaluated properties.
    async fn resolve_dynamic(&self, stack: &Stack, v: Value) -> std::result::Result<Value, String> {
        let text = v.to_string();
        if !text.contains("{{resolve:") {
            return Ok(v);
        }
        let api = self.api(&stack.account, &stack.region);
        crate::dynamic::resolve(&api, v).await
    }

    /// Provision one wave: every job's future runs in parallel; results come back by logical id.
    async fn run_jobs<T: Send + 'static>(
        jobs: Vec<(String, nimbus_core::service::BoxFuture<'static, T>)>,
    ) -> Vec<(String, T)> {
        let mut set = JoinSet::new();
        for (logical, fut) in jobs {
            set.spawn(async move { (logical, fut.await) });
        }
        let mut out = Vec::new();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(r) => out.push(r),
                Err(err) => tracing::error!(error = %err, "resource provider panicked"),
            }
        }
        out
    }

    /// Create every resource of a new stack; roll back (or not) on failure.
    pub async fn run_create(self: Arc<Self>, mut stack: Stack, prepared: Prepared, on_failure: String) {
        let exports = self.exports_for(&stack);
        let mut failed: Vec<String> = Vec::new();
        for wave in &prepared.waves {
            let mut jobs: Vec<(String, nimbus_core::service::BoxFuture<'static, Outcome>)> = Vec::new();
            for logical in wave {
                let ty = prepared.resource(logical)["Type"].as_str().unwrap_or_default().to_string();
                let mut res = Resource {
                    logical_id: logical.clone(),
                    resource_type: ty.clone(),
                    metadata: prepared.resource(logical).get("Metadata").cloned(),
                    ..Default::default()
                };
                let props = match self.properties(&stack, &prepared, logical, &exports) {
                    Ok(p) => self.resolve_dynamic(&stack, p).await,
                    Err(e) => Err(e),
                };
                match props {
                    Ok(p) => {
                        res.properties = p.clone();
                        self.set_resource(&mut stack, res, "CREATE_IN_PROGRESS", None);
                        let spec = providers::spec(&ty).expect("checked at prepare");
                        jobs.push((logical.clone(), (spec.create)(self.cx(&stack, logical), p)));
                    }
                    Err(e) => {
                        self.set_resource(&mut stack, res, "CREATE_FAILED", Some(e));
                        failed.push(logical.clone());
                    }
                }
            }
            self.save(&stack);
            for (logical, outcome) in Self::run_jobs(jobs).await {
                let mut res = stack.resources[&logical].clone();
                match outcome {
                    Ok(created) => {
                        apply_created(&mut res, created);
                        self.set_resource(&mut stack, res, "CREATE_COMPLETE", None);
                    }
                    Err(reason) => {
                        self.set_resource(&mut stack, res, "CREATE_FAILED", Some(reason));
                        failed.push(logical);
                    }
                }
            }
            self.save(&stack);
            if !failed.is_empty() {
                break;
            }
        }
        if failed.is_empty() {
            match self.outputs(&stack, &prepared) {
                Ok(outputs) => {
                    stack.outputs = outputs;
                    stack.imports = self.imports(&stack, &prepared);
                    self.stack_event(&mut stack, "CREATE_COMPLETE", None);
                    return;
                }
                Err(reason) => {
                    failed.push(stack.name.clone());
                    stack.status_reason = Some(reason);
                }
            }
        }
        let reason = format!("The following resource(s) failed to create: [{}]. ", failed.join(", "));
        if on_failure == "DO_NOTHING" {
            self.stack_event(&mut stack, "CREATE_FAILED", Some(reason));
            return;
        }
        self.stack_event(&mut stack, "ROLLBACK_IN_PROGRESS", Some(format!("{reason}Rollback requested by user.")));
        let order = reverse_waves(&prepared.waves);
        let ok = self.delete_resources(&mut stack, &order, false).await;
        if !ok {
            let reason =
                format!("The following resource(s) failed to delete: [{}]. ", failed_deletes(&stack).join(", "));
            self.stack_event(&mut stack, "ROLLBACK_FAILED", Some(reason));
            return;
        }
        self.stack_event(&mut stack, "ROLLBACK_COMPLETE", None);
        if on_failure == "DELETE" {
            self.stack_event(&mut stack, "DELETE_IN_PROGRESS", None);
            stack.deleted = Some(self.now());
            self.stack_event(&mut stack, "DELETE_COMPLETE", None);
        }
    }

    /// Delete the given resources (waves of logical ids, dependents first). `retain` honours
    /// `DeletionPolicy: Retain`. Returns false if any delete failed.
    async fn delete_resources(&self, stack: &mut Stack, order: &[Vec<String>], retain: bool) -> bool {
        let mut ok = true;
        for wave in order {
            let mut jobs: Vec<(String, nimbus_core::service::BoxFuture<'static, std::result::Result<(), String>>)> =
                Vec::new();
            for logical in wave {
                let Some(res) = stack.resources.get(logical).cloned() else { continue };
                if res.status == "DELETE_COMPLETE" || res.status == "DELETE_SKIPPED" {
                    continue;
                }
                let policy =
                    stack.template["Resources"][logical]["DeletionPolicy"].as_str().unwrap_or("Delete").to_string();
                if res.physical_id.is_none() || res.status == "CREATE_FAILED" && res.physical_id.is_none() {
                    self.set_resource(stack, res, "DELETE_COMPLETE", None);
                    continue;
                }
                if retain && policy == "Retain" {
                    self.set_resource(stack, res, "DELETE_SKIPPED", None);
                    continue;
                }
                self.set_resource(stack, res.clone(), "DELETE_IN_PROGRESS", None);
                let Some(spec) = providers::spec(&res.resource_type) else { continue };
                jobs.push((logical.clone(), (spec.delete)(self.cx(stack, logical), res)));
            }
            self.save(stack);
            for (logical, result) in Self::run_jobs(jobs).await {
                let res = stack.resources[&logical].clone();
                match result {
                    Ok(()) => self.set_resource(stack, res, "DELETE_COMPLETE", None),
                    Err(reason) => {
                        ok = false;
                        self.set_resource(stack, res, "DELETE_FAILED", Some(reason));
                    }
                }
            }
            self.save(stack);
        }
        ok
    }

    pub async fn run_delete(self: Arc<Self>, mut stack: Stack) {
        let users: Vec<(String, String)> = {
            let mine: Vec<String> = stack.outputs.iter().filter_map(|o| o.export_name.clone()).collect();
            self.store.read(|s| {
                s.stacks
                    .values()
                    .filter(|o| {
                        o.id != stack.id && !o.is_deleted() && o.account == stack.account && o.region == stack.region
                    })
                    .flat_map(|o| {
                        o.imports
                            .iter()
                            .filter(|i| mine.contains(i))
                            .map(|i| (i.clone(), o.name.clone()))
                            .collect::<Vec<_>>()
                    })
                    .collect()
            })
        };
        if let Some((export, user)) = users.first() {
            self.stack_event(
                &mut stack,
                "DELETE_FAILED",
                Some(format!("Export {export} cannot be deleted as it is in use by {user}")),
            );
            return;
        }
        let waves = stack_waves(&stack);
        let ok = self.delete_resources(&mut stack, &reverse_waves(&waves), true).await;
        if !ok {
            let reason =
                format!("The following resource(s) failed to delete: [{}]. ", failed_deletes(&stack).join(", "));
            self.stack_event(&mut stack, "DELETE_FAILED", Some(reason));
            return;
        }
        stack.deleted = Some(self.now());
        stack.outputs.clear();
        self.stack_event(&mut stack, "DELETE_COMPLETE", None);
    }

    /// Update a stack to a new template: create, update in place or replace each resource in
    /// dependency order, then clean up; restore the previous state on failure.
    pub async fn run_update(self: Arc<Self>, mut stack: Stack, prepared: Prepared, previous: Stack) {
        let exports = self.exports_for(&stack);
        stack.template = prepared.template.clone();
        let mut failed: Vec<String> = Vec::new();
        let mut fail_kind = "update";
        // For rollback: resources updated in place (old record), created new (logical ids),
        // and replacements (old record, new record).
        let mut updated: Vec<Resource> = Vec::new();
        let mut created: Vec<String> = Vec::new();
        let mut replaced: Vec<(Resource, Resource)> = Vec::new();
        for wave in &prepared.waves {
            let mut jobs: Vec<(String, nimbus_core::service::BoxFuture<'static, Outcome>)> = Vec::new();
            let mut kinds: BTreeMap<String, &'static str> = BTreeMap::new();
            for logical in wave {
                let def = prepared.resource(logical);
                let ty = def["Type"].as_str().unwrap_or_default().to_string();
                let spec = providers::spec(&ty).expect("checked at prepare");
                let props = match self.properties(&stack, &prepared, logical, &exports) {
                    Ok(p) => self.resolve_dynamic(&stack, p).await,
                    Err(e) => Err(e),
                };
                let existing = stack
                    .resources
                    .get(logical)
                    .filter(|r| r.physical_id.is_some() && r.status != "DELETE_COMPLETE")
                    .cloned();
                let props = match props {
                    Ok(p) => p,
                    Err(e) => {
                        let res = existing.unwrap_or(Resource {
                            logical_id: logical.clone(),
                            resource_type: ty.clone(),
                            ..Default::default()
                        });
                        let status = if res.physical_id.is_some() { "UPDATE_FAILED" } else { "CREATE_FAILED" };
                        self.set_resource(&mut stack, res, status, Some(e));
                        failed.push(logical.clone());
                        continue;
                    }
                };
                match existing {
                    None => {
                        let res = Resource {
                            logical_id: logical.clone(),
                            resource_type: ty.clone(),
                            properties: props.clone(),
                            metadata: def.get("Metadata").cloned(),
                            ..Default::default()
                        };
                        self.set_resource(&mut stack, res, "CREATE_IN_PROGRESS", None);
                        created.push(logical.clone());
                        kinds.insert(logical.clone(), "create");
                        jobs.push((logical.clone(), (spec.create)(self.cx(&stack, logical), props)));
                    }
                    Some(old) if old.resource_type == ty && old.properties == props => {
                        let mut old = old;
                        old.metadata = def.get("Metadata").cloned();
                        stack.resources.insert(logical.clone(), old);
                    }
                    Some(old) if old.resource_type == ty && !spec.replaces(&old.properties, &props) => {
                        let mut res = old.clone();
                        res.properties = props.clone();
                        self.set_resource(&mut stack, res, "UPDATE_IN_PROGRESS", None);
                        updated.push(old.clone());
                        kinds.insert(logical.clone(), "update");
                        let update = spec.update.expect("in-place update exists");
                        jobs.push((logical.clone(), update(self.cx(&stack, logical), old, props)));
                    }
                    Some(old) => {
                        if let Some(name_prop) = spec.name_property {
                            if old.properties.get(name_prop).is_some()
                                && old.properties.get(name_prop) == props.get(name_prop)
                            {
                                let reason = format!("CloudFormation cannot update a stack when a custom-named resource requires replacing. Rename {} and update the stack again.", old.properties[name_prop].as_str().unwrap_or_default());
                                self.set_resource(&mut stack, old, "UPDATE_FAILED", Some(reason));
                                failed.push(logical.clone());
                                continue;
                            }
                        }
                        let res = Resource {
                            logical_id: logical.clone(),
                            resource_type: ty.clone(),
                            properties: props.clone(),
                            metadata: def.get("Metadata").cloned(),
                            ..Default::default()
                        };
                        let mut shown = res.clone();
                        shown.physical_id = old.physical_id.clone();
                        self.resource_event(&mut stack, &shown, "UPDATE_IN_PROGRESS", Some("Requested update requires the creation of a new physical resource; hence creating one.".into()));
                        stack
                            .resources
                            .insert(logical.clone(), Resource { status: "UPDATE_IN_PROGRESS".into(), ..res });
                        replaced.push((old, Resource::default()));
                        kinds.insert(logical.clone(), "replace");
                        jobs.push((logical.clone(), (spec.create)(self.cx(&stack, logical), props)));
                    }
                }
            }
            self.save(&stack);
            for (logical, outcome) in Self::run_jobs(jobs).await {
                let mut res = stack.resources[&logical].clone();
                let kind = kinds.get(&logical).copied().unwrap_or("create");
                match outcome {
                    Ok(c) => {
                        if kind == "update" {
                            let physical = res.physical_id.clone();
                            apply_created(&mut res, c);
                            res.physical_id = physical.or(res.physical_id);
                        } else {
                            apply_created(&mut res, c);
                        }
                        if kind == "replace" {
                            if let Some(entry) = replaced.iter_mut().find(|(o, _)| o.logical_id == logical) {
                                entry.1 = res.clone();
                            }
                        }
                        let status = if kind == "create" { "CREATE_COMPLETE" } else { "UPDATE_COMPLETE" };
                        self.set_resource(&mut stack, res, status, None);
                    }
                    Err(reason) => {
                        if kind == "update" {
                            // The in-place update failed: the resource is as it was.
                            if let Some(pos) = updated.iter().position(|u| u.logical_id == logical) {
                                let old = updated.remove(pos);
                                res.properties = old.properties.clone();
                            }
                        }
                        let status = if kind == "create" { "CREATE_FAILED" } else { "UPDATE_FAILED" };
                        if kind == "create" {
                            fail_kind = "create";
                        }
                        if kind == "replace" {
                            replaced.retain(|(o, _)| o.logical_id != logical);
                            let old = previous.resources.get(&logical).cloned().unwrap_or_default();
                            res.physical_id = None;
                            self.set_resource(&mut stack, res, status, Some(reason));
                            stack.resources.insert(logical.clone(), old);
                        } else {
                            self.set_resource(&mut stack, res, status, Some(reason));
                        }
                        failed.push(logical);
                    }
                }
            }
            self.save(&stack);
            if !failed.is_empty() {
                break;
            }
        }
        let outputs =
            if failed.is_empty() { self.outputs(&stack, &prepared).map_err(|e| failed.push(e)).ok() } else { None };
        if let Some(outputs) = outputs {
            stack.outputs = outputs;
            stack.imports = self.imports(&stack, &prepared);
            self.stack_event(&mut stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None);
            // Removed resources, then the old physical resources of replacements.
            let new_names: BTreeSet<String> = prepared.all_resources().into_iter().collect();
            let removed: Vec<String> = stack.resources.keys().filter(|k| !new_names.contains(*k)).cloned().collect();
            let old_order: Vec<Vec<String>> = reverse_waves(&stack_waves(&previous))
                .into_iter()
                .map(|w| w.into_iter().filter(|l| removed.contains(l)).collect())
                .collect();
            // Deletion policies of removed resources come from the previous template.
            let current_template = std::mem::replace(&mut stack.template, previous.template.clone());
            self.delete_resources(&mut stack, &old_order, true).await;
            stack.template = current_template;
            for logical in &removed {
                stack.resources.remove(logical);
            }
            for (old, _) in &replaced {
                self.cleanup_replaced(&mut stack, old, &previous).await;
            }
            stack.updated = Some(self.now());
            self.stack_event(&mut stack, "UPDATE_COMPLETE", None);
            return;
        }
        // Roll back: in-place updates get their old properties again; replacements go back to
        // the old physical resource; then new resources are deleted.
        let verb = if fail_kind == "create" { "create" } else { "update" };
        self.stack_event(
            &mut stack,
            "UPDATE_ROLLBACK_IN_PROGRESS",
            Some(format!("The following resource(s) failed to {verb}: [{}]. ", failed.join(", "))),
        );
        let mut rollback_ok = true;
        for old in updated.iter().rev() {
            let Some(current) = stack.resources.get(&old.logical_id).cloned() else { continue };
            let Some(spec) = providers::spec(&old.resource_type) else { continue };
            let Some(update) = spec.update else { continue };
            self.set_resource(&mut stack, current.clone(), "UPDATE_IN_PROGRESS", None);
            match update(self.cx(&stack, &old.logical_id), current, old.properties.clone()).await {
                Ok(c) => {
                    let mut res = old.clone();
                    apply_created(&mut res, c);
                    res.physical_id = old.physical_id.clone();
                    self.set_resource(&mut stack, res, "UPDATE_COMPLETE", None);
                }
                Err(reason) => {
                    rollback_ok = false;
                    self.set_resource(&mut stack, old.clone(), "UPDATE_FAILED", Some(reason));
                }
            }
        }
        let mut new_physicals = Vec::new();
        for (old, new) in &replaced {
            new_physicals.push(new.clone());
            stack.resources.insert(old.logical_id.clone(), old.clone());
            self.set_resource(&mut stack, old.clone(), "UPDATE_COMPLETE", None);
        }
        stack.template = previous.template.clone();
        stack.parameters = previous.parameters.clone();
        stack.outputs = previous.outputs.clone();
        self.stack_event(&mut stack, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", None);
        for new in new_physicals.into_iter().filter(|n| n.physical_id.is_some()) {
            if let Some(spec) = providers::spec(&new.resource_type) {
                let cx = self.cx(&stack, &new.logical_id);
                self.resource_event(&mut stack, &new, "DELETE_IN_PROGRESS", None);
                match (spec.delete)(cx, new.clone()).await {
                    Ok(()) => self.resource_event(&mut stack, &new, "DELETE_COMPLETE", None),
                    Err(reason) => self.resource_event(&mut stack, &new, "DELETE_FAILED", Some(reason)),
                }
            }
        }
        let new_order: Vec<Vec<String>> = reverse_waves(&prepared.waves)
            .into_iter()
            .map(|w| w.into_iter().filter(|l| created.contains(l)).collect())
            .collect();
        let template_now = std::mem::replace(&mut stack.template, prepared.template.clone());
        self.delete_resources(&mut stack, &new_order, false).await;
        stack.template = template_now;
        for logical in &created {
            stack.resources.remove(logical);
        }
        let status = if rollback_ok { "UPDATE_ROLLBACK_COMPLETE" } else { "UPDATE_ROLLBACK_FAILED" };
        self.stack_event(&mut stack, status, None);
    }

    async fn cleanup_replaced(&self, stack: &mut Stack, old: &Resource, previous: &Stack) {
        let policy =
            previous.template["Resources"][&old.logical_id]["UpdateReplacePolicy"].as_str().unwrap_or("Delete");
        if policy == "Retain" {
            self.resource_event(stack, old, "DELETE_SKIPPED", None);
            return;
        }
        let Some(spec) = providers::spec(&old.resource_type) else { return };
        self.resource_event(stack, old, "DELETE_IN_PROGRESS", None);
        match (spec.delete)(self.cx(stack, &old.logical_id), old.clone()).await {
            Ok(()) => self.resource_event(stack, old, "DELETE_COMPLETE", None),
            Err(reason) => self.resource_event(stack, old, "DELETE_FAILED", Some(reason)),
        }
        self.save(stack);
    }

    /// The stack's outputs; an export another stack already has fails the operation.
    fn outputs(&self, stack: &Stack, prepared: &Prepared) -> std::result::Result<Vec<Output>, String> {
        let Some(defs) = prepared.template.get("Outputs").and_then(Value::as_object) else { return Ok(Vec::new()) };
        let exports = self.exports_for(stack);
        let (known, pseudo, pending) = (Self::known(stack), Self::pseudo(stack), BTreeSet::new());
        let scope = Self::scope(&known, &pseudo, &pending, prepared, &exports);
        let taken = self.store.read(|s| s.exports(&stack.account, &stack.region));
        let mut out = Vec::new();
        for (key, def) in defs {
            if let Some(cond) = def.get("Condition").and_then(Value::as_str) {
                if !prepared.conditions.get(cond).copied().unwrap_or(false) {
                    continue;
                }
            }
            let value = match scope.value(&def["Value"])? {
                Value::Array(items) => items.iter().filter_map(eval::text_of).collect::<Vec<_>>().join(","),
                other => eval::text_of(&other).unwrap_or_else(|| other.to_string()),
            };
            let export_name = match def.get("Export").and_then(|e| e.get("Name")) {
                Some(n) => Some(eval::text_of(&scope.value(n)?).unwrap_or_default()),
                None => None,
            };
            if let Some(name) = &export_name {
                if let Some((_, owner)) = taken.get(name).filter(|(_, owner)| owner != &stack.id) {
                    let owner_name =
                        self.store.read(|s| s.stacks.get(owner).map(|o| o.name.clone())).unwrap_or_default();
                    return Err(format!("Export with name {name} is already exported by stack {owner_name}"));
                }
            }
            out.push(Output {
                key: key.clone(),
                value,
                description: def.get("Description").and_then(eval::text_of),
                export_name,
            });
        }
        Ok(out)
    }

    /// Export names the template imports (for ListImports and delete protection).
    fn imports(&self, stack: &Stack, prepared: &Prepared) -> Vec<String> {
        let mut args = Vec::new();
        collect_imports(&prepared.template, &mut args);
        let exports = self.exports_for(stack);
        let (known, pseudo, pending) = (Self::known(stack), Self::pseudo(stack), BTreeSet::new());
        let scope = Self::scope(&known, &pseudo, &pending, prepared, &exports);
        let mut names: Vec<String> =
            args.iter().filter_map(|a| scope.value(a).ok()).filter_map(|v| eval::text_of(&v)).collect();
        names.sort();
        names.dedup();
        names
    }

    /// Preview an update as DescribeChangeSet's `Changes`.
    pub fn changes(&self, stack: &Stack, prepared: &Prepared) -> Vec<Value> {
        let exports = self.exports_for(stack);
        let mut changes = Vec::new();
        let mut pending: BTreeSet<String> = BTreeSet::new();
        let new_names: BTreeSet<String> = prepared.all_resources().into_iter().collect();
        let live =
            |l: &str| stack.resources.get(l).filter(|r| r.physical_id.is_some() && r.status != "DELETE_COMPLETE");
        for wave in &prepared.waves {
            for logical in wave {
                let def = prepared.resource(logical);
                let ty = def["Type"].as_str().unwrap_or_default();
                let spec = providers::spec(ty);
                let known = Self::known(stack);
                let known: BTreeMap<String, Known> = known.into_iter().filter(|(k, _)| !pending.contains(k)).collect();
                let pseudo = Self::pseudo(stack);
                let scope = Scope {
                    pseudo: &pseudo,
                    params: &prepared.values,
                    mappings: prepared.template.get("Mappings").unwrap_or(&Value::Null),
                    conditions: &prepared.conditions,
                    resources: &known,
                    exports: &exports,
                    pending: &pending,
                };
                let props =
                    scope.value(def.get("Properties").unwrap_or(&Value::Object(Map::new()))).unwrap_or(Value::Null);
                match live(logical) {
                    None => {
                        pending.insert(logical.clone());
                        changes.push(serde_json::json!({"Type": "Resource", "ResourceChange": {
                            "Action": "Add", "LogicalResourceId": logical, "ResourceType": ty, "Scope": [], "Details": []}}));
                    }
                    Some(old) if old.resource_type == ty && old.properties == props => {}
                    Some(old) => {
                        let dynamic = props.to_string().contains(eval::PENDING);
                        let names = changed_properties(&old.properties, &props);
                        let replaces =
                            old.resource_type != ty || spec.is_some_and(|s| s.replaces(&old.properties, &props));
                        if replaces {
                            pending.insert(logical.clone());
                        }
                        let details: Vec<Value> = names
                            .iter()
                            .map(|n| {
                                let recreation = spec.map_or("Always", |s| s.requires_recreation(n));
                                serde_json::json!({
                                    "Target": {"Attribute": "Properties", "Name": n, "RequiresRecreation": recreation},
                                    "Evaluation": if dynamic { "Dynamic" } else { "Static" },
                                    "ChangeSource": "DirectModification"
                                })
                            })
                            .collect();
                        changes.push(serde_json::json!({"Type": "Resource", "ResourceChange": {
                            "Action": "Modify", "LogicalResourceId": logical, "PhysicalResourceId": old.physical_id,
                            "ResourceType": ty, "Replacement": if replaces { "True" } else { "False" },
                            "Scope": ["Properties"], "Details": details}}));
                    }
                }
            }
        }
        for (logical, res) in &stack.resources {
            if !new_names.contains(logical) && res.physical_id.is_some() && res.status != "DELETE_COMPLETE" {
                changes.push(serde_json::json!({"Type": "Resource", "ResourceChange": {
                    "Action": "Remove", "LogicalResourceId": logical, "PhysicalResourceId": res.physical_id,
                    "ResourceType": res.resource_type, "Scope": [], "Details": []}}));
            }
        }
        changes
    }

    /// After a restart, operations that were running are over: mark them failed.
    pub fn recover(&self) {
        let stuck: Vec<Stack> = self.store.read(|s| s.stacks.values().filter(|s| s.in_progress()).cloned().collect());
        for mut stack in stuck {
            let status = match stack.status.as_str() {
                "CREATE_IN_PROGRESS" => "CREATE_FAILED",
                "ROLLBACK_IN_PROGRESS" => "ROLLBACK_FAILED",
                "DELETE_IN_PROGRESS" => "DELETE_FAILED",
                "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS" => "UPDATE_COMPLETE",
                _ => "UPDATE_ROLLBACK_FAILED",
            };
            self.stack_event(&mut stack, status, Some("nimbus restarted while this operation was in progress".into()));
        }
    }
}

fn empty_known() -> BTreeMap<String, Known> {
    BTreeMap::new()
}

fn apply_created(res: &mut Resource, c: Created) {
    res.physical_id = Some(c.physical_id);
    res.ref_value = c.ref_value;
    res.attributes = c.attributes;
}

fn failed_deletes(stack: &Stack) -> Vec<String> {
    stack.resources.values().filter(|r| r.status == "DELETE_FAILED").map(|r| r.logical_id.clone()).collect()
}

fn reverse_waves(waves: &[Vec<String>]) -> Vec<Vec<String>> {
    waves.iter().rev().cloned().collect()
}

/// Dependency waves of a stack's current resources (from its template).
pub fn stack_waves(stack: &Stack) -> Vec<Vec<String>> {
    let resources = stack.template.get("Resources").and_then(Value::as_object).cloned().unwrap_or_default();
    let live: Map<String, Value> = resources.into_iter().filter(|(k, _)| stack.resources.contains_key(k)).collect();
    let names: BTreeSet<String> = stack
        .template
        .get("Parameters")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    let all: BTreeSet<String> = names
        .union(&stack.template["Resources"].as_object().map(|r| r.keys().cloned().collect()).unwrap_or_default())
        .cloned()
        .collect();
    let deps = graph::dependencies(&live, &all).unwrap_or_default();
    let deps: BTreeMap<String, BTreeSet<String>> =
        deps.into_iter().map(|(k, v)| (k, v.into_iter().filter(|d| live.contains_key(d)).collect())).collect();
    let mut waves = graph::waves(&deps).unwrap_or_else(|_| vec![live.keys().cloned().collect()]);
    // Resources not in the template any more (left by an earlier failure) go last.
    let orphans: Vec<String> = stack.resources.keys().filter(|k| !live.contains_key(*k)).cloned().collect();
    if !orphans.is_empty() {
        waves.push(orphans);
    }
    waves
}

fn collect_imports(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                if k == "Fn::ImportValue" {
                    out.push(v.clone());
                } else {
                    collect_imports(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_imports(i, out)),
        _ => {}
    }
}

fn changed_properties(old: &Value, new: &Value) -> Vec<String> {
    let empty = Map::new();
    let a = old.as_object().unwrap_or(&empty);
    let b = new.as_object().unwrap_or(&empty);
    let mut names: BTreeSet<String> = BTreeSet::new();
    for k in a.keys().chain(b.keys()) {
        if a.get(k) != b.get(k) {
            names.insert(k.clone());
        }
    }
    names.into_iter().collect()
}

fn check_constraints(name: &str, def: &Value, ty: &str, value: &str) -> Result<()> {
    let fail = |default: String| {
        let message = match def.get("ConstraintDescription").and_then(Value::as_str) {
            Some(d) => format!("Parameter '{name}' failed to satisfy constraint: {d}"),
            None => default,
        };
        Err::<(), AwsError>(validation(message))
    };
    let items: Vec<&str> = if ty.starts_with("List<") || ty == "CommaDelimitedList" {
        value.split(',').map(str::trim).collect()
    } else {
        vec![value]
    };
    for item in items {
        if ty == "Number" || ty == "List<Number>" {
            let Ok(n) = item.trim().parse::<f64>() else {
                return Err(validation(format!("Parameter '{name}' must be a number.")));
            };
            if let Some(min) = def.get("MinValue").and_then(|v| eval::text_of(v)?.parse::<f64>().ok()) {
                if n < min {
                    fail(format!(
                        "Parameter '{name}' must be a number not less than {}",
                        eval::text_of(&def["MinValue"]).unwrap_or_default()
                    ))?;
                }
            }
            if let Some(max) = def.get("MaxValue").and_then(|v| eval::text_of(v)?.parse::<f64>().ok()) {
                if n > max {
                    fail(format!(
                        "Parameter '{name}' must be a number not greater than {}",
                        eval::text_of(&def["MaxValue"]).unwrap_or_default()
                    ))?;
                }
            }
        }
        if let Some(allowed) = def.get("AllowedValues").and_then(Value::as_array) {
            if !allowed.iter().filter_map(eval::text_of).any(|a| a == item) {
                fail(format!("Parameter '{name}' must be one of AllowedValues"))?;
            }
        }
        if let Some(pattern) = def.get("AllowedPattern").and_then(Value::as_str) {
            let re = regex::Regex::new(&format!("^(?:{pattern})$"))
                .map_err(|_| validation(format!("Parameter '{name}' has an invalid AllowedPattern")))?;
            if !re.is_match(item) {
                fail(format!("Parameter '{name}' must match pattern {pattern}"))?;
            }
        }
        let len = item.chars().count() as u64;
        if let Some(min) = def.get("MinLength").and_then(|v| eval::text_of(v)?.parse::<u64>().ok()) {
            if len < min {
                fail(format!("Parameter '{name}' must contain at least {min} characters"))?;
            }
        }
        if let Some(max) = def.get("MaxLength").and_then(|v| eval::text_of(v)?.parse::<u64>().ok()) {
            if len > max {
                fail(format!("Parameter '{name}' must contain at most {max} characters"))?;
            }
        }
    }
    Ok(())
}

/// A parameter value as `Ref` answers it: lists for list types, strings otherwise.
fn typed_value(ty: &str, value: &str) -> Value {
    if ty.starts_with("List<") || ty == "CommaDelimitedList" {
        if value.is_empty() {
            return Value::Array(Vec::new());
        }
        Value::Array(value.split(',').map(|s| Value::String(s.trim().to_string())).collect())
    } else {
        Value::String(value.to_string())
    }
}
