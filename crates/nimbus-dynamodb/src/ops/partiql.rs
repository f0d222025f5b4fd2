//! PartiQL for DynamoDB: ExecuteStatement, BatchExecuteStatement and ExecuteTransaction with
//! the statements people write — `SELECT … FROM "t"[."index"] [WHERE …]`,
//! `INSERT INTO "t" VALUE {…}`, `UPDATE "t" SET …/REMOVE … WHERE <key>`, and
//! `DELETE FROM "t" WHERE <key>`. Statements parse into the same condition and update trees
//! as expressions, so evaluation is shared.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::items::{check_condition, check_item, current, updated_item};
use super::{data_table, read, Ctx, Outcome, Writes};
use crate::errors::{conditional_check_failed, service, validation, Result};
use crate::expr::ast::{Cmp, Condition, Operand, Path, PathElem, SetValue, Update, UpdateOperand};
use crate::key::{PrimaryKey, Scalar};
use crate::state::{Db, TableData};
use crate::value::{item_to_json, AttrValue, Item, Map};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Str(String),
    Num(String),
    Param,
    Punct(&'static str),
    End,
}

fn malformed(detail: impl std::fmt::Display) -> nimbus_core::AwsError {
    validation(format!("Statement wasn't well formed, can't be processed: {detail}"))
}

fn lex(src: &str) -> Result<Vec<Tok>> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let quoted = |i: &mut usize, q: char| -> Result<String> {
            let mut s = String::new();
            *i += 1;
            loop {
                match chars.get(*i) {
                    None => return Err(malformed("Unterminated quoted text")),
                    Some(&ch) if ch == q && chars.get(*i + 1) == Some(&q) => {
                        s.push(q);
                        *i += 2;
                    }
                    Some(&ch) if ch == q => {
                        *i += 1;
                        return Ok(s);
                    }
                    Some(&ch) => {
                        s.push(ch);
                        *i += 1;
                    }
                }
            }
        };
        let tok = match c {
            '\'' => Tok::Str(quoted(&mut i, '\'')?),
            '"' => Tok::Quoted(quoted(&mut i, '"')?),
            '?' => {
                i += 1;
                Tok::Param
            }
            c if c.is_ascii_digit()
                || (c == '-'
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit)
                    && !matches!(
                        out.last(),
                        Some(
                            Tok::Word(_)
                                | Tok::Quoted(_)
                                | Tok::Num(_)
                                | Tok::Str(_)
                                | Tok::Param
                                | Tok::Punct(")" | "]")
                        )
                    )) =>
            {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || chars[i] == '.'
                        || ((chars[i] == '-' || chars[i] == '+') && matches!(chars[i - 1], 'e' | 'E')))
                {
                    i += 1;
                }
                Tok::Num(chars[start..i].iter().collect())
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                Tok::Word(chars[start..i].iter().collect())
            }
            _ => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let p: &'static str = match two.as_str() {
                    "<>" => "<>",
                    "!=" => "<>",
                    "<=" => "<=",
                    ">=" => ">=",
                    "<<" => "<<",
                    ">>" => ">>",
                    _ => match c {
                        '=' => "=",
                        '<' => "<",
                        '>' => ">",
                        '(' => "(",
                        ')' => ")",
                        '[' => "[",
                        ']' => "]",
                        '{' => "{",
                        '}' => "}",
                        ',' => ",",
                        '.' => ".",
                        ':' => ":",
                        '*' => "*",
                        '+' => "+",
                        '-' => "-",
                        ';' => ";",
                        other => return Err(malformed(format!("Unexpected character: {other}"))),
                    },
                };
                i += p.len().min(if two == "!=" { 2 } else { p.len() });
                Tok::Punct(p)
            }
        };
        out.push(tok);
    }
    out.push(Tok::End);
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    params: Vec<AttrValue>,
    next_param: usize,
}

