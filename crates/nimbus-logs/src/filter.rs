//! CloudWatch Logs filter patterns (FilterLogEvents' `filterPattern`).
//!
//! Supported, as documented in AWS's "Filter pattern syntax":
//! - terms: `ERROR` (unquoted: letters, digits, `_` only; anything else →
//!   `Invalid character(s) in term 'c'`), `"quoted phrase"`, `%regex%`; all must appear
//!   (case-sensitive). `?term` terms match if any of them appears; `-term` excludes.
//! - JSON: `{ $.a.b[0] = "v" }`, `= value*` wildcards, `!=`, `<`, `<=`, `>`, `>=` on numbers,
//!   `IS NULL`, `NOT EXISTS`, `IS TRUE`, `IS FALSE`, `&&`, `||` (`&&` binds tighter), parentheses.
//! - space-delimited: `[ip, user, status=404, size>100, ...]`.
//!
//! Events whose message is not JSON never match a JSON pattern.

use regex::Regex;
use serde_json::Value;

#[derive(Debug)]
pub enum FilterPattern {
    All,
    Terms { all: Vec<Term>, any: Vec<Term>, none: Vec<Term> },
    Json(Expr),
    Delimited { fields: Vec<Field>, ellipsis_at: Vec<usize> },
}

#[derive(Debug)]
pub enum Term {
    Text(String),
    Regex(Regex),
}

impl Term {
    fn matches(&self, message: &str) -> bool {
        match self {
            Term::Text(t) => message.contains(t.as_str()),
            Term::Regex(r) => r.is_match(message),
        }
    }
}

#[derive(Debug)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare { path: Vec<Step>, op: Op, value: Literal },
    IsNull(Vec<Step>),
    NotExists(Vec<Step>),
    IsBool(Vec<Step>, bool),
}

#[derive(Debug, Clone)]
pub enum Step {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug)]
pub enum Literal {
    Number(f64),
    Text(String),
}

#[derive(Debug)]
pub struct Field {
    condition: Option<(Op, Literal)>,
}

pub fn parse(pattern: &str) -> Result<FilterPattern, String> {
    let p = pattern.trim();
    if p.is_empty() || p == "\"\"" {
        return Ok(FilterPattern::All);
    }
    if let Some(inner) = p.strip_prefix('{') {
        let inner = inner.strip_suffix('}').ok_or("Invalid filter pattern: missing '}'")?;
        let tokens = tokenize(inner)?;
        let mut parser = Parser { tokens, pos: 0 };
        let expr = parser.or()?;
        if parser.pos != parser.tokens.len() {
            return Err(format!("Invalid filter pattern: unexpected '{}'", parser.tokens[parser.pos]));
        }
        return Ok(FilterPattern::Json(expr));
    }
    if let Some(inner) = p.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or("Invalid filter pattern: missing ']'")?;
        return parse_delimited(inner);
    }
    parse_terms(p)
}

fn parse_terms(p: &str) -> Result<FilterPattern, String> {
    let (mut all, mut any, mut none) = (Vec::new(), Vec::new(), Vec::new());
    let chars: Vec<char> = p.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let mut bucket = &mut all;
        if chars[i] == '?' {
            bucket = &mut any;
            i += 1;
        } else if chars[i] == '-' {
            bucket = &mut none;
            i += 1;
        }
        if i >= chars.len() {
            return Err(format!("Invalid character(s) in term '{}'", chars[i - 1]));
        }
        if chars[i] == '"' {
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("Invalid filter pattern: unterminated quote".into()),
                    Some('\\') if i + 1 < chars.len() => {
                        text.push(chars[i + 1]);
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        text.push(c);
                        i += 1;
                    }
                }
            }
            bucket.push(Term::Text(text));
        } else if chars[i] == '%' {
            let end =
                chars[i + 1..].iter().position(|&c| c == '%').ok_or("Invalid filter pattern: unterminated regex")?;
            let body: String = chars[i + 1..i + 1 + end].iter().collect();
            let re = Regex::new(&body).map_err(|_| format!("Invalid regular expression: {body}"))?;
            bucket.push(Term::Regex(re));
            i += end + 2;
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() {
                if !(chars[i].is_alphanumeric() || chars[i] == '_') {
                    return Err(format!("Invalid character(s) in term '{}'", chars[i]));
                }
                i += 1;
            }
            bucket.push(Term::Text(chars[start..i].iter().collect()));
        }
    }
    Ok(FilterPattern::Terms { all, any, none })
}

