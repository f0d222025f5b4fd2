//! HTTP and WebSocket APIs (`apigatewayv2` 2018-11-29): one plain function per operation over
//! [`Gateways`]. Documents use the model's member names (`ApiId`, `RouteKey`, …); the front
//! writes their wire names. Updates merge the members given, as v2's Update* operations do.

use nimbus_core::state::Changes;
use nimbus_core::{AwsError, RequestContext};
use serde_json::{json, Map, Value};

use crate::state::{http_key, Docs, Gateways, HttpApi, Record};
use crate::util::{bad_request, conflict, items, new_id, not_found, str_of, text};

pub type Out = Result<Value, AwsError>;

fn now(ctx: &RequestContext) -> Value {
    json!(ctx.clock.now().format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// `http://<id>.execute-api.<region>.localhost:<port>`: the host form of the API's address.
fn endpoint(ctx: &RequestContext, id: &str, websocket: bool) -> String {
    let port = ctx.endpoint.rsplit(':').next().filter(|p| p.chars().all(|c| c.is_ascii_digit())).unwrap_or("4566");
    let scheme = if websocket { "ws" } else { "http" };
    format!("{scheme}://{id}.execute-api.{}.localhost:{port}", ctx.region)
}

fn api<'a>(g: &'a Gateways, ctx: &RequestContext, input: &Value) -> Result<&'a HttpApi, AwsError> {
    let id = text(input, "ApiId");
    g.http.get(&http_key(&ctx.account, &ctx.region, &id)).ok_or_else(|| {
        not_found(format!("Invalid API identifier specified {}:{id}", ctx.account)).with_extra("resourceType", "Api")
    })
}

fn save(changes: &mut Changes<Record>, api: HttpApi) {
    let id = text(&api.doc, "ApiId");
    changes.put(http_key(&api.account, &api.region, &id), Record::Http(Box::new(api)));
}

fn edit(
    g: &Gateways,
    ctx: &RequestContext,
    input: &Value,
    changes: &mut Changes<Record>,
    f: impl FnOnce(&mut HttpApi) -> Out,
) -> Out {
    let mut api = api(g, ctx, input)?.clone();
    let out = f(&mut api)?;
    save(changes, api);
    Ok(out)
}

/// `input` without the members that address the document (they are in the URI).
fn members(input: &Value, drop: &[&str]) -> Map<String, Value> {
    let mut m = input.as_object().cloned().unwrap_or_default();
    for k in drop {
        m.remove(*k);
    }
    m.retain(|_, v| !v.is_null());
    m
}

fn merge(doc: &mut Value, input: &Value, drop: &[&str]) {
    for (k, v) in members(input, drop) {
        doc[k] = v;
    }
}

pub fn create_api(ctx: &RequestContext, input: &Value, changes: &mut Changes<Record>) -> Out {
    let id = new_id(10);
    let protocol = text(input, "ProtocolType");
    let websocket = protocol == "WEBSOCKET";
    if websocket && str_of(input, "RouteSelectionExpression").is_none() {
        return Err(bad_request("RouteSelectionExpression is required for WEBSOCKET APIs"));
    }
    let mut doc = json!({
        "ApiId": id, "ApiEndpoint": endpoint(ctx, &id, websocket), "CreatedDate": now(ctx),
        "ApiKeySelectionExpression": "$request.header.x-api-key", "DisableExecuteApiEndpoint": false,
        "RouteSelectionExpression": "$request.method $request.path", "Tags": {}, "IpAddressType": "ipv4",
    });
    merge(&mut doc, input, &["Target", "RouteKey", "CredentialsArn"]);
    let mut api =
        HttpApi { account: ctx.account.clone(), region: ctx.region.clone(), doc: doc.clone(), ..Default::default() };
    // Quick create: an integration for the target, a route to it and an auto-deployed `$default` stage.
    if let Some(target) = str_of(input, "Target") {
        let integration_id = new_id(7);
        let lambda = target.starts_with("arn:");
        api.integrations.insert(
            integration_id.clone(),
            json!({"IntegrationId": integration_id, "ApiGatewayManaged": true, "ConnectionType": "INTERNET",
                   "IntegrationType": if lambda { "AWS_PROXY" } else { "HTTP_PROXY" }, "IntegrationUri": target,
                   "IntegrationMethod": if lambda { "POST" } else { "ANY" },
                   "PayloadFormatVersion": if lambda { "2.0" } else { "1.0" }, "TimeoutInMillis": 30000}),
        );
        let route_id = new_id(7);
        let key = str_of(input, "RouteKey").unwrap_or("$default");
        api.routes.insert(
            route_id.clone(),
            json!({"RouteId": route_id, "RouteKey": key, "ApiGatewayManaged": true, "ApiKeyRequired": false,
                   "AuthorizationType": "NONE", "Target": format!("integrations/{integration_id}")}),
        );
        api.stages.insert(
            "$default".into(),
            json!({"StageName": "$default", "AutoDeploy": true, "ApiGatewayManaged": true, "CreatedDate": now(ctx),
                   "LastUpdatedDate": now(ctx), "DefaultRouteSettings": {"DetailedMetricsEnabled": false},
                   "RouteSettings": {}, "StageVariables": {}, "Tags": {}}),
        );
    }
    save(changes, api);
    Ok(doc)
}

