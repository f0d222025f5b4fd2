//! Intrinsic functions, conditions and pseudo parameters: a template value evaluated against a
//! stack's parameters, mappings, conditions and the resources created so far.
//!
//! `Ok(None)` is `AWS::NoValue`: the member (or list item) holding it disappears.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use serde_json::{Map, Value};

/// The functions CloudFormation knows (AWS's list, in its order, for the unsupported-function error).
pub const FUNCTIONS: &[&str] = &[
    "Fn::Base64",
    "Fn::GetAtt",
    "Fn::GetAZs",
    "Fn::ImportValue",
    "Fn::Join",
    "Fn::Split",
    "Fn::FindInMap",
    "Fn::Select",
    "Ref",
    "Fn::Equals",
    "Fn::If",
    "Fn::Not",
    "Condition",
    "Fn::And",
    "Fn::Or",
    "Fn::Contains",
    "Fn::EachMemberEquals",
    "Fn::EachMemberIn",
    "Fn::ValueOf",
    "Fn::ValueOfAll",
    "Fn::RefAll",
    "Fn::Sub",
    "Fn::Cidr",
    "Fn::Length",
    "Fn::ToJsonString",
    "Fn::Transform",
];

pub const PSEUDO: &[&str] = &[
    "AWS::AccountId",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::Partition",
    "AWS::URLSuffix",
    "AWS::NotificationARNs",
    "AWS::NoValue",
];

/// Placeholder for a value not known before the resource exists (change-set previews).
pub const PENDING: &str = "{{nimbus:pending}}";

#[derive(Debug, Clone, Default)]
pub struct Pseudo {
    pub account: String,
    pub region: String,
    pub stack_id: String,
    pub stack_name: String,
    pub notification_arns: Vec<String>,
}

/// What a created resource offers to `Ref` and `Fn::GetAtt`.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub ref_value: Value,
    pub attributes: Map<String, Value>,
}

pub struct Scope<'a> {
    pub pseudo: &'a Pseudo,
    pub params: &'a BTreeMap<String, Value>,
    pub mappings: &'a Value,
    pub conditions: &'a BTreeMap<String, bool>,
    pub resources: &'a BTreeMap<String, Known>,
    pub exports: &'a BTreeMap<String, String>,
    /// Resources whose values are not known yet: references to them evaluate to [`PENDING`].
    pub pending: &'a BTreeSet<String>,
}

pub type Eval = Result<Option<Value>, String>;