fn tokenize(s: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' {
            out.push(c.to_string());
            i += 1;
        } else if c == '"' {
            let mut text = String::from('"');
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("Invalid filter pattern: unterminated quote".into()),
                    Some('\\') if i + 1 < chars.len() => {
                        text.push(chars[i + 1]);
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        text.push(c);
                        i += 1;
                    }
                }
            }
            out.push(text);
        } else if "=!<>&|".contains(c) {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            if ["&&", "||", "!=", "<=", ">="].contains(&two.as_str()) {
                out.push(two);
                i += 2;
            } else if "=<>".contains(c) {
                out.push(c.to_string());
                i += 1;
            } else {
                return Err(format!("Invalid character(s) in term '{c}'"));
            }
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && !"()=!<>&|\"".contains(chars[i]) {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<String>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.pos).map(String::as_str)
    }

    fn next(&mut self) -> Result<String, String> {
        let t = self.tokens.get(self.pos).cloned().ok_or("Invalid filter pattern: unexpected end")?;
        self.pos += 1;
        Ok(t)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek() == Some("||") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.primary()?;
        while self.peek() == Some("&&") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.primary()?));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Expr, String> {
        if self.peek() == Some("(") {
            self.pos += 1;
            let e = self.or()?;
            if self.next()? != ")" {
                return Err("Invalid filter pattern: missing ')'".into());
            }
            return Ok(e);
        }
        let selector = self.next()?;
        let path = parse_selector(&selector)?;
        let op = self.next()?;
        match op.as_str() {
            "IS" => match self.next()?.as_str() {
                "NULL" => Ok(Expr::IsNull(path)),
                "TRUE" => Ok(Expr::IsBool(path, true)),
                "FALSE" => Ok(Expr::IsBool(path, false)),
                other => Err(format!("Invalid filter pattern: unexpected '{other}'")),
            },
            "NOT" => match self.next()?.as_str() {
                "EXISTS" => Ok(Expr::NotExists(path)),
                other => Err(format!("Invalid filter pattern: unexpected '{other}'")),
            },
            _ => {
                let op = parse_op(&op).ok_or_else(|| format!("Invalid filter pattern: unexpected '{op}'"))?;
                let value = parse_literal(&self.next()?);
                if matches!(value, Literal::Text(_)) && !matches!(op, Op::Eq | Op::Ne) {
                    return Err("Invalid filter pattern: numeric comparison with a string".into());
                }
                Ok(Expr::Compare { path, op, value })
            }
        }
    }
}

fn parse_op(s: &str) -> Option<Op> {
    Some(match s {
        "=" => Op::Eq,
        "!=" => Op::Ne,
        "<" => Op::Lt,
        "<=" => Op::Le,
        ">" => Op::Gt,
        ">=" => Op::Ge,
        _ => return None,
    })
}

fn parse_literal(token: &str) -> Literal {
    if let Some(text) = token.strip_prefix('"') {
        return Literal::Text(text.to_string());
    }
    match token.parse::<f64>() {
        Ok(n) => Literal::Number(n),
        Err(_) => Literal::Text(token.to_string()),
    }
}

fn parse_selector(s: &str) -> Result<Vec<Step>, String> {
    let rest =
        s.strip_prefix('$').ok_or_else(|| format!("Invalid filter pattern: expected a selector, found '{s}'"))?;
    let mut steps = Vec::new();
    let chars: Vec<char> = rest.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '.' => {
                let start = i + 1;
                i = start;
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    i += 1;
                }
                let key: String = chars[start..i].iter().collect();
                if key.is_empty() || key.contains('"') {
                    return Err(format!("Invalid character(s) in term '{}'", chars.get(i).copied().unwrap_or('"')));
                }
                steps.push(Step::Key(key));
            }
            '[' => {
                let end = chars[i..].iter().position(|&c| c == ']').ok_or("Invalid filter pattern: missing ']'")?;
                let index: String = chars[i + 1..i + end].iter().collect();
                steps.push(Step::Index(
                    index.parse().map_err(|_| format!("Invalid filter pattern: bad index '{index}'"))?,
                ));
                i += end + 1;
            }
            c => return Err(format!("Invalid character(s) in term '{c}'")),
        }
    }
    if steps.is_empty() {
        return Err("Invalid filter pattern: empty selector".into());
    }
    Ok(steps)
}