/// A v2 sub-collection: its field, id member, id length (0: named by `StageName`), and
/// the resource type in its not-found answer.
struct Kind {
    id_member: &'static str,
    id_len: usize,
    resource: &'static str,
}

fn kind(noun: &str) -> Option<Kind> {
    Some(match noun {
        "Route" => Kind { id_member: "RouteId", id_len: 7, resource: "Route" },
        "Integration" => Kind { id_member: "IntegrationId", id_len: 7, resource: "Integration" },
        "Stage" => Kind { id_member: "StageName", id_len: 0, resource: "Stage" },
        "Deployment" => Kind { id_member: "DeploymentId", id_len: 6, resource: "Deployment" },
        "Authorizer" => Kind { id_member: "AuthorizerId", id_len: 6, resource: "Authorizer" },
        "Model" => Kind { id_member: "ModelId", id_len: 6, resource: "Model" },
        _ => return None,
    })
}

fn docs<'a>(api: &'a mut HttpApi, noun: &str) -> &'a mut Docs {
    match noun {
        "Route" => &mut api.routes,
        "Integration" => &mut api.integrations,
        "Stage" => &mut api.stages,
        "Deployment" => &mut api.deployments,
        "Authorizer" => &mut api.authorizers,
        _ => &mut api.models,
    }
}

fn defaults(ctx: &RequestContext, noun: &str, api: &HttpApi, input: &Value) -> Result<Value, AwsError> {
    Ok(match noun {
        "Route" => {
            let key = text(input, "RouteKey");
            if api.routes.values().any(|r| str_of(r, "RouteKey") == Some(key.as_str())) {
                return Err(conflict(format!("Unable to create route {key}. The route already exists.")));
            }
            json!({"ApiKeyRequired": false, "AuthorizationType": "NONE"})
        }
        "Integration" => {
            let kind = text(input, "IntegrationType");
            let payload = if kind == "AWS_PROXY" && text(&api.doc, "ProtocolType") == "HTTP" { "2.0" } else { "1.0" };
            json!({"ConnectionType": "INTERNET", "PayloadFormatVersion": payload,
                   "TimeoutInMillis": if text(&api.doc, "ProtocolType") == "WEBSOCKET" { 29000 } else { 30000 }})
        }
        "Stage" => {
            let name = text(input, "StageName");
            if api.stages.contains_key(&name) {
                return Err(conflict(format!("Stage {name} already exists")));
            }
            json!({"CreatedDate": now(ctx), "LastUpdatedDate": now(ctx), "AutoDeploy": false,
                   "DefaultRouteSettings": {"DetailedMetricsEnabled": false}, "RouteSettings": {},
                   "StageVariables": {}, "Tags": {}})
        }
        "Deployment" => json!({"CreatedDate": now(ctx), "DeploymentStatus": "DEPLOYED", "AutoDeployed": false}),
        _ => json!({}),
    })
}

fn missing(k: &Kind, id: &str) -> AwsError {
    not_found(format!("Invalid {} identifier specified {id}", k.resource)).with_extra("resourceType", k.resource)
}

