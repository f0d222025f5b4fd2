//! One function per CloudFormation operation: validated model-shaped input in, the output
//! document out. Long-running work (provisioning) is started here and runs in the engine.

use std::collections::BTreeMap;
use std::sync::Arc;

use nimbus_core::front::unsupported;
use nimbus_core::RequestContext;
use serde_json::{json, Map, Value};

use crate::engine::{check_capabilities, required_capability, Engine, ParamInput};
use crate::errors::{
    self, already_exists, change_set_not_found, invalid_change_set_status, no_updates, stack_not_found, validation,
    Result,
};
use crate::eval::Pseudo;
use crate::state::{change_set_key, ChangeSet, Parameter, Record, Stack};
use crate::{template, transform};

pub const MAX_TEMPLATE_BYTES: usize = 1024 * 1024;

pub struct Cfn {
    pub engine: Arc<Engine>,
}

fn s<'a>(input: &'a Value, key: &str) -> Option<&'a str> {
    input.get(key).and_then(Value::as_str)
}

fn strings(input: &Value, key: &str) -> Vec<String> {
    input
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn tags(input: &Value) -> Vec<(String, String)> {
    input
        .get("Tags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| Some((t.get("Key")?.as_str()?.to_string(), t.get("Value")?.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn param_inputs(input: &Value) -> Vec<ParamInput> {
    input
        .get("Parameters")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    Some(ParamInput {
                        key: p.get("ParameterKey")?.as_str()?.to_string(),
                        value: p.get("ParameterValue").and_then(Value::as_str).map(str::to_string),
                        use_previous: p.get("UsePreviousValue").and_then(Value::as_bool).unwrap_or(false),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn stack_arn(ctx: &RequestContext, name: &str) -> String {
    format!("arn:aws:cloudformation:{}:{}:stack/{name}/{}", ctx.region, ctx.account, uuid::Uuid::new_v4())
}

fn check_stack_name(name: &str) -> Result<()> {
    let ok = name.len() <= 128
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(validation(format!(
            "1 validation error detected: Value '{name}' at 'stackName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*"
        )))
    }
}

fn pseudo_for(ctx: &RequestContext, id: &str, name: &str, notification_arns: &[String]) -> Pseudo {
    Pseudo {
        account: ctx.account.clone(),
        region: ctx.region.clone(),
        stack_id: id.to_string(),
        stack_name: name.to_string(),
        notification_arns: notification_arns.to_vec(),
    }
}

fn param_values(params: &[Parameter]) -> BTreeMap<String, String> {
    params.iter().map(|p| (p.key.clone(), p.value.clone())).collect()
}

impl Cfn {
    pub async fn call(&self, ctx: &RequestContext, op: &str, input: Value) -> Result<Value> {
        match op {
            "CreateStack" => self.create_stack(ctx, &input).await,
            "UpdateStack" => self.update_stack(ctx, &input).await,
            "DeleteStack" => self.delete_stack(ctx, &input),
            "DescribeStacks" => self.describe_stacks(ctx, &input),
            "ListStacks" => self.list_stacks(ctx, &input),
            "DescribeStackEvents" => self.describe_events(ctx, &input),
            "DescribeStackResource" => self.describe_resource(ctx, &input),
            "DescribeStackResources" => self.describe_resources(ctx, &input),
            "ListStackResources" => self.list_resources(ctx, &input),
            "GetTemplate" => self.get_template(ctx, &input),
            "GetTemplateSummary" => self.template_summary(ctx, &input).await,
            "ValidateTemplate" => self.validate_template(ctx, &input).await,
            "UpdateTerminationProtection" => self.termination_protection(ctx, &input),
            "SetStackPolicy" => self.set_policy(ctx, &input),
            "GetStackPolicy" => {
                let stack = self.stack(ctx, s(&input, "StackName").unwrap_or_default())?;
                Ok(json!({"StackPolicyBody": stack.stack_policy}))
            }
            "ListExports" => self.list_exports(ctx),
            "ListImports" => self.list_imports(ctx, &input),
            "CreateChangeSet" => self.create_change_set(ctx, &input).await,
            "DescribeChangeSet" => self.describe_change_set(ctx, &input),
            "ExecuteChangeSet" => self.execute_change_set(ctx, &input).await,
            "DeleteChangeSet" => self.delete_change_set(ctx, &input),
            "ListChangeSets" => self.list_change_sets(ctx, &input),
            "CancelUpdateStack" | "ContinueUpdateRollback" | "SignalResource" => {
                self.stack(ctx, s(&input, "StackName").unwrap_or_default())?;
                Ok(json!({}))
            }
            _ => Err(unsupported(op)),
        }
    }

    fn stack(&self, ctx: &RequestContext, name: &str) -> Result<Stack> {
        self.engine
            .store
            .read(|s| s.find(&ctx.account, &ctx.region, name).cloned())
            .ok_or_else(|| stack_not_found(name))
    }

    /// The template body a request names: inline, or by `TemplateURL` from S3.
    async fn template_body(&self, ctx: &RequestContext, input: &Value, previous: Option<&Stack>) -> Result<String> {
        if input.get("UsePreviousTemplate").and_then(Value::as_bool) == Some(true) {
            return previous
                .map(|p| p.template_body.clone())
                .ok_or_else(|| validation("UsePreviousTemplate is only valid for updates"));
        }
        let body = match (s(input, "TemplateBody"), s(input, "TemplateURL")) {
            (Some(body), _) => body.to_string(),
            (None, Some(url)) => crate::s3url::fetch(&self.engine.api(&ctx.account, &ctx.region), url).await?,
            (None, None) => return Err(validation("Either Template URL or Template Body must be specified.")),
        };
        if body.len() > MAX_TEMPLATE_BYTES {
            return Err(validation(format!("Template may not exceed {MAX_TEMPLATE_BYTES} bytes in size.")));
        }
        Ok(body)
    }

    /// Parse and run the template's transforms.
    async fn processed(
        &self,
        ctx: &RequestContext,
        body: &str,
        capabilities: Option<&[String]>,
        params: &[ParamInput],
    ) -> Result<Value> {
        let doc = template::parse(body)?;
        let transforms = template::transforms(&doc);
        if transforms.is_empty() {
            return Ok(doc);
        }
        if let Some(caps) = capabilities {
            if !caps.iter().any(|c| c == "CAPABILITY_AUTO_EXPAND") {
                return Err(errors::insufficient_capabilities("CAPABILITY_AUTO_EXPAND"));
            }
        }
        transform::apply(doc, &transforms, ctx, params).await
    }

    async fn create_stack(&self, ctx: &RequestContext, input: &Value) -> Result<Value> {
        let name = s(input, "StackName").unwrap_or_default().to_string();
        check_stack_name(&name)?;
        if self.engine.store.read(|s| s.find(&ctx.account, &ctx.region, &name).is_some()) {
            return Err(already_exists(&name));
        }
        let capabilities = strings(input, "Capabilities");
        let params = param_inputs(input);
        let body = self.template_body(ctx, input, None).await?;
        let doc = self.processed(ctx, &body, Some(&capabilities), &params).await?;
        check_capabilities(&doc, &capabilities)?;
        let id = stack_arn(ctx, &name);
        let notification_arns = strings(input, "NotificationARNs");
        let prepared =
            self.engine.prepare(doc, &params, &pseudo_for(ctx, &id, &name, &notification_arns), None).await?;
        let disable_rollback = input.get("DisableRollback").and_then(Value::as_bool).unwrap_or(false);
        let on_failure = s(input, "OnFailure").map(str::to_string).unwrap_or_else(|| {
            if disable_rollback {
                "DO_NOTHING".into()
            } else {
                "ROLLBACK".into()
            }
        });
        let mut stack = Stack {
            id: id.clone(),
            name,
            account: ctx.account.clone(),
            region: ctx.region.clone(),
            created: self.engine.now(),
            description: prepared.template.get("Description").and_then(Value::as_str).map(str::to_string),
            template_body: body,
            template: prepared.template.clone(),
            parameters: prepared.parameters.clone(),
            capabilities,
            tags: tags(input),
            notification_arns,
            role_arn: s(input, "RoleARN").map(str::to_string),
            disable_rollback: on_failure == "DO_NOTHING",
            termination_protection: input.get("EnableTerminationProtection").and_then(Value::as_bool).unwrap_or(false),
            timeout_minutes: input.get("TimeoutInMinutes").and_then(Value::as_i64),
            stack_policy: s(input, "StackPolicyBody").map(str::to_string),
            ..Default::default()
        };
        self.engine.stack_event(&mut stack, "CREATE_IN_PROGRESS", Some("User Initiated".into()));
        tokio::spawn(self.engine.clone().run_create(stack, prepared, on_failure));
        Ok(json!({"StackId": id}))
    }

    async fn update_stack(&self, ctx: &RequestContext, input: &Value) -> Result<Value> {
        let name = s(input, "StackName").unwrap_or_default();
        let previous = self.stack(ctx, name)?;
        check_updatable(&previous)?;
        let capabilities = strings(input, "Capabilities");
        let params = param_inputs(input);
        let body = self.template_body(ctx, input, Some(&previous)).await?;
        let doc = self.processed(ctx, &body, Some(&capabilities), &params).await?;
        check_capabilities(&doc, &capabilities)?;
        let pseudo = pseudo_for(ctx, &previous.id, &previous.name, &previous.notification_arns);
        let prepared = self.engine.prepare(doc, &params, &pseudo, Some(&previous)).await?;
        let new_tags = if input.get("Tags").is_some() { tags(input) } else { previous.tags.clone() };
        if prepared.template == previous.template
            && param_values(&prepared.parameters) == param_values(&previous.parameters)
            && new_tags == previous.tags
        {
            return Err(no_updates());
        }
        let mut stack = previous.clone();
        stack.template_body = body;
        stack.parameters = prepared.parameters.clone();
        stack.capabilities = capabilities;
        stack.tags = new_tags;
        stack.description = prepared.template.get("Description").and_then(Value::as_str).map(str::to_string);
        if let Some(role) = s(input, "RoleARN") {
            stack.role_arn = Some(role.to_string());
        }
        self.engine.stack_event(&mut stack, "UPDATE_IN_PROGRESS", Some("User Initiated".into()));
        tokio::spawn(self.engine.clone().run_update(stack, prepared, previous.clone()));
        Ok(json!({"StackId": previous.id}))
    }

    fn delete_stack(&self, ctx: &RequestContext, input: &Value) -> Result<Value> {
        let name = s(input, "StackName").unwrap_or_default();
        let Ok(mut stack) = self.stack(ctx, name) else { return Ok(json!({})) };
        if stack.is_deleted() || stack.status == "DELETE_IN_PROGRESS" {
            return Ok(json!({}));
        }
        if stack.termination_protection {
            return Err(validation(format!(
                "Stack [{}] cannot be deleted while TerminationProtection is enabled",
                stack.name
            )));
        }
        if stack.in_progress() {
            return Err(validation(format!(
                "Stack [{}] cannot be deleted while in status {}",
                stack.name, stack.status
            )));
        }
        self.engine.stack_event(&mut stack, "DELETE_IN_PROGRESS", Some("User Initiated".into()));
        // Change sets go with their stack.
        let sets: Vec<String> = self
            .engine
            .store
            .read(|s| s.change_sets.values().filter(|c| c.stack_id == stack.id).map(|c| c.id.clone()).collect());
        let _ = self.engine.store.write(|_, c| {
            for id in &sets {
                c.delete(change_set_key(id));
            }
            Ok(())
        });
        tokio::spawn(self.engine.clone().run_delete(stack));
        Ok(json!({}))
    }

    fn describe_stacks(&self, ctx: &RequestContext, input: &Value) -> Result<Value> {
        let stacks: Vec<Stack> = match s(input, "StackName") {
            Some(name) => vec![self.stack(ctx, name)?],
            None => self.engine.store.read(|s| {
                s.stacks
                    .values()
                    .filter(|x| x.account == ctx.account && x.region == ctx.region && !x.is_deleted())
                    .cloned()
                    .collect()
            }),
        };
        Ok(json!({"Stacks": stacks.iter().map(stack_json).collect::<Vec<_>>()}))
    }

    fn list_stacks(&self, ctx: &RequestContext, input: &Value) -> Result<Value> {
        let filter = strings(input, "StackStatusFilter");
        let mut stacks: Vec<Stack> = self.engine.store.read(|s| {
            s.stacks
                .values()
                .filter(|x| x.account == ctx.account && x.region == ctx.region)
                .filter(|x| filter.is_empty() || filter.contains(&x.status))
                .cloned()
                .collect()
        });
        stacks.sort_by(|a, b| b.created.cmp(&a.created));
        let summaries: Vec<Value> = stacks
            .iter()
            .map(|st| {
                json!({
                    "StackId": st.id, "StackName": st.name, "TemplateDescription": st.description,
                    "CreationTime": st.created, "LastUpdatedTime": st.updated, "DeletionTime": st.deleted,
                    "StackStatus": st.status, "StackStatusReason": st.status_reason,
                    "ParentId": st.parent_id, "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"}
                })
            })
            .collect();
        Ok(json!({"StackSummaries": summaries}))
    }

    fn describe_events(&self, ctx: &RequestContext, input: &Value) -> Result<Value> {
        let stack = self.stack(ctx, s(input, "StackName").unwrap_or_default())?;
        let events: Vec<Value> = stack
            .events
            .iter()
            .rev()
            .map(|e| {
                json!({
                    "StackId": stack.id, "EventId": e.event_id, "StackName": stack.name,
                    "LogicalResourceId": e.logical_id, "PhysicalResourceId": e.physical_id,
                    "ResourceType": e.resource_type, "Timestamp": e.timestamp, "ResourceStatus": e.status,
                    "ResourceStatusReason": e.reason, "ResourceProperties": e.properties
                })
            })
            .collect();
        Ok(json!({"StackEvents": events}))
    }

    fn resources_of(&self, ctx: &RequestContext, input: &Value) -> Result<(Stack, Vec<crate::state::Resource>)> {
        let stack = match (s(input, "StackName"), s(input, "PhysicalResourceId")) {
            (Some(name), _) => self.stack(ctx, name)?,
            (None, Some(physical)) => self
                .engine
                .store
                .read(|s| {
                    s.stacks
                        .values()
                        .find(|st| {
                            st.account == ctx.account
                                && !st.is_deleted()
                                && st.resources.values().any(|r| r.physical_id.as_deref() == Some(physical))
                        })
                        .cloned()
                })
                .ok_or_else(|| validation(format!("Stack for {physical} does not exist")))?,
            (None, None) => return Err(validation("Either StackName or PhysicalResourceId must be specified.")),
        };
        let logical = s(input, "LogicalResourceId");
        let resources =
            stack.resources.values().filter(|r| logical.is_none_or(|l| l == r.logical_id)).cloned().collect();
        Ok((stack, resources))
    }

    fn describe_resource(&self, ctx: &RequestContext, input: &Value) -> Result<Value> {
        let stack = self.stack(ctx, s(input, "StackName").unwrap_or_default())?;
        let logical = s(input, "LogicalResourceId").unwrap_or_default();
        let r = stack
            .resources
            .get(logical)
            .ok_or_else(|| validation(format!("Resource {logical} does not exist for stack {}", stack.name)))?;
        Ok(json!({"StackResourceDetail": {
            "StackName": stack.name, "StackId": stack.id, "LogicalResourceId": r.logical_id,
            "PhysicalResourceId": r.physical_id, "ResourceType": r.resource_type,
            "LastUpdatedTimestamp": r.updated, "ResourceStatus": r.status, "ResourceStatusReason": r.reason,
            "Metadata": r.metadata.as_ref().map(Value::to_string),
            "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"}
        }}))
    }

    fn describe_resources(&self, ctx: &RequestContext, input: &Value) -> Result<Value> {
        let (stack, resources) = self.resources_of(ctx, input)?;
        let items: Vec<Value> = resources
            .iter()
            .map(|r| {
                json!({
                    "StackName": stack.name, "StackId": stack.id, "LogicalResourceId": r.logical_id,
                    "PhysicalResourceId": r.physical_id, "ResourceType": r.resource_type, "Timestamp": r.updated,
                    "ResourceStatus": r.status, "ResourceStatusReason": r.reason,
                    "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"}
                })
            })
            .collect();
        Ok(json!({"StackResources": items}))
    }

    fn list_resources(&self, ctx: &RequestContext, input: &Value) -> Result<Value> {
        let stack = self.stack(ctx, s(input, "StackName").unwrap_or_default())?;
        let items: Vec<Value> = stack
            .resources
            .values()
            .map(|r| {
                json!({
                    "LogicalResourceId": r.logical_id, "PhysicalResourceId": r.physical_id,
                    "ResourceType": r.resource_type, "LastUpdatedTimestamp": r.updated,
                    "ResourceStatus": r.status, "ResourceStatusReason": r.reason,
                    "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"}
                })
            })
            .collect();
        Ok(json!({"StackResourceSummaries": items}))
    }

    fn get_template(&self, ctx: &RequestContext, input: &Value) -> Result<Value> {
        let processed = s(input, "TemplateStage") == Some("Processed");
        if let Some(cs) = s(input, "ChangeSetName") {
            let set = self
                .engine
                .store
                .read(|st| st.change_set(&ctx.account, &ctx.region, cs, s(input, "StackName")).cloned())
                .ok_or_else(|| change_set_not_found(cs))?;
            let body = if processed {
                serde_json::to_string_pretty(&set.template).unwrap_or_default()
            } else {
                set.template_body
            };
            return Ok(json!({"TemplateBody": body, "StagesAvailable": ["Original", "Processed"]}));
        }
        let stack = self.stack(ctx, s(input, "StackName").unwrap_or_default())?;
        let body = if processed {
            serde_json::to_string_pretty(&stack.template).unwrap_or_default()
        } else {
            stack.template_body
        };
        Ok(json!({"TemplateBody": body, "StagesAvailable": ["Original", "Processed"]}))
    }

    async fn summary_doc(&self, ctx: &RequestContext, input: &Value) -> Result<(Value, Value)> {
        let body = match s(input, "StackName") {
            Some(name) if s(input, "TemplateBody").is_none() && s(input, "TemplateURL").is_none() => {
                self.stack(ctx, name)?.template_body
            }
            _ => self.template_body(ctx, input, None).await?,
        };
        let original = template::parse(&body)?;
        let processed = if template::transforms(&original).is_empty() {
            original.clone()
        } else {
            transform::apply(original.clone(), &template::transforms(&original), ctx, &[]).await?
        };
        template::check(&processed)?;
        Ok((original, processed))
    }

    async fn template_summary(&self, ctx: &RequestContext, input: &Value) -> Result<Value> {
        let (original, doc) = self.summary_doc(ctx, input).await?;
        let mut out = summary_parameters(&doc, true);
        let types: std::collections::BTreeSet<String> = doc["Resources"]
            .as_object()
            .map(|r| r.values().filter_map(|v| v["Type"].as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        out["ResourceTypes"] = json!(types);
        out["Version"] = doc.get("AWSTemplateFormatVersion").cloned().unwrap_or(json!("2010-09-09"));
        if let Some(m) = doc.get("Metadata") {
            out["Metadata"] = Value::String(m.to_string());
        }
        let ids: Vec<Value> = doc["Resources"]
            .as_object()
            .map(|r| r.iter().map(|(k, v)| json!({"ResourceType": v["Type"], "LogicalResourceIds": [k], "ResourceIdentifiers": []})).collect())
            .unwrap_or_default();
        out["ResourceIdentifierSummaries"] = Value::Array(ids);
        out["DeclaredTransforms"] = json!(template::transforms(&original));
        Ok(out)
    }

    async fn validate_template(&self, ctx: &RequestContext, input: &Value) -> Result<Value> {
        let (original, doc) = self.summary_doc(ctx, input).await?;
        if let Some(name) = crate::eval::find_unsupported(&doc) {
            return Err(validation(crate::eval::unsupported_function(&name)));
        }
        let resources = doc["Resources"].as_object().cloned().unwrap_or_default();
        let names: std::collections::BTreeSet<String> =
            doc.get("Parameters").and_then(Value::as_object).map(|p| p.keys().cloned().collect()).unwrap_or_default();
        let deps = crate::graph::dependencies(&resources, &names).map_err(validation)?;
        crate::graph::waves(&deps).map_err(validation)?;
        let mut out = summary_parameters(&doc, false);
        out["DeclaredTransforms"] = json!(template::transforms(&original));
        Ok(out)
    }

    fn termination_protection(&self, ctx: &RequestContext, input: &Value) -> Result<Value> {
        let mut stack = self.stack(ctx, s(input, "StackName").unwrap_or_default())?;
        stack.termination_protection =
            input.get("EnableTerminationProtection").and_then(Value::as_bool).unwrap_or(false);
        self.engine.save(&stack);
        Ok(json!({"StackId": stack.id}))
    }

    fn set_policy(&self, ctx: &RequestContext, input: &Value) -> Result<Value> {
        let mut stack = self.stack(ctx, s(input, "StackName").unwrap_or_default())?;
        stack.stack_policy =
            s(input, "StackPolicyBody").map(str::to_string).or(s(input, "StackPolicyURL").map(str::to_string));
        self.engine.save(&stack);
        Ok(json!({}))
    }

    fn list_exports(&self, ctx: &RequestContext) -> Result<Value> {
        let exports = self.engine.store.read(|s| s.exports(&ctx.account, &ctx.region));
        let items: Vec<Value> = exports
            .into_iter()
            .map(|(name, (value, owner))| json!({"ExportingStackId": owner, "Name": name, "Value": value}))
            .collect();
        Ok(json!({"Exports": items}))
    }

    fn list_imports(&self, ctx: &RequestContext, input: &Value) -> Result<Value> {
        let export = s(input, "ExportName").unwrap_or_default();
        let exports = self.engine.store.read(|s| s.exports(&ctx.account, &ctx.region));
        if !exports.contains_key(export) {
            return Err(validation(format!("Export '{export}' does not exist.")));
        }
        let users: Vec<String> = self.engine.store.read(|s| {
            s.stacks
                .values()
                .filter(|st| {
                    st.account == ctx.account
                        && st.region == ctx.region
                        && !st.is_deleted()
                        && st.imports.iter().any(|i| i == export)
                })
                .map(|st| st.name.clone())
                .collect()
        });
        Ok(json!({"Imports": users}))
    }

    async fn create_change_set(&self, ctx: &RequestContext, input: &Value) -> Result<Value> {
        let name = s(input, "StackName").unwrap_or_default().to_string();
        let cs_name = s(input, "ChangeSetName").unwrap_or_default().to_string();
        let kind = s(input, "ChangeSetType").unwrap_or("UPDATE").to_string();
        let existing = self.engine.store.read(|s| s.find(&ctx.account, &ctx.region, &name).cloned());
        let previous = match (kind.as_str(), existing) {
            ("CREATE", Some(st)) if st.status != "REVIEW_IN_PROGRESS" => {
                return Err(validation(format!(
                    "Stack [{name}] already exists and cannot be created again with the changeSet [{cs_name}]."
                )))
            }
            ("CREATE", st) => {
                check_stack_name(&name)?;
                st
            }
            (_, None) => return Err(validation(format!("Stack [{name}] does not exist"))),
            (_, Some(st)) if st.status == "REVIEW_IN_PROGRESS" => {
                return Err(validation(format!("Stack [{name}] does not exist")))
            }
            (_, Some(st)) => {
                check_updatable(&st)?;
                Some(st)
            }
        };
        if let Some(st) = &previous {
            if self.engine.store.read(|s| s.change_sets.values().any(|c| c.stack_id == st.id && c.name == cs_name)) {
                return Err(AlreadyExists::change_set(&cs_name));
            }
        }
        let capabilities = strings(input, "Capabilities");
        let params = param_inputs(input);
        let update_previous = previous.clone().filter(|_| kind != "CREATE");
        let body = self.template_body(ctx, input, update_previous.as_ref()).await?;
        let doc = self.processed(ctx, &body, None, &params).await?;
        check_capabilities(&doc, &capabilities)?;
        let (stack_id, mut stack) = match previous {
            Some(st) => (st.id.clone(), st),
            None => {
                let id = stack_arn(ctx, &name);
                let st = Stack {
                    id: id.clone(),
                    name: name.clone(),
                    account: ctx.account.clone(),
                    region: ctx.region.clone(),
                    created: self.engine.now(),
                    template: json!({}),
                    ..Default::default()
                };
                (id, st)
            }
        };
        let notification_arns = strings(input, "NotificationARNs");
        let pseudo = pseudo_for(ctx, &stack_id, &name, &notification_arns);
        let prepared = self.engine.prepare(doc, &params, &pseudo, update_previous.as_ref()).await?;
        let new_stack = stack.status.is_empty();
        if new_stack {
            stack.template_body = body.clone();
            self.engine.stack_event(&mut stack, "REVIEW_IN_PROGRESS", Some("User Initiated".into()));
        }
        let changes = self.engine.changes(&stack, &prepared);
        let unchanged = kind != "CREATE"
            && prepared.template == stack.template
            && param_values(&prepared.parameters) == param_values(&stack.parameters)
            && (input.get("Tags").is_none() || tags(input) == stack.tags);
        let id = format!(
            "arn:aws:cloudformation:{}:{}:changeSet/{cs_name}/{}",
            ctx.region,
            ctx.account,
            uuid::Uuid::new_v4()
        );
        let (status, reason, execution) = if unchanged
            || (changes.is_empty() && kind != "CREATE" && prepared.template["Outputs"] == stack.template["Outputs"])
        {
            ("FAILED", Some("The submitted information didn't contain changes. Submit different information to create a change set.".to_string()), "UNAVAILABLE")
        } else {
            ("CREATE_COMPLETE", None, "AVAILABLE")
        };
        let set = ChangeSet {
            id: id.clone(),
            name: cs_name,
            stack_id: stack_id.clone(),
            stack_name: name,
            change_set_type: kind,
            status: status.into(),
            status_reason: reason,
            execution_status: execution.into(),
            created: self.engine.now(),
            description: s(input, "Description").map(str::to_string),
            template_body: body,
            template: prepared.template,
            parameters: prepared.parameters,
            capabilities,
            tags: if input.get("Tags").is_some() { tags(input) } else { stack.tags.clone() },
            notification_arns,
            role_arn: s(input, "RoleARN").map(str::to_string),
            changes,
            include_nested: input.get("IncludeNestedStacks").and_then(Value::as_bool).unwrap_or(false),
        };
        self.engine.store.write(|_, c| {
            c.put(change_set_key(&id), Record::ChangeSet(Box::new(set)));
            Ok(())
        })?;
        Ok(json!({"Id": id, "StackId": stack_id}))
    }

    fn find_change_set(&self, ctx: &RequestContext, input: &Value) -> Result<ChangeSet> {
        let name = s(input, "ChangeSetName").unwrap_or_default();
        self.engine
            .store
            .read(|st| st.change_set(&ctx.account, &ctx.region, name, s(input, "StackName")).cloned())
            .ok_or_else(|| change_set_not_found(name))
    }

    fn describe_change_set(&self, ctx: &RequestContext, input: &Value) -> Result<Value> {
        let c = self.find_change_set(ctx, input)?;
        Ok(json!({
            "ChangeSetName": c.name, "ChangeSetId": c.id, "StackId": c.stack_id, "StackName": c.stack_name,
            "Description": c.description,
            "Parameters": c.parameters.iter().map(param_json).collect::<Vec<_>>(),
            "CreationTime": c.created, "ExecutionStatus": c.execution_status, "Status": c.status,
            "StatusReason": c.status_reason, "NotificationARNs": c.notification_arns,
            "RollbackConfiguration": {}, "Capabilities": c.capabilities,
            "Tags": c.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>(),
            "Changes": c.changes, "IncludeNestedStacks": c.include_nested
        }))
    }

    async fn execute_change_set(&self, ctx: &RequestContext, input: &Value) -> Result<Value> {
        let mut set = self.find_change_set(ctx, input)?;
        if set.execution_status != "AVAILABLE" {
            return Err(invalid_change_set_status(format!(
                "ChangeSet [{}] cannot be executed in its current execution status of [{}]",
                set.id, set.execution_status
            )));
        }
        let previous = self
            .engine
            .store
            .read(|s| s.stacks.get(&set.stack_id).cloned())
            .ok_or_else(|| stack_not_found(&set.stack_name))?;
        let inputs: Vec<ParamInput> = set
            .parameters
            .iter()
            .map(|p| ParamInput { key: p.key.clone(), value: Some(p.value.clone()), use_previous: false })
            .collect();
        let pseudo = pseudo_for(ctx, &previous.id, &previous.name, &set.notification_arns);
        let prepared = self.engine.prepare(set.template.clone(), &inputs, &pseudo, Some(&previous)).await?;
        set.execution_status = "EXECUTE_IN_PROGRESS".into();
        let mut stack = previous.clone();
        stack.template_body = set.template_body.clone();
        stack.parameters = prepared.parameters.clone();
        stack.capabilities = set.capabilities.clone();
        stack.tags = set.tags.clone();
        stack.notification_arns = set.notification_arns.clone();
        stack.change_set_id = Some(set.id.clone());
        stack.description = prepared.template.get("Description").and_then(Value::as_str).map(str::to_string);
        if set.role_arn.is_some() {
            stack.role_arn = set.role_arn.clone();
        }
        let disable_rollback = input.get("DisableRollback").and_then(Value::as_bool).unwrap_or(false);
        let others: Vec<String> = self.engine.store.read(|s| {
            s.change_sets
                .values()
                .filter(|c| c.stack_id == set.stack_id && c.id != set.id)
                .map(|c| c.id.clone())
                .collect()
        });
        self.engine.store.write(|_, c| {
            c.put(change_set_key(&set.id), Record::ChangeSet(Box::new(set.clone())));
            for id in &others {
                c.delete(change_set_key(id));
            }
            Ok(())
        })?;
        let engine = self.engine.clone();
        let creating = set.change_set_type == "CREATE";
        if creating {
            stack.template = prepared.template.clone();
            self.engine.stack_event(&mut stack, "CREATE_IN_PROGRESS", Some("User Initiated".into()));
        } else {
            self.engine.stack_event(&mut stack, "UPDATE_IN_PROGRESS", Some("User Initiated".into()));
        }
        let set_id = set.id.clone();
        tokio::spawn(async move {
            if creating {
                let on_failure = if disable_rollback { "DO_NOTHING" } else { "ROLLBACK" };
                engine.clone().run_create(stack, prepared, on_failure.into()).await;
            } else {
                engine.clone().run_update(stack, prepared, previous).await;
            }
            let done = engine.store.read(|s| s.change_sets.get(&set_id).cloned());
            if let Some(mut done) = done {
                done.execution_status = "EXECUTE_COMPLETE".into();
                let _ = engine.store.write(|_, c| {
                    c.put(change_set_key(&done.id), Record::ChangeSet(Box::new(done)));
                    Ok(())
                });
            }
        });
        Ok(json!({}))
    }

    fn delete_change_set(&self, ctx: &RequestContext, input: &Value) -> Result<Value> {
        let set = self.find_change_set(ctx, input)?;
        if set.execution_status == "EXECUTE_IN_PROGRESS" {
            return Err(invalid_change_set_status(format!(
                "Cannot delete ChangeSet in status {}",
                set.execution_status
            )));
        }
        self.engine.store.write(|_, c| {
            c.delete(change_set_key(&set.id));
            Ok(())
        })?;
        Ok(json!({}))
    }

    fn list_change_sets(&self, ctx: &RequestContext, input: &Value) -> Result<Value> {
        let stack = self.stack(ctx, s(input, "StackName").unwrap_or_default())?;
        let items: Vec<Value> = self.engine.store.read(|s| {
            s.change_sets
                .values()
                .filter(|c| c.stack_id == stack.id)
                .map(|c| {
                    json!({
                        "StackId": c.stack_id, "StackName": c.stack_name, "ChangeSetId": c.id, "ChangeSetName": c.name,
                        "ExecutionStatus": c.execution_status, "Status": c.status, "StatusReason": c.status_reason,
                        "CreationTime": c.created, "Description": c.description, "IncludeNestedStacks": c.include_nested
                    })
                })
                .collect()
        });
        Ok(json!({"Summaries": items}))
    }
}

struct AlreadyExists;

impl AlreadyExists {
    fn change_set(name: &str) -> nimbus_core::AwsError {
        nimbus_core::AwsError::new(400, "AlreadyExistsException", format!("ChangeSet {name} already exists"))
    }
}

fn check_updatable(stack: &Stack) -> Result<()> {
    const OK: &[&str] = &[
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE",
    ];
    if OK.contains(&stack.status.as_str()) {
        Ok(())
    } else {
        Err(validation(format!("Stack:{} is in {} state and can not be updated.", stack.id, stack.status)))
    }
}

fn param_json(p: &Parameter) -> Value {
    let mut v =
        json!({"ParameterKey": p.key, "ParameterValue": if p.no_echo { "****".to_string() } else { p.value.clone() }});
    if let Some(r) = &p.resolved {
        v["ResolvedValue"] = Value::String(if p.no_echo { "****".into() } else { r.clone() });
    }
    v
}

pub fn stack_json(st: &Stack) -> Value {
    json!({
        "StackId": st.id, "StackName": st.name, "ChangeSetId": st.change_set_id, "Description": st.description,
        "Parameters": st.parameters.iter().map(param_json).collect::<Vec<_>>(),
        "CreationTime": st.created, "DeletionTime": st.deleted, "LastUpdatedTime": st.updated,
        "RollbackConfiguration": {}, "StackStatus": st.status, "StackStatusReason": st.status_reason,
        "DisableRollback": st.disable_rollback, "NotificationARNs": st.notification_arns,
        "TimeoutInMinutes": st.timeout_minutes, "Capabilities": st.capabilities,
        "Outputs": st.outputs.iter().map(|o| json!({"OutputKey": o.key, "OutputValue": o.value, "Description": o.description, "ExportName": o.export_name})).collect::<Vec<_>>(),
        "RoleARN": st.role_arn,
        "Tags": st.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>(),
        "EnableTerminationProtection": st.termination_protection, "ParentId": st.parent_id,
        "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"}
    })
}

/// Parameters (and the capabilities the template needs) as ValidateTemplate and
/// GetTemplateSummary answer them.
fn summary_parameters(doc: &Value, with_types: bool) -> Value {
    let params: Vec<Value> = doc
        .get("Parameters")
        .and_then(Value::as_object)
        .map(|p| {
            p.iter()
                .map(|(k, d)| {
                    let mut v = Map::new();
                    v.insert("ParameterKey".into(), json!(k));
                    if let Some(def) = d.get("Default").and_then(crate::eval::text_of) {
                        v.insert("DefaultValue".into(), json!(def));
                    }
                    v.insert("NoEcho".into(), json!(d.get("NoEcho").is_some_and(|n| n == &json!(true) || n == "true")));
                    if let Some(desc) = d.get("Description") {
                        v.insert("Description".into(), desc.clone());
                    }
                    if with_types {
                        v.insert("ParameterType".into(), d["Type"].clone());
                        if let Some(allowed) = d.get("AllowedValues") {
                            v.insert("ParameterConstraints".into(), json!({"AllowedValues": allowed.as_array().map(|a| a.iter().filter_map(crate::eval::text_of).collect::<Vec<_>>())}));
                        }
                    }
                    Value::Object(v)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut out = json!({"Parameters": params, "Description": doc.get("Description")});
    if let Some((cap, types)) = required_capability(doc) {
        out["Capabilities"] = json!([cap]);
        out["CapabilitiesReason"] =
            json!(format!("The following resource(s) require capabilities: [{}]", types.join(", ")));
    }
    out
}
