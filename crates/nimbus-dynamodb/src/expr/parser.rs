//! A recursive-descent parser for DynamoDB's condition, update, projection and key-condition
//! expressions, producing [`ast`](super::ast) with names and values resolved and DynamoDB's
//! error messages (`Invalid UpdateExpression: Syntax error; token: "<EOF>", near: "= "`).
//!
//! Grammar (keywords case-insensitive, function names case-sensitive):
//! ```text
//! condition  := or
//! or         := and ("OR" and)*
//! and        := not ("AND" not)*
//! not        := "NOT" not | primary
//! primary    := "(" condition ")" | function "(" operands ")"
//!             | operand (comparator operand | "BETWEEN" operand "AND" operand | "IN" "(" operands ")")
//! operand    := path | :value | "size" "(" path ")"
//! path       := element ("." element | "[" digits "]")*
//! element    := name | #name
//! update     := (("SET" action ("," action)*) | ("REMOVE" path ("," path)*)
//!               | ("ADD" path :value ("," path :value)*) | ("DELETE" path :value ...))+
//! action     := path "=" value (("+" | "-") value)?
//! value      := path | :value | "if_not_exists" "(" path "," value ")" | "list_append" "(" value "," value ")"
//! projection := path ("," path)*
//! ```

use std::collections::HashSet;
use std::sync::OnceLock;

use nimbus_core::AwsError;

use super::ast::{Cmp, Condition, Operand, Path, PathElem, SetValue, Update, UpdateOperand};
use super::lexer::{tokenize, Tok, Token};
use super::symbols::Symbols;
use crate::errors::{validation, Result};
use crate::value::{AttrValue, TYPE_NAMES};

/// Which parameter an expression came from; DynamoDB names it in every error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Condition,
    Filter,
    KeyCondition,
    Update,
    Projection,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Condition => "ConditionExpression",
            Kind::Filter => "FilterExpression",
            Kind::KeyCondition => "KeyConditionExpression",
            Kind::Update => "UpdateExpression",
            Kind::Projection => "ProjectionExpression",
        }
    }
}

fn reserved_words() -> &'static HashSet<&'static str> {
    static WORDS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| include_str!("reserved_words.txt").lines().filter(|l| !l.starts_with('#')).collect())
}

pub fn is_reserved(word: &str) -> bool {
    reserved_words().contains(word.to_ascii_uppercase().as_str())
}

/// The most operands `IN` takes.
const MAX_IN_OPERANDS: usize = 100;

const CONDITION_FUNCTIONS: [&str; 5] =
    ["attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains"];

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    kind: Kind,
    syms: &'a mut Symbols,
}

fn parse_with<'a, T>(
    src: &'a str,
    kind: Kind,
    syms: &'a mut Symbols,
    body: impl FnOnce(&mut Parser<'a>) -> Result<T>,
) -> Result<T> {
    let invalid = |detail: String| validation(format!("Invalid {}: {detail}", kind.label()));
    if src.trim().is_empty() {
        return Err(invalid("The expression can not be empty;".into()));
    }
    let toks = tokenize(src).map_err(|e| {
        let near_start = src[..e.start].trim_end().rfind(char::is_whitespace).map_or(0, |i| i + 1);
        invalid(format!("Syntax error; token: \"{}\", near: \"{}\"", &src[e.start..e.end], &src[near_start..e.end]))
    })?;
    let mut parser = Parser { src, toks, pos: 0, kind, syms };
    let out = body(&mut parser)?;
    if parser.peek() != &Tok::Eof {
        return Err(parser.syntax_error());
    }
    Ok(out)
}

pub fn parse_condition(src: &str, kind: Kind, syms: &mut Symbols) -> Result<Condition> {
    parse_with(src, kind, syms, |p| p.condition())
}

pub fn parse_update(src: &str, syms: &mut Symbols) -> Result<Update> {
    parse_with(src, Kind::Update, syms, |p| p.update())
}

pub fn parse_projection(src: &str, syms: &mut Symbols) -> Result<Vec<Path>> {
    let paths = parse_with(src, Kind::Projection, syms, |p| {
        let mut paths = vec![p.path()?];
        while p.eat_punct(",") {
            paths.push(p.path()?);
        }
        Ok(paths)
    })?;
    check_overlaps(Kind::Projection, paths.iter())?;
    Ok(paths)
}