/// Create / Get / Gets / Update / Delete of one sub-collection.
fn sub(ctx: &RequestContext, api: &mut HttpApi, verb: &str, noun: &str, input: &Value) -> Out {
    let k = kind(noun).expect("known noun");
    let id = text(input, k.id_member);
    match verb {
        "Create" => {
            let mut doc = defaults(ctx, noun, api, input)?;
            let id = if k.id_len == 0 { text(input, "StageName") } else { new_id(k.id_len) };
            doc[k.id_member] = json!(id);
            merge(&mut doc, input, &["ApiId"]);
            if noun == "Deployment" {
                if let Some(stage) = str_of(input, "StageName").and_then(|s| api.stages.get_mut(s)) {
                    stage["DeploymentId"] = json!(id);
                    stage["LastUpdatedDate"] = now(ctx);
                }
                if let Some(o) = doc.as_object_mut() {
                    o.remove("StageName");
                }
            }
            docs(api, noun).insert(id, doc.clone());
            Ok(doc)
        }
        "Get" => docs(api, noun).get(&id).cloned().ok_or_else(|| missing(&k, &id)),
        "Update" => {
            let doc = docs(api, noun).get_mut(&id).ok_or_else(|| missing(&k, &id))?;
            merge(doc, input, &["ApiId", k.id_member]);
            if noun == "Stage" {
                doc["LastUpdatedDate"] = now(ctx);
            }
            Ok(doc.clone())
        }
        "Delete" => {
            docs(api, noun).remove(&id).ok_or_else(|| missing(&k, &id))?;
            Ok(json!({}))
        }
        _ => Ok(items("Items", docs(api, noun).values().cloned().collect())),
    }
}

fn tag_target(arn: &str) -> Option<String> {
    // arn:aws:apigateway:{region}::/apis/{id}
    let path = arn.split("::").nth(1)?;
    let mut parts = path.trim_start_matches('/').split('/');
    (parts.next()? == "apis").then(|| parts.next().map(str::to_string))?
}

pub fn dispatch(
    g: &Gateways,
    ctx: &RequestContext,
    op: &str,
    input: &Value,
    changes: &mut Changes<Record>,
) -> Option<Out> {
    let out = match op {
        "CreateApi" => create_api(ctx, input, changes),
        "GetApi" => api(g, ctx, input).map(|a| a.doc.clone()),
        "GetApis" => {
            let prefix = http_key(&ctx.account, &ctx.region, "");
            let list =
                g.http.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)).map(|(_, a)| a.doc.clone());
            Ok(items("Items", list.collect()))
        }
        "UpdateApi" => edit(g, ctx, input, changes, |a| {
            merge(&mut a.doc, input, &["ApiId", "Target", "RouteKey", "CredentialsArn"]);
            Ok(a.doc.clone())
        }),
        "DeleteApi" => api(g, ctx, input).map(|a| {
            changes.delete(http_key(&ctx.account, &ctx.region, &text(&a.doc, "ApiId")));
            json!({})
        }),
        "DeleteCorsConfiguration" => edit(g, ctx, input, changes, |a| {
            if let Some(o) = a.doc.as_object_mut() {
                o.remove("CorsConfiguration");
            }
            Ok(json!({}))
        }),
        "ImportApi" => crate::openapi::import_v2(ctx, None, input, changes),
        "ReimportApi" => {
            api(g, ctx, input).cloned().and_then(|a| crate::openapi::import_v2(ctx, Some(a), input, changes))
        }
        "ResetAuthorizersCache" => api(g, ctx, input).map(|_| json!({})),
        "TagResource" | "UntagResource" | "GetTags" => {
            let arn = text(input, "ResourceArn");
            let Some(id) = tag_target(&arn) else { return Some(Err(not_found(format!("Invalid resource ARN {arn}")))) };
            let key = json!({"ApiId": id});
            if op == "GetTags" {
                api(g, ctx, &key).map(|a| json!({"Tags": a.doc.get("Tags").cloned().unwrap_or(json!({}))}))
            } else {
                edit(g, ctx, &key, changes, |a| {
                    let mut tags = a.doc["Tags"].as_object().cloned().unwrap_or_default();
                    for (k, v) in input["Tags"].as_object().into_iter().flatten() {
                        tags.insert(k.clone(), v.clone());
                    }
                    for k in input["TagKeys"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                        tags.remove(k);
                    }
                    a.doc["Tags"] = Value::Object(tags);
                    Ok(json!({}))
                })
            }
        }
        _ => {
            let (verb, rest) =
                ["Create", "Get", "Update", "Delete"].iter().find_map(|v| op.strip_prefix(v).map(|r| (*v, r)))?;
            let (verb, noun) = match rest.strip_suffix('s') {
                Some(noun) if verb == "Get" && kind(noun).is_some() => ("List", noun),
                _ => (verb, rest),
            };
            kind(noun)?;
            if verb == "Get" || verb == "List" {
                api(g, ctx, input).cloned().and_then(|mut a| sub(ctx, &mut a, verb, noun, input))
            } else {
                edit(g, ctx, input, changes, |a| sub(ctx, a, verb, noun, input))
            }
        }
    };
    Some(out)
}