impl Scope<'_> {
    /// Evaluate a value that must not vanish.
    pub fn value(&self, v: &Value) -> Result<Value, String> {
        Ok(self.eval(v)?.unwrap_or(Value::Null))
    }

    pub fn eval(&self, v: &Value) -> Eval {
        match v {
            Value::Object(obj) => {
                if obj.len() == 1 {
                    let (k, arg) = obj.iter().next().expect("one member");
                    if k == "Ref" || k.starts_with("Fn::") {
                        return self.function(k, arg);
                    }
                }
                let mut out = Map::new();
                for (k, v) in obj {
                    if let Some(v) = self.eval(v)? {
                        out.insert(k.clone(), v);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    if let Some(v) = self.eval(item)? {
                        out.push(v);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            other => Ok(Some(other.clone())),
        }
    }

    fn function(&self, name: &str, arg: &Value) -> Eval {
        match name {
            "Ref" => self.reference(arg),
            "Fn::GetAtt" => self.get_att(arg).map(Some),
            "Fn::Sub" => self.sub(arg).map(|s| Some(Value::String(s))),
            "Fn::Join" => self.join(arg).map(|s| Some(Value::String(s))),
            "Fn::Select" => self.select(arg).map(Some),
            "Fn::Split" => self.split(arg).map(Some),
            "Fn::Base64" => {
                let text = text_of(&self.value(arg)?).ok_or("Template error: Fn::Base64 requires a string")?;
                Ok(Some(Value::String(base64::engine::general_purpose::STANDARD.encode(text))))
            }
            "Fn::GetAZs" => {
                let region = match self.value(arg)?.as_str() {
                    Some("") | None => self.pseudo.region.clone(),
                    Some(r) => r.to_string(),
                };
                Ok(Some(Value::Array(["a", "b", "c"].iter().map(|z| Value::String(format!("{region}{z}"))).collect())))
            }
            "Fn::ImportValue" => {
                let export = text_of(&self.value(arg)?).ok_or("Template error: Fn::ImportValue requires a string")?;
                if export.contains(PENDING) {
                    return Ok(Some(Value::String(PENDING.into())));
                }
                match self.exports.get(&export) {
                    Some(v) => Ok(Some(Value::String(v.clone()))),
                    None => Err(format!("No export named {export} found.")),
                }
            }
            "Fn::FindInMap" => self.find_in_map(arg).map(Some),
            "Fn::If" => {
                let items = arg
                    .as_array()
                    .filter(|a| a.len() == 3)
                    .ok_or("Template error: Fn::If requires a list argument with three elements")?;
                let cond = items[0].as_str().ok_or("Template error: Fn::If requires a condition name")?;
                let chosen = if self.condition(cond)? { &items[1] } else { &items[2] };
                self.eval(chosen)
            }
            "Fn::Equals" | "Fn::And" | "Fn::Or" | "Fn::Not" => {
                let mut obj = Map::new();
                obj.insert(name.to_string(), arg.clone());
                self.truth(&Value::Object(obj)).map(|b| Some(Value::Bool(b)))
            }
            "Fn::Cidr" => self.cidr(arg).map(Some),
            "Fn::Length" => match self.value(arg)? {
                Value::Array(items) => Ok(Some(Value::from(items.len()))),
                _ => Err("Template error: Fn::Length requires a list".into()),
            },
            "Fn::ToJsonString" => Ok(Some(Value::String(self.value(arg)?.to_string()))),
            other => Err(unsupported_function(other)),
        }
    }

    fn reference(&self, arg: &Value) -> Eval {
        let name = arg.as_str().ok_or("Template format error: Every Ref object must have a single String value.")?;
        if let Some(v) = self.params.get(name) {
            return Ok(Some(v.clone()));
        }
        if let Some(r) = self.resources.get(name) {
            return Ok(Some(r.ref_value.clone()));
        }
        if self.pending.contains(name) {
            return Ok(Some(Value::String(PENDING.into())));
        }
        let p = self.pseudo;
        Ok(Some(Value::String(match name {
            "AWS::NoValue" => return Ok(None),
            "AWS::AccountId" => p.account.clone(),
            "AWS::Region" => p.region.clone(),
            "AWS::StackId" => p.stack_id.clone(),
            "AWS::StackName" => p.stack_name.clone(),
            "AWS::Partition" => "aws".into(),
            "AWS::URLSuffix" => "amazonaws.com".into(),
            "AWS::NotificationARNs" => {
                return Ok(Some(Value::Array(p.notification_arns.iter().cloned().map(Value::String).collect())))
            }
            _ => return Err(unresolved(&[name.to_string()])),
        })))
    }

    fn get_att(&self, arg: &Value) -> Result<Value, String> {
        let (res, attr) =
            att_target(arg).ok_or("Template error: every Fn::GetAtt object requires two non-empty parameters")?;
        let attr = match attr {
            AttName::Text(a) => a,
            AttName::Value(v) => {
                text_of(&self.value(&v)?).ok_or("Template error: Fn::GetAtt attribute must be a string")?
            }
        };
        if self.pending.contains(&res) {
            return Ok(Value::String(PENDING.into()));
        }
        let known = self
            .resources
            .get(&res)
            .ok_or_else(|| format!("Template error: instance of Fn::GetAtt references undefined resource {res}"))?;
        known.attributes.get(&attr).cloned().ok_or_else(|| {
            format!("Template error: resource {res} does not support attribute type {attr} in Fn::GetAtt")
        })
    }

    fn sub(&self, arg: &Value) -> Result<String, String> {
        let (text, vars) = match arg {
            Value::String(s) => (s.clone(), Map::new()),
            Value::Array(items) if items.len() == 2 => {
                let text = items[0].as_str().ok_or("Template error: Fn::Sub requires a string as its first parameter")?;
                let vars = match self.value(&items[1])? {
                    Value::Object(o) => o,
                    _ => return Err("Template error: Fn::Sub variables must be an object".into()),
                };
                (text.to_string(), vars)
            }
            _ => return Err("Template error: One or more Fn::Sub intrinsic functions don't specify expected arguments. Specify a string as first argument, and an optional second argument to specify a mapping of values to replace in the string".into()),
        };
        let mut out = String::new();
        for piece in sub_pieces(&text) {
            match piece {
                SubPiece::Text(t) => out.push_str(&t),
                SubPiece::Var(name) => {
                    let value = if let Some(v) = vars.get(&name) {
                        v.clone()
                    } else if let Some((res, attr)) = name.split_once('.').filter(|_| !self.params.contains_key(&name))
                    {
                        if res == "AWS" {
                            self.value(&Value::Object(Map::from_iter([("Ref".into(), Value::String(name.clone()))])))?
                        } else {
                            self.get_att(&Value::Array(vec![res.into(), attr.into()]))?
                        }
                    } else {
                        self.value(&Value::Object(Map::from_iter([("Ref".into(), Value::String(name.clone()))])))?
                    };
                    out.push_str(&text_of(&value).ok_or_else(|| {
                        format!("Template error: variable {name} in Fn::Sub expression does not resolve to a string")
                    })?);
                }
            }
        }
        Ok(out)
    }

    fn join(&self, arg: &Value) -> Result<String, String> {
        const BAD: &str = "Template error: every Fn::Join object requires two parameters, (1) a string delimiter and (2) a list of strings to be joined or a function that returns a list of strings (such as Fn::GetAZs) to be joined.";
        let items = arg.as_array().filter(|a| a.len() == 2).ok_or(BAD)?;
        let delim = items[0].as_str().ok_or(BAD)?;
        let list = match self.value(&items[1])? {
            Value::Array(list) => list,
            _ => return Err(BAD.into()),
        };
        let parts: Option<Vec<String>> = list.iter().map(text_of).collect();
        Ok(parts.ok_or(BAD)?.join(delim))
    }

    fn select(&self, arg: &Value) -> Result<Value, String> {
        const BAD: &str =
            "Template error: Fn::Select requires a list argument with two elements: an integer index and a list";
        let items = arg.as_array().filter(|a| a.len() == 2).ok_or(BAD)?;
        let index = match self.value(&items[0])? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse::<u64>().ok(),
            _ => None,
        }
        .ok_or(BAD)? as usize;
        let list = match self.value(&items[1])? {
            Value::Array(list) => list,
            Value::String(s) if s == PENDING => return Ok(Value::String(PENDING.into())),
            _ => return Err(BAD.into()),
        };
        list.get(index).cloned().ok_or_else(|| {
            "Template error: Fn::Select cannot select nonexistent value at index ".to_string() + &index.to_string()
        })
    }

    fn split(&self, arg: &Value) -> Result<Value, String> {
        const BAD: &str = "Template error: every Fn::Split object requires two parameters, (1) a string delimiter and (2) a string to be split or a function that returns a string to be split.";
        let items = arg.as_array().filter(|a| a.len() == 2).ok_or(BAD)?;
        let delim = items[0].as_str().filter(|d| !d.is_empty()).ok_or(BAD)?;
        let text = text_of(&self.value(&items[1])?).ok_or(BAD)?;
        Ok(Value::Array(text.split(delim).map(|s| Value::String(s.to_string())).collect()))
    }

    fn find_in_map(&self, arg: &Value) -> Result<Value, String> {
        const BAD: &str = "Template error: every Fn::FindInMap object requires three parameters, the map name, map key and the attribute for return value";
        let items = arg.as_array().filter(|a| a.len() == 3 || a.len() == 4).ok_or(BAD)?;
        let mut keys = Vec::new();
        for item in &items[..3] {
            keys.push(text_of(&self.value(item)?).ok_or(BAD)?);
        }
        let found = self.mappings.get(&keys[0]).and_then(|m| m.get(&keys[1])).and_then(|m| m.get(&keys[2]));
        match (found, items.get(3)) {
            (Some(v), _) => Ok(v.clone()),
            (None, Some(default)) => self.value(default.get("DefaultValue").unwrap_or(default)),
            (None, None) => {
                if self.mappings.get(&keys[0]).is_none() {
                    Err(format!("Template error: Unable to get mapping for {}", keys[0]))
                } else {
                    Err(format!("Template error: Unable to get mapping for {}::{}::{}", keys[0], keys[1], keys[2]))
                }
            }
        }
    }

    fn cidr(&self, arg: &Value) -> Result<Value, String> {
        const BAD: &str = "Template error: Fn::Cidr requires a list argument with three elements: an IP block, a count and the CIDR bits";
        let items = arg.as_array().filter(|a| a.len() == 2 || a.len() == 3).ok_or(BAD)?;
        let block = text_of(&self.value(&items[0])?).ok_or(BAD)?;
        let num = |v: Value| match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        };
        let count = num(self.value(&items[1])?).ok_or(BAD)?;
        let bits = match items.get(2) {
            Some(b) => num(self.value(b)?).ok_or(BAD)?,
            None => 8,
        };
        let (addr, prefix) = block.split_once('/').ok_or(BAD)?;
        let ip: std::net::Ipv4Addr = addr.parse().map_err(|_| BAD.to_string())?;
        let prefix: u32 = prefix.parse().map_err(|_| BAD.to_string())?;
        let new_prefix = 32u32.checked_sub(bits as u32).filter(|p| *p >= prefix && *p <= 32).ok_or(BAD)?;
        let base = u32::from(ip) & if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
        let size = 1u64 << bits;
        let available = 1u64 << (new_prefix - prefix);
        if count == 0 || count > available || count > 256 {
            return Err(BAD.into());
        }
        Ok(Value::Array(
            (0..count)
                .map(|i| {
                    let start = u64::from(base) + i * size;
                    Value::String(format!("{}/{new_prefix}", std::net::Ipv4Addr::from(start as u32)))
                })
                .collect(),
        ))
    }

    pub fn condition(&self, name: &str) -> Result<bool, String> {
        self.conditions
            .get(name)
            .copied()
            .ok_or_else(|| format!("Template format error: Unresolved condition dependency {name} in Fn::If"))
    }

    /// A condition expression's truth (`Fn::Equals`, `Fn::And`, `Fn::Or`, `Fn::Not`, `Condition`).
    pub fn truth(&self, v: &Value) -> Result<bool, String> {
        let obj = v.as_object().filter(|o| o.len() == 1);
        let Some((k, arg)) = obj.and_then(|o| o.iter().next()) else {
            return match v {
                Value::Bool(b) => Ok(*b),
                Value::String(s) if s == "true" => Ok(true),
                Value::String(s) if s == "false" => Ok(false),
                _ => {
                    Err("Template error: Conditions can only be boolean operations on parameters and other conditions"
                        .into())
                }
            };
        };
        let list = || arg.as_array().ok_or_else(|| format!("Template error: {k} requires a list argument"));
        match k.as_str() {
            "Fn::Equals" => {
                let items = list()?;
                if items.len() != 2 {
                    return Err("Template error: Fn::Equals requires a list argument with two elements".into());
                }
                let a = self.value(&items[0])?;
                let b = self.value(&items[1])?;
                Ok(loose_text(&a) == loose_text(&b))
            }
            "Fn::And" => {
                let items = list()?;
                for item in items {
                    if !self.truth(item)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            "Fn::Or" => {
                let items = list()?;
                for item in items {
                    if self.truth(item)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            "Fn::Not" => {
                let items = list()?;
                let first = items.first().ok_or("Template error: Fn::Not requires a list argument with one element")?;
                Ok(!self.truth(first)?)
            }
            "Condition" => self.condition(arg.as_str().unwrap_or_default()),
            _ => match self.value(v)? {
                Value::Bool(b) => Ok(b),
                Value::String(s) => Ok(s == "true"),
                _ => {
                    Err("Template error: Conditions can only be boolean operations on parameters and other conditions"
                        .into())
                }
            },
        }
    }
}

/// Evaluate every condition of a template (conditions may name each other, in any order).
pub fn conditions(scope_base: &Scope<'_>, defs: Option<&Value>) -> Result<BTreeMap<String, bool>, String> {
    let Some(defs) = defs.and_then(Value::as_object) else { return Ok(BTreeMap::new()) };
    let mut done: BTreeMap<String, bool> = BTreeMap::new();
    let mut remaining: Vec<&String> = defs.keys().collect();
    while !remaining.is_empty() {
        let before = remaining.len();
        let mut next = Vec::new();
        for name in remaining {
            let expr = &defs[name];
            let mut needed = BTreeSet::new();
            condition_refs(expr, &mut needed);
            if let Some(missing) = needed.iter().find(|n| !defs.contains_key(*n)) {
                return Err(format!("Template format error: Unresolved condition dependency {missing} in Fn::If"));
            }
            if needed.iter().all(|n| done.contains_key(n)) {
                let scope = Scope { conditions: &done, ..*scope_base };
                let value = scope.truth(expr)?;
                done.insert(name.clone(), value);
            } else {
                next.push(name);
            }
        }
        if next.len() == before {
            return Err(format!(
                "Template error: circular condition dependency between [{}]",
                next.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
        remaining = next;
    }
    Ok(done)
}

fn condition_refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                if k == "Condition" {
                    if let Some(s) = v.as_str() {
                        out.insert(s.to_string());
                    }
                } else if k == "Fn::If" {
                    if let Some(s) = v.as_array().and_then(|a| a.first()).and_then(Value::as_str) {
                        out.insert(s.to_string());
                    }
                    condition_refs(v, out);
                } else {
                    condition_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| condition_refs(i, out)),
        _ => {}
    }
}

pub fn unsupported_function(name: &str) -> String {
    let supported: Vec<&str> = FUNCTIONS.iter().copied().filter(|f| *f != "Fn::Transform").collect();
    format!(
        "Template format error: Encountered unsupported function: {name} Supported functions are: [{}]",
        supported.join(", ")
    )
}

pub fn unresolved(names: &[String]) -> String {
    format!(
        "Template format error: Unresolved resource dependencies [{}] in the Resources block of the template",
        names.join(", ")
    )
}

/// A scalar as CloudFormation's string form.
pub fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn loose_text(v: &Value) -> String {
    text_of(v).unwrap_or_else(|| v.to_string())
}

pub enum AttName {
    Text(String),
    Value(Value),
}

/// The resource and attribute of a `Fn::GetAtt` argument (`["R", "A"]` or `"R.A"`).
pub fn att_target(arg: &Value) -> Option<(String, AttName)> {
    match arg {
        Value::String(s) => s.split_once('.').map(|(r, a)| (r.to_string(), AttName::Text(a.to_string()))),
        Value::Array(items) if items.len() == 2 => {
            let res = items[0].as_str()?.to_string();
            let attr = match &items[1] {
                Value::String(a) => AttName::Text(a.clone()),
                other => AttName::Value(other.clone()),
            };
            Some((res, attr))
        }
        _ => None,
    }
}

pub enum SubPiece {
    Text(String),
    Var(String),
}

/// Split a `Fn::Sub` string into literal text and `${Var}` references (`${!X}` is the literal `${X}`).
pub fn sub_pieces(text: &str) -> Vec<SubPiece> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        literal.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                if let Some(lit) = name.strip_prefix('!') {
                    literal.push_str("${");
                    literal.push_str(lit);
                    literal.push('}');
                } else {
                    if !literal.is_empty() {
                        pieces.push(SubPiece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(SubPiece::Var(name.trim().to_string()));
                }
                rest = &after[end + 1..];
            }
            None => {
                literal.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(SubPiece::Text(literal));
    }
    pieces
}

/// The first unsupported function anywhere in `v`.
pub fn find_unsupported(v: &Value) -> Option<String> {
    match v {
        Value::Object(o) => {
            if o.len() == 1 {
                let k = o.keys().next().expect("one");
                if k.starts_with("Fn::") && !FUNCTIONS.contains(&k.as_str()) {
                    return Some(k.clone());
                }
            }
            o.values().find_map(find_unsupported)
        }
        Value::Array(items) => items.iter().find_map(find_unsupported),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn with_scope<T>(f: impl FnOnce(&Scope<'_>) -> T) -> T {
        let pseudo = Pseudo {
            account: "000000000000".into(),
            region: "us-east-1".into(),
            stack_id: "arn:stack".into(),
            stack_name: "s".into(),
            notification_arns: vec![],
        };
        let params = BTreeMap::from([("Env".to_string(), json!("prod")), ("Subnets".to_string(), json!(["a", "b"]))]);
        let mappings = json!({"M": {"prod": {"Size": 3}}});
        let conditions = BTreeMap::from([("IsProd".to_string(), true)]);
        let mut attributes = Map::new();
        attributes.insert("Arn".into(), json!("arn:aws:sqs:us-east-1:000000000000:q"));
        let resources = BTreeMap::from([("Q".to_string(), Known { ref_value: json!("http://q"), attributes })]);
        let exports = BTreeMap::from([("Shared".to_string(), "v".to_string())]);
        let pending = BTreeSet::new();
        f(&Scope {
            pseudo: &pseudo,
            params: &params,
            mappings: &mappings,
            conditions: &conditions,
            resources: &resources,
            exports: &exports,
            pending: &pending,
        })
    }

    #[test]
    fn intrinsics_evaluate_as_cloudformation_does() {
        with_scope(|s| {
            assert_eq!(
                s.value(&json!({"Fn::Sub": "${AWS::StackName}-${Env}-${Q.Arn}-${!Lit}"})).unwrap(),
                json!("s-prod-arn:aws:sqs:us-east-1:000000000000:q-${Lit}")
            );
            assert_eq!(
                s.value(&json!({"Fn::Sub": ["${X}/${AWS::Region}", {"X": {"Ref": "Q"}}]})).unwrap(),
                json!("http://q/us-east-1")
            );
            assert_eq!(s.value(&json!({"Fn::Join": ["-", [{"Ref": "Env"}, 1, "x"]]})).unwrap(), json!("prod-1-x"));
            assert_eq!(s.value(&json!({"Fn::Select": [1, {"Ref": "Subnets"}]})).unwrap(), json!("b"));
            assert_eq!(s.value(&json!({"Fn::Split": [",", "a,b"]})).unwrap(), json!(["a", "b"]));
            assert_eq!(s.value(&json!({"Fn::FindInMap": ["M", {"Ref": "Env"}, "Size"]})).unwrap(), json!(3));
            assert_eq!(s.value(&json!({"Fn::If": ["IsProd", "big", "small"]})).unwrap(), json!("big"));
            assert_eq!(s.value(&json!({"Fn::Base64": "hi"})).unwrap(), json!("aGk="));
            assert_eq!(s.value(&json!({"Fn::GetAZs": ""})).unwrap()[0], json!("us-east-1a"));
            assert_eq!(s.value(&json!({"Fn::ImportValue": "Shared"})).unwrap(), json!("v"));
            assert_eq!(
                s.value(&json!({"Fn::Cidr": ["10.0.0.0/16", 2, 8]})).unwrap(),
                json!(["10.0.0.0/24", "10.0.1.0/24"])
            );
            assert_eq!(s.value(&json!({"Fn::Length": [1, 2, 3]})).unwrap(), json!(3));
            assert_eq!(s.value(&json!({"Fn::ToJsonString": {"a": 1}})).unwrap(), json!("{\"a\":1}"));
            assert_eq!(
                s.value(
                    &json!({"A": {"Ref": "AWS::NoValue"}, "B": [1, {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, 2]}]})
                )
                .unwrap(),
                json!({"B": [1]})
            );
            assert_eq!(s.value(&json!({"Fn::ImportValue": "Nope"})).unwrap_err(), "No export named Nope found.");
            assert!(s
                .value(&json!({"Ref": "Missing"}))
                .unwrap_err()
                .contains("Unresolved resource dependencies [Missing]"));
            assert_eq!(
                s.value(&json!({"Fn::GetAtt": ["Q", "Nope"]})).unwrap_err(),
                "Template error: resource Q does not support attribute type Nope in Fn::GetAtt"
            );
            assert!(s
                .value(&json!({"Fn::Foo": 1}))
                .unwrap_err()
                .starts_with("Template format error: Encountered unsupported function: Fn::Foo"));
        });
    }

    #[test]
    fn conditions_resolve_in_any_order() {
        with_scope(|s| {
            let defs = json!({
                "B": {"Fn::And": [{"Condition": "A"}, {"Fn::Not": [{"Fn::Equals": [{"Ref": "Env"}, "dev"]}]}]},
                "A": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
                "C": {"Fn::Or": [{"Condition": "B"}, false]}
            });
            let all = conditions(s, Some(&defs)).unwrap();
            assert_eq!(all, BTreeMap::from([("A".into(), true), ("B".into(), true), ("C".into(), true)]));
        });
    }
}