fn check_overlaps<'p>(kind: Kind, paths: impl Iterator<Item = &'p Path>) -> Result<()> {
    let paths: Vec<&Path> = paths.collect();
    for (i, a) in paths.iter().enumerate() {
        for b in &paths[..i] {
            if a.overlaps(b) {
                return Err(validation(format!(
                    "Invalid {}: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {b}, path two: {a}",
                    kind.label()
                )));
            }
        }
    }
    Ok(())
}

impl<'a> Parser<'a> {
    fn invalid(&self, detail: impl std::fmt::Display) -> AwsError {
        validation(format!("Invalid {}: {detail}", self.kind.label()))
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }

    fn peek_at(&self, offset: usize) -> &Tok {
        &self.toks[(self.pos + offset).min(self.toks.len() - 1)].tok
    }

    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].tok.clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    /// `Syntax error; token: "x", near: "<previous token> x"`, quoting the source.
    fn syntax_error(&self) -> AwsError {
        let cur = &self.toks[self.pos];
        let token = if cur.tok == Tok::Eof { "<EOF>".to_string() } else { self.src[cur.start..cur.end].to_string() };
        // DynamoDB quotes the previous token through the offending one; at the end, the last token.
        let near = match (self.pos.checked_sub(1).map(|i| &self.toks[i]), &cur.tok) {
            (Some(prev), Tok::Eof) => &self.src[prev.start..prev.end],
            (Some(prev), _) => &self.src[prev.start..cur.end],
            (None, _) => &self.src[cur.start..cur.end],
        };
        self.invalid(format!("Syntax error; token: \"{token}\", near: \"{near}\""))
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Tok::Punct(q) if *q == p) {
            self.next();
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, p: &str) -> Result<()> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    fn is_keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if w.eq_ignore_ascii_case(word))
    }

    fn eat_keyword(&mut self, word: &str) -> bool {
        if self.is_keyword(word) {
            self.next();
            true
        } else {
            false
        }
    }

    // ---- paths and values ----

    fn name_element(&mut self) -> Result<Box<str>> {
        match self.peek().clone() {
            Tok::Ident(word) => {
                if is_reserved(&word) {
                    return Err(self.invalid(format!("Attribute name is a reserved keyword; reserved keyword: {word}")));
                }
                self.next();
                Ok(word.into())
            }
            Tok::Name(key) => {
                let name = self.syms.name(&key).ok_or_else(|| {
                    self.invalid(format!(
                        "An expression attribute name used in the document path is not defined; attribute name: {key}"
                    ))
                })?;
                self.next();
                Ok(name.into())
            }
            _ => Err(self.syntax_error()),
        }
    }

    fn path(&mut self) -> Result<Path> {
        let mut elems = vec![PathElem::Name(self.name_element()?)];
        loop {
            if self.eat_punct(".") {
                elems.push(PathElem::Name(self.name_element()?));
            } else if self.eat_punct("[") {
                let Tok::Int(digits) = self.peek().clone() else { return Err(self.syntax_error()) };
                let index: usize =
                    digits.parse().ok().filter(|i: &usize| *i <= u32::MAX as usize).ok_or_else(|| {
                        self.invalid(format!("List index is not within the allowable range; index: [{digits}]"))
                    })?;
                self.next();
                self.expect_punct("]")?;
                elems.push(PathElem::Index(index));
            } else {
                return Ok(Path(elems));
            }
        }
    }

    fn value(&mut self, key: &str) -> Result<AttrValue> {
        let v = self.syms.value(key).ok_or_else(|| {
            self.invalid(format!(
                "An expression attribute value used in expression is not defined; attribute value: {key}"
            ))
        })?;
        self.next();
        Ok(v)
    }

    fn function_name(&self) -> Option<String> {
        match (self.peek(), self.peek_at(1)) {
            (Tok::Ident(name), Tok::Punct("(")) => Some(name.clone()),
            _ => None,
        }
    }

    /// The arguments of a function call, after its name: `(a, b)`.
    fn arguments<T>(&mut self, name: &str, mut arg: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        self.next(); // the name
        self.expect_punct("(")?;
        let mut args = vec![arg(self)?];
        while self.eat_punct(",") {
            args.push(arg(self)?);
        }
        self.expect_punct(")")?;
        let _ = name;
        Ok(args)
    }

    fn wrong_arity(&self, name: &str, count: usize) -> AwsError {
        self.invalid(format!("Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {count}"))
    }

    fn operand(&mut self) -> Result<Operand> {
        if let Some(name) = self.function_name() {
            return match name.as_str() {
                "size" => {
                    let mut args = self.arguments(&name, |p| p.operand())?;
                    if args.len() != 1 {
                        return Err(self.wrong_arity("size", args.len()));
                    }
                    match args.remove(0) {
                        Operand::Path(path) => Ok(Operand::Size(path)),
                        Operand::Value(v) => Err(self.invalid(format!(
                            "Incorrect operand type for operator or function; operator or function: size, operand type: {}",
                            v.type_name()
                        ))),
                        Operand::Size(_) => Err(self.invalid("Incorrect operand type for operator or function; operator or function: size, operand type: N")),
                    }
                }
                n if CONDITION_FUNCTIONS.contains(&n) || n == "if_not_exists" || n == "list_append" => Err(self
                    .invalid(format!(
                        "The function is not allowed to be used this way in an expression; function: {n}"
                    ))),
                n => Err(self.invalid(format!("Invalid function name; function: {n}"))),
            };
        }
        match self.peek().clone() {
            Tok::Value(key) => Ok(Operand::Value(self.value(&key)?)),
            Tok::Ident(_) | Tok::Name(_) => Ok(Operand::Path(self.path()?)),
            _ => Err(self.syntax_error()),
        }
    }

    // ---- conditions ----

    fn condition(&mut self) -> Result<Condition> {
        let mut left = self.and()?;
        while self.eat_keyword("OR") {
            left = Condition::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition> {
        let mut left = self.not()?;
        while self.eat_keyword("AND") {
            left = Condition::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Condition> {
        if self.is_keyword("NOT")
            && !matches!(self.peek_at(1), Tok::Punct("=" | "<>" | "<" | "<=" | ">" | ">=") | Tok::Eof)
        {
            self.next();
            return Ok(Condition::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Condition> {
        if self.eat_punct("(") {
            let inner = self.condition()?;
            self.expect_punct(")")?;
            return Ok(inner);
        }
        if let Some(name) = self.function_name() {
            if CONDITION_FUNCTIONS.contains(&name.as_str()) {
                return self.condition_function(&name);
            }
        }
        let left = self.operand()?;
        let cmp = match self.peek() {
            Tok::Punct("=") => Some(Cmp::Eq),
            Tok::Punct("<>") => Some(Cmp::Ne),
            Tok::Punct("<") => Some(Cmp::Lt),
            Tok::Punct("<=") => Some(Cmp::Le),
            Tok::Punct(">") => Some(Cmp::Gt),
            Tok::Punct(">=") => Some(Cmp::Ge),
            _ => None,
        };
        if let Some(cmp) = cmp {
            self.next();
            let right = self.operand()?;
            return Ok(Condition::Compare(left, cmp, right));
        }
        if self.eat_keyword("BETWEEN") {
            let low = self.operand()?;
            if !self.eat_keyword("AND") {
                return Err(self.syntax_error());
            }
            let high = self.operand()?;
            if let (Operand::Value(l), Operand::Value(h)) = (&low, &high) {
                self.check_bounds(l, h)?;
            }
            return Ok(Condition::Between(left, low, high));
        }
        if self.eat_keyword("IN") {
            self.expect_punct("(")?;
            let mut list = vec![self.operand()?];
            while self.eat_punct(",") {
                list.push(self.operand()?);
            }
            self.expect_punct(")")?;
            if list.len() > MAX_IN_OPERANDS {
                return Err(self.invalid(format!(
                    "The IN operator is provided with too many operands; number of operands: {}",
                    list.len()
                )));
            }
            return Ok(Condition::In(left, list));
        }
        Err(self.syntax_error())
    }

    fn check_bounds(&self, low: &AttrValue, high: &AttrValue) -> Result<()> {
        let ordered = match low.compare(high) {
            Some(o) => o != std::cmp::Ordering::Greater,
            None => {
                return Err(self.invalid(format!(
                    "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {{{}}}, upper bound operand: AttributeValue: {{{}}}",
                    describe(low),
                    describe(high)
                )))
            }
        };
        if !ordered {
            return Err(self.invalid(format!(
                "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {{{}}}, upper bound operand: AttributeValue: {{{}}}",
                describe(low),
                describe(high)
            )));
        }
        Ok(())
    }

    fn condition_function(&mut self, name: &str) -> Result<Condition> {
        let args = self.arguments(name, |p| p.operand())?;
        let want = match name {
            "attribute_exists" | "attribute_not_exists" => 1,
            _ => 2,
        };
        if args.len() != want {
            return Err(self.wrong_arity(name, args.len()));
        }
        let mut args = args.into_iter();
        let first = args.next().expect("arity checked");
        let second = args.next();
        let needs_path =
            || self.invalid(format!("Operator or function requires a document path; operator or function: {name}"));
        let wrong_type = |v: &AttrValue| {
            self.invalid(format!(
                "Incorrect operand type for operator or function; operator or function: {name}, operand type: {}",
                v.type_name()
            ))
        };
        Ok(match name {
            "attribute_exists" | "attribute_not_exists" => {
                let Operand::Path(path) = first else { return Err(needs_path()) };
                if name == "attribute_exists" {
                    Condition::Exists(path)
                } else {
                    Condition::NotExists(path)
                }
            }
            "attribute_type" => {
                let Operand::Path(path) = first else { return Err(needs_path()) };
                let second = second.expect("arity checked");
                if let Operand::Value(v) = &second {
                    match v {
                        AttrValue::S(t) if TYPE_NAMES.contains(&&**t) => {}
                        AttrValue::S(t) => {
                            return Err(self.invalid(format!(
                                "Invalid attribute type name found; type: {t}, valid types: {{ B,NULL,SS,BOOL,L,BS,N,NS,S,M }}"
                            )))
                        }
                        other => return Err(wrong_type(other)),
                    }
                }
                Condition::Type(path, second)
            }
            "begins_with" => {
                let second = second.expect("arity checked");
                for op in [&first, &second] {
                    if let Operand::Value(v) = op {
                        if !matches!(v, AttrValue::S(_) | AttrValue::B(_)) {
                            return Err(wrong_type(v));
                        }
                    }
                }
                Condition::BeginsWith(first, second)
            }
            _ => Condition::Contains(first, second.expect("arity checked")),
        })
    }

    // ---- updates ----

    fn update(&mut self) -> Result<Update> {
        let mut update = Update::default();
        let mut seen: Vec<&'static str> = Vec::new();
        loop {
            let clause = match self.peek() {
                Tok::Ident(w) => ["SET", "REMOVE", "ADD", "DELETE"].into_iter().find(|k| w.eq_ignore_ascii_case(k)),
                Tok::Eof if !seen.is_empty() => break,
                _ => None,
            };
            let Some(clause) = clause else { return Err(self.syntax_error()) };
            if seen.contains(&clause) {
                return Err(
                    self.invalid(format!("The \"{clause}\" section can only be used once in an update expression;"))
                );
            }
            seen.push(clause);
            self.next();
            loop {
                match clause {
                    "SET" => {
                        let path = self.path()?;
                        self.expect_punct("=")?;
                        let value = self.set_value()?;
                        update.set.push((path, value));
                    }
                    "REMOVE" => update.remove.push(self.path()?),
                    _ => {
                        let path = self.path()?;
                        let Tok::Value(key) = self.peek().clone() else { return Err(self.syntax_error()) };
                        let value = self.value(&key)?;
                        let allowed = match clause {
                            "ADD" => matches!(
                                value,
                                AttrValue::N(_) | AttrValue::Ss(_) | AttrValue::Ns(_) | AttrValue::Bs(_)
                            ),
                            _ => matches!(value, AttrValue::Ss(_) | AttrValue::Ns(_) | AttrValue::Bs(_)),
                        };
                        if !allowed {
                            return Err(self.invalid(format!(
                                "Incorrect operand type for operator or function; operator: {clause}, operand type: {}",
                                long_type_name(&value)
                            )));
                        }
                        if clause == "ADD" {
                            update.add.push((path, value));
                        } else {
                            update.delete.push((path, value));
                        }
                    }
                }
                if !self.eat_punct(",") {
                    break;
                }
            }
        }
        let paths = update
            .set
            .iter()
            .map(|(p, _)| p)
            .chain(&update.remove)
            .chain(update.add.iter().map(|(p, _)| p))
            .chain(update.delete.iter().map(|(p, _)| p));
        check_overlaps(Kind::Update, paths)?;
        Ok(update)
    }

    fn set_value(&mut self) -> Result<SetValue> {
        let left = self.update_operand()?;
        let op = if self.eat_punct("+") {
            "+"
        } else if self.eat_punct("-") {
            "-"
        } else {
            return Ok(SetValue::Operand(left));
        };
        let right = self.update_operand()?;
        for operand in [&left, &right] {
            if let UpdateOperand::Value(v) = operand {
                if !matches!(v, AttrValue::N(_)) {
                    return Err(self.invalid(format!(
                        "Incorrect operand type for operator or function; operator or function: {op}, operand type: {}",
                        v.type_name()
                    )));
                }
            }
        }
        Ok(if op == "+" { SetValue::Plus(left, right) } else { SetValue::Minus(left, right) })
    }

    fn update_operand(&mut self) -> Result<UpdateOperand> {
        if let Some(name) = self.function_name() {
            return match name.as_str() {
                "if_not_exists" => {
                    let mut args = self.arguments(&name, |p| p.update_operand())?;
                    if args.len() != 2 {
                        return Err(self.wrong_arity(&name, args.len()));
                    }
                    let fallback = args.pop().expect("two");
                    let UpdateOperand::Path(path) = args.pop().expect("two") else {
                        return Err(self.invalid(
                            "Operator or function requires a document path; operator or function: if_not_exists",
                        ));
                    };
                    Ok(UpdateOperand::IfNotExists(path, Box::new(fallback)))
                }
                "list_append" => {
                    let mut args = self.arguments(&name, |p| p.update_operand())?;
                    if args.len() != 2 {
                        return Err(self.wrong_arity(&name, args.len()));
                    }
                    for arg in &args {
                        if let UpdateOperand::Value(v) = arg {
                            if !matches!(v, AttrValue::L(_)) {
                                return Err(self.invalid(format!(
                                    "Incorrect operand type for operator or function; operator or function: list_append, operand type: {}",
                                    v.type_name()
                                )));
                            }
                        }
                    }
                    let second = args.pop().expect("two");
                    let first = args.pop().expect("two");
                    Ok(UpdateOperand::ListAppend(Box::new(first), Box::new(second)))
                }
                n if CONDITION_FUNCTIONS.contains(&n) || n == "size" => {
                    Err(self.invalid(format!("The function is not allowed in an update expression; function: {n}")))
                }
                n => Err(self.invalid(format!("Invalid function name; function: {n}"))),
            };
        }
        match self.peek().clone() {
            Tok::Value(key) => Ok(UpdateOperand::Value(self.value(&key)?)),
            Tok::Ident(_) | Tok::Name(_) => Ok(UpdateOperand::Path(self.path()?)),
            _ => Err(self.syntax_error()),
        }
    }
}

/// `S:abc`, `N:5`: how DynamoDB quotes a value in an error.
fn describe(v: &AttrValue) -> String {
    match v {
        AttrValue::S(s) => format!("S:{s}"),
        AttrValue::N(n) => format!("N:{n}"),
        other => format!("{}:{}", other.type_name(), other.to_json()[other.type_name()]),
    }
}

/// Type names as ADD and DELETE errors spell them.
fn long_type_name(v: &AttrValue) -> &'static str {
    match v {
        AttrValue::S(_) => "STRING",
        AttrValue::N(_) => "NUMBER",
        AttrValue::B(_) => "BINARY",
        AttrValue::Ss(_) => "STRING_SET",
        AttrValue::Ns(_) => "NUMBER_SET",
        AttrValue::Bs(_) => "BINARY_SET",
        AttrValue::M(_) => "MAP",
        AttrValue::L(_) => "LIST",
        AttrValue::Null => "NULL",
        AttrValue::Bool(_) => "BOOLEAN",
    }
}
