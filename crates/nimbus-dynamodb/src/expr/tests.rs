//! The expression language as tables: every grammar rule and function, and the exact message
//! for each malformed case.

use serde_json::{json, Value};

use super::ast::Condition;
use super::*;
use crate::value::{item_from_json, item_to_json, Map};

fn values() -> Value {
    json!({
        ":s": {"S": "abc"}, ":a": {"S": "a"}, ":z": {"S": "zzz"}, ":n": {"N": "5"}, ":one": {"N": "1"},
        ":big": {"N": "100"}, ":b": {"B": "AAE="}, ":ss": {"SS": ["x", "y"]}, ":ns": {"NS": ["7"]},
        ":l": {"L": [{"S": "new"}]}, ":m": {"M": {"k": {"S": "v"}}}, ":t": {"BOOL": true}, ":null": {"NULL": true},
        ":typeS": {"S": "S"}, ":typeL": {"S": "L"}, ":x": {"S": "x"}, ":bad": {"S": "Q"}
    })
}

fn names() -> Value {
    json!({"#n": "name", "#dot": "a.b", "#data": "data", "#list": "list"})
}

fn symbols() -> Symbols {
    Symbols::new(Some(&names()), Some(&values()), true).unwrap()
}

fn item() -> Map {
    item_from_json(&json!({
        "pk": {"S": "key"},
        "name": {"S": "abcdef"},
        "a.b": {"S": "dotted"},
        "cnt": {"N": "5"},
        "bin": {"B": "AAECAw=="},
        "tags": {"SS": ["x", "y", "z"]},
        "nums": {"NS": ["1", "7"]},
        "list": {"L": [{"S": "zero"}, {"N": "1"}, {"M": {"deep": {"S": "d"}}}]},
        "mp": {"M": {"inr": {"M": {"leaf": {"N": "3"}}}, "s": {"S": "t"}}},
        "flag": {"BOOL": true},
        "nothing": {"NULL": true},
        "data": {"S": "reserved"}
    }))
    .unwrap()
}

fn parse(kind: Kind, src: &str) -> Result<Condition, String> {
    parse_condition(src, kind, &mut symbols()).map_err(|e| e.message)
}

#[test]
fn conditions_evaluate_as_dynamodb_does() {
    let item = item();
    let cases: &[(&str, bool)] = &[
        ("pk = :s", false),
        ("#n = :s", false),
        ("#n <> :s", true),
        ("#n > :s", true),
        ("#n >= :s", true),
        ("#n < :z", true),
        ("#n <= :a", false),
        ("cnt = :n", true),
        ("cnt < :big", true),
        ("cnt > :one AND cnt < :big", true),
        ("cnt > :big OR cnt = :n", true),
        ("NOT cnt = :n", false),
        ("NOT (cnt = :n OR cnt = :one)", false),
        ("(cnt = :one) or (cnt = :n) and flag = :t", true),
        ("cnt BETWEEN :one AND :n", true),
        ("cnt between :n and :big", true),
        ("cnt BETWEEN :one AND :one", false),
        ("#n BETWEEN :a AND :z", true),
        ("cnt IN (:one, :n)", true),
        ("cnt IN (:one, :big)", false),
        ("gone = :s", false),
        ("gone <> :s", true),
        ("gone < :s", false),
        ("cnt < :s", false),
        ("cnt = :s", false),
        ("attribute_exists(pk)", true),
        ("attribute_exists(gone)", false),
        ("attribute_not_exists(gone)", true),
        ("attribute_exists(mp.inr.leaf)", true),
        ("attribute_exists(mp.inr.nope)", false),
        ("attribute_exists(#list[2].deep)", true),
        ("attribute_exists(#list[3])", false),
        ("attribute_exists(#dot)", true),
        ("attribute_exists(#data)", true),
        ("attribute_type(#n, :typeS)", true),
        ("attribute_type(#list, :typeL)", true),
        ("attribute_type(cnt, :typeS)", false),
        ("begins_with(#n, :s)", true),
        ("begins_with(#n, :z)", false),
        ("begins_with(bin, :b)", true),
        ("begins_with(cnt, :s)", false),
        ("contains(#n, :s)", true),
        ("contains(tags, :x)", true),
        ("contains(tags, :a)", false),
        ("contains(nums, :ns)", false),
        ("contains(#list, :one)", true),
        ("contains(bin, :b)", true),
        ("size(#n) = :big", false),
        ("size(#n) > :n", true),
        ("size(tags) BETWEEN :one AND :n", true),
        ("size(#list) = :n", false),
        ("size(mp) < :n", true),
        ("size(cnt) > :one", false),
        ("mp.inr.leaf > :one", true),
        ("#list[1] = :one", true),
        ("nothing = :null", true),
        ("flag = :t", true),
        ("tags = :ss", false),
    ];
    for (src, expected) in cases {
        let cond = parse(Kind::Condition, src).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(eval::matches(&item, &cond), *expected, "{src}");
    }
}

