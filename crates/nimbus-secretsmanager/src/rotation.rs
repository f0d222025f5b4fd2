//! RotateSecret for real: Secrets Manager stages a new version as `AWSPENDING` (no value yet),
//! then invokes the rotation function four times, `createSecret`, `setSecret`, `testSecret`,
//! `finishSecret`, as AWS does; the function itself stores the new value and moves
//! `AWSCURRENT`. A failed step stops the rotation and leaves `AWSPENDING` where it is.
//! Schedules (`AutomaticallyAfterDays`, `rate(…)`) fire on nimbus's clock.

use std::sync::Arc;

use nimbus_core::delivery::Source;
use nimbus_core::invoke::{FunctionInvoker, Invocation};
use nimbus_core::members::str_of;
use serde_json::{json, Value};

use crate::secrets::{
    invalid_parameter, invalid_request, Ctx, Result, Secret, SecretVersion, Secrets, CURRENT, PENDING,
};

const DAY: f64 = 86_400.0;

/// The interval a rotation schedule gives, in seconds (`cron(…)` schedules are taken as daily).
fn interval(rules: &Value) -> Option<f64> {
    if let Some(days) = rules.get("AutomaticallyAfterDays").and_then(Value::as_f64) {
        return Some(days * DAY);
    }
    let expr = rules.get("ScheduleExpression").and_then(Value::as_str)?;
    if let Some(body) = expr.strip_prefix("rate(").and_then(|b| b.strip_suffix(')')) {
        let (n, unit) = body.trim().split_once(' ')?;
        let n: f64 = n.parse().ok()?;
        return match unit.trim_end_matches('s') {
            "day" => Some(n * DAY),
            "hour" => Some(n * 3600.0),
            _ => None,
        };
    }
    expr.starts_with("cron(").then_some(DAY)
}

impl Secrets {
    /// Configure rotation and, unless `RotateImmediately` is false, start one. The steps run
    /// in the background, as on AWS; the answer names the pending version.
    pub fn rotate_secret(
        self: &Arc<Self>,
        ctx: &Ctx,
        input: &Value,
        invoker: Option<Arc<dyn FunctionInvoker>>,
    ) -> Result<Value> {
        let id = str_of(input, "SecretId").unwrap_or_default();
        let secret = self.secret(ctx, id)?;
        if secret.deleted_date.is_some() {
            return Err(invalid_request(
                "You can't perform this operation on the secret because it was marked for deletion.",
            ));
        }
        let lambda = str_of(input, "RotationLambdaARN").map(String::from).or(secret.rotation.lambda_arn.clone());
        let Some(lambda) = lambda else {
            return Err(invalid_request("No Lambda rotation function ARN is associated with this secret."));
        };
        let rules = input.get("RotationRules").cloned().or(secret.rotation.rules.clone());
        if let Some(r) = &rules {
            if r.get("AutomaticallyAfterDays").is_some() && r.get("ScheduleExpression").is_some() {
                return Err(invalid_parameter(
                    "You can't specify both AutomaticallyAfterDays and ScheduleExpression in RotationRules.",
                ));
            }
            if (r.get("AutomaticallyAfterDays").is_some() || r.get("ScheduleExpression").is_some())
                && interval(r).is_none()
            {
                return Err(invalid_parameter("The schedule expression is not valid."));
            }
        }
        let immediately = input.get("RotateImmediately").and_then(Value::as_bool).unwrap_or(true);
        let token =
            str_of(input, "ClientRequestToken").map(String::from).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let mut updated = secret.clone();
        updated.rotation.enabled = true;
        updated.rotation.lambda_arn = Some(lambda.clone());
        updated.rotation.rules = rules.clone();
        let base = secret.rotation.last_rotated.unwrap_or(ctx.now);
        updated.rotation.next_rotation = rules.as_ref().and_then(interval).map(|i| base.max(ctx.now) + i);
        if immediately {
            Self::stage_pending(&mut updated, &token, ctx.now);
        }
        self.save_secret(&updated)?;
        if immediately {
            let Some(invoker) = invoker else {
                return Err(invalid_request("nimbus has no Lambda to run the rotation function"));
            };
            self.spawn_rotation(ctx.clone(), updated.arn.clone(), lambda, token.clone(), invoker);
        }
        Ok(json!({"ARN": updated.arn, "Name": updated.name, "VersionId": token}))
    }

    /// A version with no value yet, labelled AWSPENDING (taken from any other version).
    fn stage_pending(secret: &mut Secret, token: &str, now: f64) {
        if !secret.versions.iter().any(|v| v.id == token) {
            secret.versions.push(SecretVersion {
                id: token.to_string(),
                stages: Vec::new(),
                created: now,
                last_accessed: None,
                value: None,
            });
        }
        secret.move_stage(PENDING, token);
    }