/// A parsed statement, with `?` already bound.
#[derive(Debug)]
enum Statement {
    Select { table: String, index: Option<String>, projection: Option<Vec<Path>>, filter: Option<Condition> },
    Insert { table: String, item: Item },
    Update { table: String, update: Update, filter: Condition },
    Delete { table: String, filter: Condition },
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos]
    }

    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn unexpected(&self) -> nimbus_core::AwsError {
        match self.peek() {
            Tok::End => malformed("Unexpected end of statement"),
            t => malformed(format!("Unexpected token: {}", show(t))),
        }
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Word(x) if x.eq_ignore_ascii_case(w))
    }

    fn eat_word(&mut self, w: &str) -> bool {
        let yes = self.is_word(w);
        if yes {
            self.next();
        }
        yes
    }

    fn expect_word(&mut self, w: &str) -> Result<()> {
        if self.eat_word(w) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn eat(&mut self, p: &str) -> bool {
        let yes = matches!(self.peek(), Tok::Punct(q) if *q == p);
        if yes {
            self.next();
        }
        yes
    }

    fn expect(&mut self, p: &str) -> Result<()> {
        if self.eat(p) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn name(&mut self) -> Result<String> {
        match self.peek().clone() {
            Tok::Word(w) | Tok::Quoted(w) => {
                self.next();
                Ok(w)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn path(&mut self) -> Result<Path> {
        let mut elems = vec![PathElem::Name(self.name()?.into())];
        loop {
            if self.eat(".") {
                elems.push(PathElem::Name(self.name()?.into()));
            } else if self.eat("[") {
                match self.next() {
                    Tok::Num(n) => elems
                        .push(PathElem::Index(n.parse().map_err(|_| malformed(format!("Invalid list index: {n}")))?)),
                    Tok::Str(s) => elems.push(PathElem::Name(s.into())),
                    _ => return Err(self.unexpected()),
                }
                self.expect("]")?;
            } else {
                return Ok(Path(elems));
            }
        }
    }

    fn literal(&mut self) -> Result<AttrValue> {
        Ok(match self.next() {
            Tok::Str(s) => AttrValue::S(s.into()),
            Tok::Num(n) => AttrValue::N(crate::value::parse_number(&n)?),
            Tok::Param => {
                let v = self
                    .params
                    .get(self.next_param)
                    .cloned()
                    .ok_or_else(|| validation("Number of parameters in request and statement don't match."))?;
                self.next_param += 1;
                v
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => AttrValue::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => AttrValue::Bool(false),
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => AttrValue::Null,
            Tok::Punct("{") => {
                let mut map = Map::new();
                if !self.eat("}") {
                    loop {
                        let key = match self.next() {
                            Tok::Str(s) | Tok::Quoted(s) => s,
                            _ => return Err(malformed("Map keys must be string literals")),
                        };
                        self.expect(":")?;
                        let v = self.literal()?;
                        map.insert(&key, v);
                        if !self.eat(",") {
                            break;
                        }
                    }
                    self.expect("}")?;
                }
                AttrValue::M(map)
            }
            Tok::Punct("[") => {
                let mut list = Vec::new();
                if !self.eat("]") {
                    loop {
                        list.push(self.literal()?);
                        if !self.eat(",") {
                            break;
                        }
                    }
                    self.expect("]")?;
                }
                AttrValue::L(list)
            }
            Tok::Punct("<<") => {
                let mut elems = Vec::new();
                loop {
                    elems.push(self.literal()?);
                    if !self.eat(",") {
                        break;
                    }
                }
                self.expect(">>")?;
                set_of(elems)?
            }
            Tok::End => return Err(malformed("Unexpected end of statement")),
            other => return Err(malformed(format!("Unexpected token: {}", show(&other)))),
        })
    }

    fn is_literal_start(&self) -> bool {
        matches!(self.peek(), Tok::Str(_) | Tok::Num(_) | Tok::Param | Tok::Punct("{" | "[" | "<<"))
            || self.is_word("true")
            || self.is_word("false")
            || self.is_word("null")
    }

    fn operand(&mut self) -> Result<Operand> {
        if self.is_word("size") && self.toks.get(self.pos + 1) == Some(&Tok::Punct("(")) {
            self.next();
            self.next();
            let p = self.path()?;
            self.expect(")")?;
            return Ok(Operand::Size(p));
        }
        if self.is_literal_start() {
            return Ok(Operand::Value(self.literal()?));
        }
        Ok(Operand::Path(self.path()?))
    }

    fn condition(&mut self) -> Result<Condition> {
        let mut left = self.and()?;
        while self.eat_word("OR") {
            left = Condition::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition> {
        let mut left = self.not()?;
        while self.eat_word("AND") {
            left = Condition::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Condition> {
        if self.eat_word("NOT") {
            return Ok(Condition::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Condition> {
        if self.eat("(") {
            let c = self.condition()?;
            self.expect(")")?;
            return Ok(c);
        }
        for function in ["begins_with", "contains", "attribute_type"] {
            if self.is_word(function) && self.toks.get(self.pos + 1) == Some(&Tok::Punct("(")) {
                self.next();
                self.next();
                let a = self.operand()?;
                self.expect(",")?;
                let b = self.operand()?;
                self.expect(")")?;
                return Ok(match function {
                    "begins_with" => Condition::BeginsWith(a, b),
                    "contains" => Condition::Contains(a, b),
                    _ => match a {
                        Operand::Path(p) => Condition::Type(p, b),
                        _ => return Err(malformed("attribute_type needs a path")),
                    },
                });
            }
        }
        let left = self.operand()?;
        if self.eat_word("IS") {
            let negated = self.eat_word("NOT");
            let Operand::Path(p) = left else { return Err(self.unexpected()) };
            return if self.eat_word("MISSING") {
                Ok(if negated { Condition::Exists(p) } else { Condition::NotExists(p) })
            } else if self.eat_word("NULL") {
                let is_null = Condition::Compare(Operand::Path(p), Cmp::Eq, Operand::Value(AttrValue::Null));
                Ok(if negated { Condition::Not(Box::new(is_null)) } else { is_null })
            } else {
                Err(self.unexpected())
            };
        }
        if self.eat_word("BETWEEN") {
            let low = self.operand()?;
            self.expect_word("AND")?;
            let high = self.operand()?;
            return Ok(Condition::Between(left, low, high));
        }
        if self.eat_word("IN") {
            let close = if self.eat("[") {
                "]"
            } else {
                self.expect("(")?;
                ")"
            };
            let mut list = vec![self.operand()?];
            while self.eat(",") {
                list.push(self.operand()?);
            }
            self.expect(close)?;
            return Ok(Condition::In(left, list));
        }
        let cmp = match self.next() {
            Tok::Punct("=") => Cmp::Eq,
            Tok::Punct("<>") => Cmp::Ne,
            Tok::Punct("<") => Cmp::Lt,
            Tok::Punct("<=") => Cmp::Le,
            Tok::Punct(">") => Cmp::Gt,
            Tok::Punct(">=") => Cmp::Ge,
            Tok::End => return Err(malformed("Unexpected end of statement")),
            other => return Err(malformed(format!("Unexpected token: {}", show(&other)))),
        };
        Ok(Condition::Compare(left, cmp, self.operand()?))
    }

    fn update_operand(&mut self) -> Result<UpdateOperand> {
        if self.is_word("list_append") && self.toks.get(self.pos + 1) == Some(&Tok::Punct("(")) {
            self.next();
            self.next();
            let a = self.update_operand()?;
            self.expect(",")?;
            let b = self.update_operand()?;
            self.expect(")")?;
            return Ok(UpdateOperand::ListAppend(Box::new(a), Box::new(b)));
        }
        if self.is_literal_start() {
            return Ok(UpdateOperand::Value(self.literal()?));
        }
        Ok(UpdateOperand::Path(self.path()?))
    }

    fn statement(&mut self) -> Result<Statement> {
        let stmt = if self.eat_word("SELECT") {
            let projection = if self.eat("*") {
                None
            } else {
                let mut paths = vec![self.path()?];
                while self.eat(",") {
                    paths.push(self.path()?);
                }
                Some(paths)
            };
            self.expect_word("FROM")?;
            let table = self.name()?;
            let index = if self.eat(".") { Some(self.name()?) } else { None };
            let filter = if self.eat_word("WHERE") { Some(self.condition()?) } else { None };
            Statement::Select { table, index, projection, filter }
        } else if self.eat_word("INSERT") {
            self.expect_word("INTO")?;
            let table = self.name()?;
            self.expect_word("VALUE")?;
            let AttrValue::M(item) = self.literal()? else { return Err(malformed("INSERT needs a map value")) };
            Statement::Insert { table, item }
        } else if self.eat_word("UPDATE") {
            let table = self.name()?;
            let mut update = Update::default();
            loop {
                if self.eat_word("SET") {
                    loop {
                        let path = self.path()?;
                        self.expect("=")?;
                        let left = self.update_operand()?;
                        let value = if self.eat("+") {
                            SetValue::Plus(left, self.update_operand()?)
                        } else if self.eat("-") {
                            SetValue::Minus(left, self.update_operand()?)
                        } else {
                            SetValue::Operand(left)
                        };
                        update.set.push((path, value));
                        if !self.eat(",") {
                            break;
                        }
                    }
                } else if self.eat_word("REMOVE") {
                    loop {
                        update.remove.push(self.path()?);
                        if !self.eat(",") {
                            break;
                        }
                    }
                } else {
                    break;
                }
            }
            if update.set.is_empty() && update.remove.is_empty() {
                return Err(self.unexpected());
            }
            self.expect_word("WHERE")?;
            let filter = self.condition()?;
            self.returning()?;
            Statement::Update { table, update, filter }
        } else if self.eat_word("DELETE") {
            self.expect_word("FROM")?;
            let table = self.name()?;
            self.expect_word("WHERE")?;
            let filter = self.condition()?;
            self.returning()?;
            Statement::Delete { table, filter }
        } else {
            return Err(self.unexpected());
        };
        self.eat(";");
        if self.peek() != &Tok::End {
            return Err(self.unexpected());
        }
        if self.next_param != self.params.len() {
            return Err(validation("Number of parameters in request and statement don't match."));
        }
        Ok(stmt)
    }

    /// `RETURNING ALL OLD *` and friends are accepted and answered with no item.
    fn returning(&mut self) -> Result<()> {
        if self.eat_word("RETURNING") {
            while !matches!(self.peek(), Tok::End | Tok::Punct(";")) {
                self.next();
            }
        }
        Ok(())
    }
}

fn show(t: &Tok) -> String {
    match t {
        Tok::Word(w) => w.clone(),
        Tok::Quoted(w) => format!("\"{w}\""),
        Tok::Str(s) => format!("'{s}'"),
        Tok::Num(n) => n.clone(),
        Tok::Param => "?".into(),
        Tok::Punct(p) => p.to_string(),
        Tok::End => "<EOF>".into(),
    }
}

fn set_of(elems: Vec<AttrValue>) -> Result<AttrValue> {
    let bad = || validation("Sets must contain elements of one scalar type");
    Ok(match elems.first() {
        Some(AttrValue::S(_)) => AttrValue::Ss(
            elems
                .into_iter()
                .map(|e| if let AttrValue::S(s) = e { Ok(s) } else { Err(bad()) })
                .collect::<Result<_>>()?,
        ),
        Some(AttrValue::N(_)) => AttrValue::Ns(
            elems
                .into_iter()
                .map(|e| if let AttrValue::N(n) = e { Ok(n) } else { Err(bad()) })
                .collect::<Result<_>>()?,
        ),
        Some(AttrValue::B(_)) => AttrValue::Bs(
            elems
                .into_iter()
                .map(|e| if let AttrValue::B(b) = e { Ok(b) } else { Err(bad()) })
                .collect::<Result<_>>()?,
        ),
        _ => return Err(bad()),
    })
}

fn parse(input: &Value) -> Result<Statement> {
    let src = input["Statement"].as_str().unwrap_or_default();
    let params = input["Parameters"]
        .as_array()
        .map(|p| p.iter().map(AttrValue::from_json).collect::<Result<Vec<_>>>())
        .transpose()?
        .unwrap_or_default();
    let mut p = Parser { toks: lex(src)?, pos: 0, params, next_param: 0 };
    p.statement()
}

/// Splits a WHERE clause into the table key it pins (equalities on every key attribute,
/// joined by AND at the top) and the rest, which must hold on the item.
fn pinned_key(table: &TableData, filter: &Condition) -> Result<PrimaryKey> {
    let mut equalities = Vec::new();
    collect_equalities(filter, &mut equalities);
    let schema = &table.meta().key;
    let find = |name: &str| equalities.iter().find(|(n, _)| n == name).and_then(|(_, v)| Scalar::from_value(v));
    let missing = || validation("Where clause does not contain a mandatory equality on all key attributes");
    let hash = find(&schema.hash.name).ok_or_else(missing)?;
    let range = match &schema.range {
        Some(r) => Some(find(&r.name).ok_or_else(missing)?),
        None => None,
    };
    Ok((hash, range))
}

fn collect_equalities(c: &Condition, out: &mut Vec<(String, AttrValue)>) {
    match c {
        Condition::And(a, b) => {
            collect_equalities(a, out);
            collect_equalities(b, out);
        }
        Condition::Compare(Operand::Path(Path(p)), Cmp::Eq, Operand::Value(v))
        | Condition::Compare(Operand::Value(v), Cmp::Eq, Operand::Path(Path(p)))
            if p.len() == 1 =>
        {
            if let PathElem::Name(n) = &p[0] {
                out.push((n.to_string(), v.clone()));
            }
        }
        _ => {}
    }
}

/// A write a statement wants, checked but not yet made.
struct Planned<'a> {
    table: &'a TableData,
    key: PrimaryKey,
    old: Option<Item>,
    new: Option<Item>,
}

/// Plans a write statement; `Err` is the statement's own failure (condition, duplicate, …).
fn plan<'a>(db: &'a Db, ctx: &Ctx, stmt: Statement, input: &Value) -> Result<Planned<'a>> {
    match stmt {
        Statement::Insert { table, item } => {
            let table = data_table(db, ctx, &table)?;
            let key = table.meta().key.key_of_item(&item)?;
            check_item(table.meta(), &item)?;
            let old = current(table, &key);
            if old.is_some() {
                return Err(service("DuplicateItemException", "Duplicate primary key exists in table"));
            }
            Ok(Planned { table, key, old, new: Some(item) })
        }
        Statement::Update { table, update, filter } => {
            let table = data_table(db, ctx, &table)?;
            let key = pinned_key(table, &filter)?;
            let old = current(table, &key).ok_or_else(conditional_check_failed)?;
            check_condition(Some(&filter), Some(&old), input)?;
            let key_item = table.meta().key.key_item(&key);
            let new = updated_item(table.meta(), &key_item, Some(&old), Some(&update))?;
            Ok(Planned { table, key, old: Some(old), new: Some(new) })
        }
        Statement::Delete { table, filter } => {
            let table = data_table(db, ctx, &table)?;
            let key = pinned_key(table, &filter)?;
            let old = current(table, &key);
            if let Some(old) = &old {
                check_condition(Some(&filter), Some(old), input)?;
            }
            Ok(Planned { table, key, old, new: None })
        }
        Statement::Select { .. } => unreachable!("reads are not planned"),
    }
}

fn run_select(db: &Db, ctx: &Ctx, stmt: Statement, input: &Value) -> Result<Value> {
    let Statement::Select { table, index, projection, filter } = stmt else { unreachable!("a select") };
    let mut scan = json!({"TableName": table, "IndexName": index, "Limit": input["Limit"], "ReturnConsumedCapacity": input["ReturnConsumedCapacity"]});
    if let Some(token) = input["NextToken"].as_str() {
        scan["ExclusiveStartKey"] = serde_json::from_str(token).map_err(|_| validation("Invalid NextToken"))?;
    }
    let page = read::select(db, ctx, &scan, filter.as_ref(), projection)?;
    let mut out = json!({"Items": page["Items"]});
    if let Some(last) = page.get("LastEvaluatedKey") {
        out["NextToken"] = json!(last.to_string());
    }
    Ok(out)
}

pub fn execute_statement(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let stmt = parse(input)?;
    if matches!(stmt, Statement::Select { .. }) {
        return Ok(Outcome::read(run_select(db, ctx, stmt, input)?));
    }
    let planned = plan(db, ctx, stmt, input)?;
    let mut writes = Writes::new(db, ctx);
    writes.write(planned.table, &planned.key, planned.old.as_ref(), planned.new.as_ref(), false);
    Ok(Outcome { output: json!({"Items": []}), changes: writes.changes })
}

pub fn batch_execute_statement(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let statements = input["Statements"].as_array().cloned().unwrap_or_default();
    if statements.len() > 25 {
        return Err(validation("Member must have length less than or equal to 25"));
    }
    let mut writes = Writes::new(db, ctx);
    let mut responses = Vec::new();
    let mut seen = HashSet::new();
    for s in &statements {
        let result = parse(s).and_then(|stmt| match stmt {
            Statement::Select { table, filter: Some(filter), projection, .. } => {
                let t = data_table(db, ctx, &table)?;
                let key = pinned_key(t, &filter)?;
                let item = current(t, &key).filter(|i| crate::expr::eval::matches(i, &filter));
                let item = match (&projection, item) {
                    (Some(paths), Some(i)) => Some(crate::expr::eval::project(&i, paths)),
                    (_, i) => i,
                };
                let mut r = json!({"TableName": table});
                if let Some(item) = item {
                    r["Item"] = item_to_json(&item);
                }
                Ok((r, None))
            }
            Statement::Select { .. } => {
                Err(validation("Where clause does not contain a mandatory equality on all key attributes"))
            }
            stmt => {
                let planned = plan(db, ctx, stmt, s)?;
                if !seen.insert((planned.table.meta().name.clone(), planned.key.clone())) {
                    return Err(validation("Provided list of item keys contains duplicates"));
                }
                Ok((json!({"TableName": planned.table.meta().name}), Some(planned)))
            }
        });
        match result {
            Ok((r, planned)) => {
                if let Some(p) = planned {
                    writes.write(p.table, &p.key, p.old.as_ref(), p.new.as_ref(), false);
                }
                responses.push(r);
            }
            Err(e) => {
                let code = e.code.rsplit('#').next().unwrap_or_default().trim_end_matches("Exception").to_string();
                responses.push(json!({"Error": {"Code": code, "Message": e.message}}));
            }
        }
    }
    Ok(Outcome { output: json!({"Responses": responses}), changes: writes.changes })
}

pub fn execute_transaction(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let statements = input["TransactStatements"].as_array().cloned().unwrap_or_default();
    if statements.len() > 100 {
        return Err(validation("Member must have length less than or equal to 100"));
    }
    let mut reasons = Vec::new();
    let mut planned = Vec::new();
    let mut responses = Vec::new();
    let mut any_read = false;
    let mut seen = HashSet::new();
    for s in &statements {
        match parse(s)? {
            Statement::Select { table, filter, projection, .. } => {
                any_read = true;
                let t = data_table(db, ctx, &table)?;
                let filter = filter.ok_or_else(|| {
                    validation("Where clause does not contain a mandatory equality on all key attributes")
                })?;
                let key = pinned_key(t, &filter)?;
                let item = current(t, &key).map(|i| match &projection {
                    Some(paths) => crate::expr::eval::project(&i, paths),
                    None => i,
                });
                responses.push(item.map_or(json!({}), |i| json!({"Item": item_to_json(&i)})));
                reasons.push(json!({"Code": "None"}));
            }
            stmt => {
                responses.push(json!({}));
                match plan(db, ctx, stmt, s) {
                    Ok(p) => {
                        if !seen.insert((p.table.meta().name.clone(), p.key.clone())) {
                            return Err(validation(
                                "Transaction request cannot include multiple operations on one item",
                            ));
                        }
                        planned.push(p);
                        reasons.push(json!({"Code": "None"}));
                    }
                    Err(e) if e.code.ends_with("ConditionalCheckFailedException") => {
                        reasons.push(json!({"Code": "ConditionalCheckFailed", "Message": e.message}))
                    }
                    Err(e) if e.code.ends_with("DuplicateItemException") => {
                        reasons.push(json!({"Code": "DuplicateItem", "Message": e.message}))
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
    if reasons.iter().any(|r| r["Code"] != "None") {
        let codes: Vec<String> = reasons.iter().map(|r| r["Code"].as_str().unwrap_or_default().to_string()).collect();
        return Err(service(
            "TransactionCanceledException",
            format!(
                "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                codes.join(", ")
            ),
        )
        .with_extra("CancellationReasons", Value::Array(reasons)));
    }
    let mut writes = Writes::new(db, ctx);
    for p in planned {
        writes.write(p.table, &p.key, p.old.as_ref(), p.new.as_ref(), false);
    }
    let output = if any_read { json!({"Responses": responses}) } else { json!({"Responses": []}) };
    Ok(Outcome { output, changes: writes.changes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(src: &str, params: Value) -> std::result::Result<Statement, String> {
        parse(&json!({"Statement": src, "Parameters": params})).map_err(|e| e.message)
    }

    #[test]
    fn statements_parse() {
        assert!(matches!(
            stmt(r#"SELECT * FROM "t" WHERE pk = 'a' AND sk > 3"#, Value::Null),
            Ok(Statement::Select { .. })
        ));
        assert!(matches!(
            stmt(r#"SELECT a, b.c[0] FROM "t"."idx""#, Value::Null),
            Ok(Statement::Select { index: Some(_), .. })
        ));
        let Ok(Statement::Insert { item, .. }) = stmt(
            r#"INSERT INTO "t" VALUE {'pk': ?, 'n': 1.5, 'm': {'x': [1, 'two']}, 's': <<'a', 'b'>>, 'f': true}"#,
            json!([{"S": "k"}]),
        ) else {
            panic!()
        };
        assert_eq!(item_to_json(&item)["s"], json!({"SS": ["a", "b"]}));
        assert_eq!(item_to_json(&item)["pk"], json!({"S": "k"}));
        assert!(matches!(
            stmt(r#"UPDATE "t" SET a = a + 1, b = 'x' REMOVE c WHERE pk = 'a'"#, Value::Null),
            Ok(Statement::Update { .. })
        ));
        assert!(matches!(
            stmt(r#"DELETE FROM "t" WHERE pk = ? AND attr IS NOT MISSING"#, json!([{"S": "a"}])),
            Ok(Statement::Delete { .. })
        ));
        assert_eq!(
            stmt(r#"SELECT * FROM "t" WHERE pk = ?"#, Value::Null).unwrap_err(),
            "Number of parameters in request and statement don't match."
        );
        assert_eq!(
            stmt(r#"SELEC * FROM "t""#, Value::Null).unwrap_err(),
            "Statement wasn't well formed, can't be processed: Unexpected token: SELEC"
        );
        assert_eq!(
            stmt(r#"SELECT * FROM"#, Value::Null).unwrap_err(),
            "Statement wasn't well formed, can't be processed: Unexpected end of statement"
        );
    }
}