#[test]
fn malformed_conditions_get_dynamodb_messages() {
    let cases: &[(&str, &str)] = &[
        ("", "Invalid ConditionExpression: The expression can not be empty;"),
        ("   ", "Invalid ConditionExpression: The expression can not be empty;"),
        ("a =", "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"=\""),
        ("a = :s :n", "Invalid ConditionExpression: Syntax error; token: \":n\", near: \":s :n\""),
        ("a = = :s", "Invalid ConditionExpression: Syntax error; token: \"=\", near: \"= =\""),
        ("(a = :s", "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \":s\""),
        ("a = :s)", "Invalid ConditionExpression: Syntax error; token: \")\", near: \":s)\""),
        ("a ! :s", "Invalid ConditionExpression: Syntax error; token: \"!\", near: \"a !\""),
        ("a", "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"a\""),
        ("a BETWEEN :one", "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \":one\""),
        ("a[x] = :s", "Invalid ConditionExpression: Syntax error; token: \"x\", near: \"[x\""),
        ("a. = :s", "Invalid ConditionExpression: Syntax error; token: \"=\", near: \". =\""),
        ("data = :s", "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: data"),
        ("Name = :s", "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: Name"),
        ("#nope = :s", "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #nope"),
        ("a = :nope", "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :nope"),
        ("foo(a)", "Invalid ConditionExpression: Invalid function name; function: foo"),
        ("size(a)", "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \")\""),
        ("a = attribute_exists(b)", "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: attribute_exists"),
        ("begins_with(a)", "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: 1"),
        ("attribute_exists(a, b)", "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2"),
        ("attribute_exists(:s)", "Invalid ConditionExpression: Operator or function requires a document path; operator or function: attribute_exists"),
        ("begins_with(a, :n)", "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"),
        ("attribute_type(a, :bad)", "Invalid ConditionExpression: Invalid attribute type name found; type: Q, valid types: { B,NULL,SS,BOOL,L,BS,N,NS,S,M }"),
        ("attribute_type(a, :n)", "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N"),
        ("size(:s) > :n", "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: size, operand type: S"),
        ("a BETWEEN :n AND :one", "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {N:1}"),
        ("a BETWEEN :n AND :s", "Invalid ConditionExpression: The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {S:abc}"),
        ("a[99999999999] = :s", "Invalid ConditionExpression: List index is not within the allowable range; index: [99999999999]"),
    ];
    for (src, expected) in cases {
        assert_eq!(parse(Kind::Condition, src).unwrap_err(), *expected, "{src:?}");
    }
    assert_eq!(
        parse(Kind::Filter, "a =").unwrap_err(),
        "Invalid FilterExpression: Syntax error; token: \"<EOF>\", near: \"=\""
    );
    let many: Vec<String> = (0..101).map(|_| ":n".to_string()).collect();
    assert_eq!(
        parse(Kind::Condition, &format!("a IN ({})", many.join(","))).unwrap_err(),
        "Invalid ConditionExpression: The IN operator is provided with too many operands; number of operands: 101"
    );
}