    fn spawn_rotation(
        self: &Arc<Self>,
        ctx: Ctx,
        arn: String,
        lambda: String,
        token: String,
        invoker: Arc<dyn FunctionInvoker>,
    ) {
        let me = self.clone();
        tokio::spawn(async move {
            match me.run_steps(&ctx, &arn, &lambda, &token, &*invoker).await {
                Ok(()) => tracing::info!(secret = %arn, version = %token, "rotation finished"),
                Err(e) => tracing::warn!(secret = %arn, version = %token, error = %e, "rotation failed"),
            }
        });
    }

    async fn run_steps(
        &self,
        ctx: &Ctx,
        arn: &str,
        lambda: &str,
        token: &str,
        invoker: &dyn FunctionInvoker,
    ) -> std::result::Result<(), String> {
        for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
            let payload = json!({
                "Step": step, "SecretId": arn, "ClientRequestToken": token,
                "RotationToken": uuid::Uuid::new_v4().to_string(),
            });
            let call = Invocation {
                account: ctx.account.clone(),
                region: ctx.region.clone(),
                function: lambda.to_string(),
                payload: payload.to_string().into_bytes(),
                // As on AWS, the rotation function's policy must allow Secrets Manager.
                source: Source {
                    principal: "secretsmanager.amazonaws.com".into(),
                    source_arn: Some(arn.to_string()),
                    source_account: Some(ctx.account.clone()),
                },
            };
            let out = invoker.invoke(call).await.map_err(|e| format!("{step}: {}", e.message))?;
            if let Some(err) = out.function_error {
                return Err(format!("{step} failed ({err}): {}", String::from_utf8_lossy(&out.payload)));
            }
        }
        // The function moved AWSCURRENT in finishSecret; the rotation is complete only then.
        let now = self.clock.now_millis() as f64 / 1000.0;
        let finished = self
            .store
            .write(|db, changes| {
                let Some(mut s) = db.0.get(arn).cloned() else { return Ok(false) };
                let current =
                    s.versions.iter().find(|v| v.id == token).is_some_and(|v| v.stages.iter().any(|x| x == CURRENT));
                if current {
                    for v in &mut s.versions {
                        if v.id == token {
                            v.stages.retain(|x| x != PENDING);
                        }
                    }
                    s.rotation.last_rotated = Some(now);
                    if let Some(i) = s.rotation.rules.as_ref().and_then(interval) {
                        s.rotation.next_rotation = Some(now + i);
                    }
                    changes.put(arn.to_string(), s);
                }
                Ok(current)
            })
            .map_err(|e| e.to_string())?;
        if finished {
            Ok(())
        } else {
            Err("finishSecret did not make the pending version AWSCURRENT".into())
        }
    }

    /// Start the rotations whose schedule is due.
    pub fn sweep_rotations(self: &Arc<Self>, invoker: Option<Arc<dyn FunctionInvoker>>) {
        let Some(invoker) = invoker else { return };
        let now = self.clock.now_millis() as f64 / 1000.0;
        let due: Vec<Secret> = self.store.read(|db| {
            db.0.values()
                .filter(|s| {
                    s.deleted_date.is_none() && s.rotation.enabled && s.rotation.next_rotation.is_some_and(|n| n <= now)
                })
                .cloned()
                .collect()
        });
        for mut secret in due {
            let Some(lambda) = secret.rotation.lambda_arn.clone() else { continue };
            let token = uuid::Uuid::new_v4().to_string();
            Self::stage_pending(&mut secret, &token, now);
            // Not due again until this one has had its chance.
            let i = secret.rotation.rules.as_ref().and_then(interval).unwrap_or(DAY);
            secret.rotation.next_rotation = Some(now + i);
            if let Err(e) = self.save_secret(&secret) {
                tracing::error!(secret = %secret.arn, error = %e, "could not start a scheduled rotation");
                continue;
            }
            let ctx = Ctx { account: secret.account.clone(), region: secret.region.clone(), now };
            self.spawn_rotation(ctx, secret.arn.clone(), lambda, token, invoker.clone());
        }
    }

    pub fn cancel_rotation(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let id = str_of(input, "SecretId").unwrap_or_default();
        let mut s = self.secret(ctx, id)?;
        if !s.rotation.enabled {
            return Err(invalid_request("Secret is not configured for rotation."));
        }
        s.rotation.enabled = false;
        s.rotation.next_rotation = None;
        let pending = s.versions.iter().find(|v| v.stages.iter().any(|x| x == PENDING)).map(|v| v.id.clone());
        for v in &mut s.versions {
            v.stages.retain(|x| x != PENDING);
        }
        self.save_secret(&s)?;
        let mut out = json!({"ARN": s.arn, "Name": s.name});
        if let Some(p) = pending {
            out["VersionId"] = json!(p);
        }
        Ok(out)
    }
}