fn parse_delimited(inner: &str) -> Result<FilterPattern, String> {
    let mut fields = Vec::new();
    let mut ellipsis_at = Vec::new();
    for raw in inner.split(',') {
        let raw = raw.trim();
        if raw == "..." {
            ellipsis_at.push(fields.len());
            continue;
        }
        let pos = raw.find(['=', '!', '<', '>']);
        let condition = match pos {
            None => None,
            Some(p) => {
                let rest = &raw[p..];
                let op_len =
                    if rest.starts_with("!=") || rest.starts_with("<=") || rest.starts_with(">=") { 2 } else { 1 };
                let op = parse_op(&rest[..op_len])
                    .ok_or_else(|| format!("Invalid character(s) in term '{}'", &rest[..1]))?;
                let value = rest[op_len..].trim();
                let literal = parse_literal(value);
                let literal = match literal {
                    Literal::Text(t) => Literal::Text(t.trim_end_matches('"').to_string()),
                    n => n,
                };
                Some((op, literal))
            }
        };
        fields.push(Field { condition });
    }
    Ok(FilterPattern::Delimited { fields, ellipsis_at })
}

impl FilterPattern {
    pub fn matches(&self, message: &str) -> bool {
        match self {
            FilterPattern::All => true,
            FilterPattern::Terms { all, any, none } => {
                all.iter().all(|t| t.matches(message))
                    && (any.is_empty() || any.iter().any(|t| t.matches(message)))
                    && !none.iter().any(|t| t.matches(message))
            }
            FilterPattern::Json(expr) => match serde_json::from_str::<Value>(message.trim()) {
                Ok(doc @ (Value::Object(_) | Value::Array(_))) => eval(expr, &doc),
                _ => false,
            },
            FilterPattern::Delimited { fields, ellipsis_at } => {
                let words = split_words(message);
                if ellipsis_at.is_empty() && words.len() != fields.len() {
                    return false;
                }
                if words.len() < fields.len() {
                    return false;
                }
                // Fields before the first `...` align with the start, the rest with the end.
                let head = ellipsis_at.first().copied().unwrap_or(fields.len());
                fields.iter().enumerate().all(|(i, f)| {
                    let word = if i < head { &words[i] } else { &words[words.len() - (fields.len() - i)] };
                    match &f.condition {
                        None => true,
                        Some((op, lit)) => compare_scalar(&Value::String(word.clone()), *op, lit, true),
                    }
                })
            }
        }
    }
}

/// Words of a space-delimited event: `"…"` and `[…]` group words together.
fn split_words(message: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = message.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' || c == '[' {
            let close = if c == '"' { '"' } else { ']' };
            chars.next();
            for d in chars.by_ref() {
                if d == close {
                    break;
                }
                word.push(d);
            }
        } else {
            while let Some(&d) = chars.peek() {
                if d.is_whitespace() {
                    break;
                }
                word.push(d);
                chars.next();
            }
        }
        out.push(word);
    }
    out
}

fn select<'a>(doc: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(doc, |v, step| match step {
        Step::Key(k) => v.get(k.as_str()),
        Step::Index(i) => v.get(*i),
    })
}

fn eval(expr: &Expr, doc: &Value) -> bool {
    match expr {
        Expr::And(a, b) => eval(a, doc) && eval(b, doc),
        Expr::Or(a, b) => eval(a, doc) || eval(b, doc),
        Expr::IsNull(path) => matches!(select(doc, path), Some(Value::Null)),
        Expr::NotExists(path) => select(doc, path).is_none(),
        Expr::IsBool(path, b) => select(doc, path) == Some(&Value::Bool(*b)),
        Expr::Compare { path, op, value } => match select(doc, path) {
            Some(v) => compare_scalar(v, *op, value, false),
            None => false,
        },
    }
}

/// `lenient_numbers`: the value is text that may hold a number (space-delimited fields).
fn compare_scalar(v: &Value, op: Op, lit: &Literal, lenient_numbers: bool) -> bool {
    match lit {
        Literal::Number(n) => {
            let x = match v {
                Value::Number(x) => x.as_f64(),
                Value::String(s) if lenient_numbers => s.parse::<f64>().ok(),
                _ => None,
            };
            let Some(x) = x else { return false };
            match op {
                Op::Eq => x == *n,
                Op::Ne => x != *n,
                Op::Lt => x < *n,
                Op::Le => x <= *n,
                Op::Gt => x > *n,
                Op::Ge => x >= *n,
            }
        }
        Literal::Text(t) => {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                _ => return false,
            };
            let eq = wildcard_match(t, &s);
            if op == Op::Ne {
                !eq
            } else {
                eq
            }
        }
    }
}

/// `*` matches any run of characters; everything else literally.
fn wildcard_match(pattern: &str, s: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == s;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = s;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(p) => rest = &rest[p + part.len()..],
                None => return false,
            }
        }
    }
    true
}
