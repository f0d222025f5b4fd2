//! The dependency graph of a template's resources: `DependsOn` plus every `Ref`, `Fn::GetAtt`
//! and `Fn::Sub` reference, ordered in waves (each wave depends only on earlier ones, so its
//! resources can be created in parallel); a cycle is refused with AWS's message.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::eval::{att_target, sub_pieces, SubPiece, PSEUDO};

/// Every name a value refers to through `Ref`, `Fn::GetAtt` or `Fn::Sub`.
pub fn references(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            if o.len() == 1 {
                let (k, arg) = o.iter().next().expect("one");
                match k.as_str() {
                    "Ref" => {
                        if let Some(s) = arg.as_str() {
                            out.insert(s.to_string());
                        }
                        return;
                    }
                    "Fn::GetAtt" => {
                        if let Some((res, _)) = att_target(arg) {
                            out.insert(res);
                        }
                        if let Some(items) = arg.as_array() {
                            items.iter().skip(1).for_each(|i| references(i, out));
                        }
                        return;
                    }
                    "Fn::Sub" => {
                        let (text, vars) = match arg {
                            Value::String(s) => (Some(s.as_str()), None),
                            Value::Array(items) => (items.first().and_then(Value::as_str), items.get(1)),
                            _ => (None, None),
                        };
                        let var_names: BTreeSet<&str> = vars
                            .and_then(Value::as_object)
                            .map(|o| o.keys().map(String::as_str).collect())
                            .unwrap_or_default();
                        if let Some(text) = text {
                            for piece in sub_pieces(text) {
                                if let SubPiece::Var(name) = piece {
                                    if var_names.contains(name.as_str()) {
                                        continue;
                                    }
                                    let target = name.split_once('.').map_or(name.as_str(), |(r, _)| r);
                                    if name.starts_with("AWS::") {
                                        out.insert(name.clone());
                                    } else {
                                        out.insert(target.to_string());
                                    }
                                }
                            }
                        }
                        if let Some(vars) = vars {
                            references(vars, out);
                        }
                        return;
                    }
                    _ => {}
                }
            }
            o.values().for_each(|v| references(v, out));
        }
        Value::Array(items) => items.iter().for_each(|i| references(i, out)),
        _ => {}
    }
}

/// `DependsOn` as a list.
pub fn depends_on(resource: &Value) -> Vec<String> {
    match resource.get("DependsOn") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// The resources each resource depends on; names that are neither resources, parameters nor
/// pseudo parameters are AWS's "Unresolved resource dependencies".
pub fn dependencies(
    resources: &serde_json::Map<String, Value>,
    parameters: &BTreeSet<String>,
) -> Result<BTreeMap<String, BTreeSet<String>>, String> {
    let mut deps = BTreeMap::new();
    let mut unresolved: Vec<String> = Vec::new();
    for (name, res) in resources {
        let mut refs = BTreeSet::new();
        if let Some(p) = res.get("Properties") {
            references(p, &mut refs);
        }
        let mut mine = BTreeSet::new();
        for r in refs {
            if resources.contains_key(&r) {
                mine.insert(r);
            } else if !parameters.contains(&r) && !PSEUDO.contains(&r.as_str()) && !unresolved.contains(&r) {
                unresolved.push(r);
            }
        }
        for d in depends_on(res) {
            if resources.contains_key(&d) {
                mine.insert(d);
            } else if !unresolved.contains(&d) {
                unresolved.push(d);
            }
        }
        deps.insert(name.clone(), mine);
    }
    if !unresolved.is_empty() {
        return Err(crate::eval::unresolved(&unresolved));
    }
    Ok(deps)
}

/// Resources in waves: each wave's members depend only on earlier waves.
pub fn waves(deps: &BTreeMap<String, BTreeSet<String>>) -> Result<Vec<Vec<String>>, String> {
    let mut placed: BTreeSet<String> = BTreeSet::new();
    let mut waves = Vec::new();
    while placed.len() < deps.len() {
        let wave: Vec<String> = deps
            .iter()
            .filter(|(n, d)| !placed.contains(*n) && d.iter().all(|x| placed.contains(x)))
            .map(|(n, _)| n.clone())
            .collect();
        if wave.is_empty() {
            let cycle = cycle_members(deps, &placed);
            return Err(format!("Circular dependency between resources: [{}]", cycle.join(", ")));
        }
        placed.extend(wave.iter().cloned());
        waves.push(wave);
    }
    Ok(waves)
}

/// The unplaced resources that are on a cycle or wait on one (as AWS lists them).
fn cycle_members(deps: &BTreeMap<String, BTreeSet<String>>, placed: &BTreeSet<String>) -> Vec<String> {
    deps.keys().filter(|n| !placed.contains(*n)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn waves_follow_references_and_cycles_are_refused() {
        let resources = json!({
            "Role": {"Type": "AWS::IAM::Role"},
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}}},
            "Q": {"Type": "AWS::SQS::Queue"},
            "Map": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {"FunctionName": {"Ref": "Fn"}, "EventSourceArn": {"Fn::Sub": "${Q.Arn}"}}}
        });
        let deps = dependencies(resources.as_object().unwrap(), &BTreeSet::new()).unwrap();
        assert_eq!(
            waves(&deps).unwrap(),
            vec![vec!["Q".to_string(), "Role".into()], vec!["Fn".into()], vec!["Map".into()]]
        );

        let cyclic = json!({
            "A": {"Type": "T", "Properties": {"X": {"Ref": "B"}}},
            "B": {"Type": "T", "DependsOn": "A"}
        });
        let deps = dependencies(cyclic.as_object().unwrap(), &BTreeSet::new()).unwrap();
        assert_eq!(waves(&deps).unwrap_err(), "Circular dependency between resources: [A, B]");

        let missing = json!({"A": {"Type": "T", "Properties": {"X": {"Ref": "Nope"}}}});
        assert_eq!(
            dependencies(missing.as_object().unwrap(), &BTreeSet::new()).unwrap_err(),
            "Template format error: Unresolved resource dependencies [Nope] in the Resources block of the template"
        );
    }
}