fn run_update(src: &str) -> Result<Value, String> {
    let update = parse_update(src, &mut symbols()).map_err(|e| e.message)?;
    let mut item = item();
    update::apply(&update, &mut item).map_err(|e| e.message)?;
    Ok(item_to_json(&item))
}

#[test]
fn update_actions_apply() {
    let cases: &[(&str, &str, Value)] = &[
        ("SET cnt = :one", "cnt", json!({"N": "1"})),
        ("SET cnt = cnt + :one", "cnt", json!({"N": "6"})),
        ("SET cnt = cnt - :big", "cnt", json!({"N": "-95"})),
        ("SET cnt = :n + :n", "cnt", json!({"N": "10"})),
        ("set fresh = if_not_exists(fresh, :n)", "fresh", json!({"N": "5"})),
        ("SET cnt = if_not_exists(cnt, :big)", "cnt", json!({"N": "5"})),
        ("SET fresh = if_not_exists(fresh, :one) + :n", "fresh", json!({"N": "6"})),
        (
            "SET #list = list_append(#list, :l)",
            "list",
            json!({"L": [{"S": "zero"}, {"N": "1"}, {"M": {"deep": {"S": "d"}}}, {"S": "new"}]}),
        ),
        (
            "SET #list = list_append(:l, #list)",
            "list",
            json!({"L": [{"S": "new"}, {"S": "zero"}, {"N": "1"}, {"M": {"deep": {"S": "d"}}}]}),
        ),
        ("SET #list[0] = :s", "list", json!({"L": [{"S": "abc"}, {"N": "1"}, {"M": {"deep": {"S": "d"}}}]})),
        (
            "SET #list[10] = :s",
            "list",
            json!({"L": [{"S": "zero"}, {"N": "1"}, {"M": {"deep": {"S": "d"}}}, {"S": "abc"}]}),
        ),
        (
            "SET mp.inr.leaf = mp.inr.leaf + :one",
            "mp",
            json!({"M": {"inr": {"M": {"leaf": {"N": "4"}}}, "s": {"S": "t"}}}),
        ),
        (
            "SET mp.added = :m",
            "mp",
            json!({"M": {"added": {"M": {"k": {"S": "v"}}}, "inr": {"M": {"leaf": {"N": "3"}}}, "s": {"S": "t"}}}),
        ),
        ("REMOVE #list[0], #list[2]", "list", json!({"L": [{"N": "1"}]})),
        ("REMOVE mp.inr", "mp", json!({"M": {"s": {"S": "t"}}})),
        ("ADD cnt :n", "cnt", json!({"N": "10"})),
        ("ADD fresh :n", "fresh", json!({"N": "5"})),
        ("ADD tags :ss", "tags", json!({"SS": ["x", "y", "z"]})),
        ("ADD nums :ns", "nums", json!({"NS": ["1", "7"]})),
        ("ADD fresh :ss", "fresh", json!({"SS": ["x", "y"]})),
        ("DELETE tags :ss", "tags", json!({"SS": ["z"]})),
        ("SET a1 = :s, a2 = :n REMOVE flag ADD cnt :one DELETE nums :ns", "cnt", json!({"N": "6"})),
    ];
    for (src, attr, expected) in cases {
        let after = run_update(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(&after[*attr], expected, "{src}");
    }
    let after = run_update("REMOVE flag, gone").unwrap();
    assert!(after.get("flag").is_none());
    let after = run_update("DELETE nums :ns").unwrap();
    assert_eq!(after["nums"], json!({"NS": ["1"]}));
    let after = run_update("DELETE tags :ss").and_then(|_| run_update("DELETE nums :ns")).unwrap();
    assert!(after.get("nums").is_some());
    // Deleting every element removes the set.
    let mut syms = Symbols::new(None, Some(&json!({":all": {"NS": ["1", "7"]}})), true).unwrap();
    let update = parse_update("DELETE nums :all", &mut syms).unwrap();
    let mut it = item();
    update::apply(&update, &mut it).unwrap();
    assert!(!it.contains("nums"));
    // All SET operands read the old item.
    let mut syms = Symbols::new(None, None, true).unwrap();
    let update = parse_update("SET name2 = cnt, cnt = name2", &mut syms);
    assert!(update.is_ok());
}

#[test]
fn malformed_updates_get_dynamodb_messages() {
    let cases: &[(&str, &str)] = &[
        ("", "Invalid UpdateExpression: The expression can not be empty;"),
        ("SET", "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"SET\""),
        ("SET a = ", "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"=\""),
        ("SET a = :s,", "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \",\""),
        ("SET a :s", "Invalid UpdateExpression: Syntax error; token: \":s\", near: \"a :s\""),
        ("PUT a = :s", "Invalid UpdateExpression: Syntax error; token: \"PUT\", near: \"PUT\""),
        ("SET a = :s SET b = :s", "Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;"),
        ("REMOVE a REMOVE b", "Invalid UpdateExpression: The \"REMOVE\" section can only be used once in an update expression;"),
        ("SET a = :s, a = :n", "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]"),
        ("SET a = :s REMOVE a.b", "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]"),
        ("SET a[1] = :s REMOVE a[1].c", "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a, [1]], path two: [a, [1], c]"),
        ("SET a = :s + :n", "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: +, operand type: S"),
        ("SET a = list_append(a, :s)", "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append, operand type: S"),
        ("SET a = if_not_exists(:s, :s)", "Invalid UpdateExpression: Operator or function requires a document path; operator or function: if_not_exists"),
        ("SET a = if_not_exists(a)", "Invalid UpdateExpression: Incorrect number of operands for operator or function; operator or function: if_not_exists, number of operands: 1"),
        ("SET a = size(b)", "Invalid UpdateExpression: The function is not allowed in an update expression; function: size"),
        ("SET a = nope(b)", "Invalid UpdateExpression: Invalid function name; function: nope"),
        ("ADD a :s", "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING"),
        ("ADD a :l", "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: LIST"),
        ("DELETE a :n", "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER"),
        ("ADD a b", "Invalid UpdateExpression: Syntax error; token: \"b\", near: \"a b\""),
        ("SET data = :s", "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: data"),
        ("SET #nope = :s", "Invalid UpdateExpression: An expression attribute name used in the document path is not defined; attribute name: #nope"),
        ("SET a = :nope", "Invalid UpdateExpression: An expression attribute value used in expression is not defined; attribute value: :nope"),
        // Runtime errors carry no prefix.
        ("SET a = gone", "The provided expression refers to an attribute that does not exist in the item"),
        ("SET a = gone + :one", "The provided expression refers to an attribute that does not exist in the item"),
        ("SET a = #n + :one", "An operand in the update expression has an incorrect data type"),
        ("SET a = list_append(#n, :l)", "An operand in the update expression has an incorrect data type"),
        ("SET nope.deeper = :s", "The document path provided in the update expression is invalid for update"),
        ("SET #n.deeper = :s", "The document path provided in the update expression is invalid for update"),
        ("SET #list[9].x = :s", "The document path provided in the update expression is invalid for update"),
        ("ADD #n :n", "An operand in the update expression has an incorrect data type"),
        ("ADD tags :ns", "An operand in the update expression has an incorrect data type"),
        ("DELETE cnt :ns", "An operand in the update expression has an incorrect data type"),
    ];
    for (src, expected) in cases {
        assert_eq!(run_update(src).unwrap_err(), *expected, "{src:?}");
    }
    let mut syms =
        Symbols::new(None, Some(&json!({":max": {"N": "9.9999999999999999999999999999999999999E+125"}})), true)
            .unwrap();
    let update = parse_update("SET cnt = :max + :max", &mut syms).unwrap();
    assert_eq!(
        update::apply(&update, &mut item()).unwrap_err().message,
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    );
}

#[test]
fn projections_select_nested_paths_and_list_elements() {
    let project = |src: &str| -> Result<Value, String> {
        let paths = parse_projection(src, &mut symbols()).map_err(|e| e.message)?;
        Ok(item_to_json(&eval::project(&item(), &paths)))
    };
    assert_eq!(project("pk, cnt").unwrap(), json!({"cnt": {"N": "5"}, "pk": {"S": "key"}}));
    assert_eq!(project("mp.inr.leaf").unwrap(), json!({"mp": {"M": {"inr": {"M": {"leaf": {"N": "3"}}}}}}));
    assert_eq!(
        project("#list[2].deep, #list[0]").unwrap(),
        json!({"list": {"L": [{"S": "zero"}, {"M": {"deep": {"S": "d"}}}]}})
    );
    assert_eq!(project("gone, #dot").unwrap(), json!({"a.b": {"S": "dotted"}}));
    assert_eq!(project("gone").unwrap(), json!({}));
    assert_eq!(
        project("mp, mp.inr").unwrap_err(),
        "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [mp], path two: [mp, inr]"
    );
    assert_eq!(
        project("pk,").unwrap_err(),
        "Invalid ProjectionExpression: Syntax error; token: \"<EOF>\", near: \",\""
    );
    assert_eq!(
        project("data").unwrap_err(),
        "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: data"
    );
}

#[test]
fn attribute_maps_are_checked_and_unused_entries_refused() {
    let err = |names: Option<Value>, values: Option<Value>, has: bool| {
        Symbols::new(names.as_ref(), values.as_ref(), has).unwrap_err().message
    };
    assert_eq!(
        err(Some(json!({"#a": "a"})), None, false),
        "ExpressionAttributeNames can only be specified when using expressions"
    );
    assert_eq!(
        err(None, Some(json!({":a": {"S": "a"}})), false),
        "ExpressionAttributeValues can only be specified when using expressions"
    );
    assert_eq!(err(Some(json!({})), None, true), "ExpressionAttributeNames must not be empty");
    assert_eq!(err(None, Some(json!({})), true), "ExpressionAttributeValues must not be empty");
    assert_eq!(
        err(Some(json!({"a": "a"})), None, true),
        "ExpressionAttributeNames contains invalid key: Syntax error; key: \"a\""
    );
    assert_eq!(
        err(None, Some(json!({"a": {"S": "a"}})), true),
        "ExpressionAttributeValues contains invalid key: Syntax error; key: \"a\""
    );
    assert_eq!(
        err(None, Some(json!({":a": {"SS": []}})), true),
        "ExpressionAttributeValues contains invalid value: One or more parameter values were invalid: An string set  may not be empty for key :a"
    );

    let mut syms = Symbols::new(
        Some(&json!({"#a": "a", "#b": "b", "#c": "c"})),
        Some(&json!({":v": {"S": "x"}, ":w": {"S": "y"}})),
        true,
    )
    .unwrap();
    parse_condition("#a = :v", Kind::Condition, &mut syms).unwrap();
    assert_eq!(
        syms.check_unused().unwrap_err().message,
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b, #c}"
    );
    parse_update("SET #b = :v, #c = :v", &mut syms).unwrap();
    assert_eq!(
        syms.check_unused().unwrap_err().message,
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}"
    );
}

#[test]
fn reserved_words_are_case_insensitive_and_placeholders_escape_them() {
    assert!(parser::is_reserved("STATUS"));
    assert!(parser::is_reserved("status"));
    assert!(!parser::is_reserved("pk"));
    let mut syms = Symbols::new(Some(&json!({"#s": "status"})), Some(&json!({":v": {"S": "x"}})), true).unwrap();
    assert!(parse_condition("#s = :v", Kind::Condition, &mut syms).is_ok());
}
