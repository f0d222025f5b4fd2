//! Mapping templates: the subset of Velocity API Gateway users write — references with
//! properties, indexes and method calls (`$input.json('$.a')`, `$input.path`, `$input.params`,
//! `$input.body`, `$util.escapeJavaScript/urlEncode/urlDecode/base64Encode/base64Decode/parseJson`,
//! `$context.*`, `$stageVariables.*`), `#set`, `#if/#elseif/#else/#end`, `#foreach` (with
//! `$foreach.hasNext`), `##` comments, and the operators `== != < > <= >= && || !`.

use std::collections::HashMap;

use base64::Engine;
use serde_json::{json, Map, Value};

/// What a mapping template sees: `$input` (the body and the request parameters), `$context`
/// and `$stageVariables`.
#[derive(Clone)]
pub struct Input<'a> {
    pub body: String,
    /// `{"path": {}, "querystring": {}, "header": {}}`.
    pub params: Value,
    pub context: Value,
    pub stage_variables: Value,
    pub _marker: std::marker::PhantomData<&'a ()>,
}

/// Render a template; what it cannot parse is left as written (as Velocity does).
pub fn render(template: &str, input: &Input) -> String {
    let chars: Vec<char> = template.chars().collect();
    let mut parser = Parser { s: &chars, i: 0 };
    let nodes = parser.block(&[]).0;
    let mut vars = HashMap::new();
    vars.insert("context".to_string(), input.context.clone());
    vars.insert("stageVariables".to_string(), input.stage_variables.clone());
    let mut out = String::new();
    let mut r = Renderer { input, vars };
    r.nodes(&nodes, &mut out);
    out
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Ref(Ref, bool, String),
    Set(String, Vec<Seg>, Expr),
    If(Vec<(Expr, Vec<Node>)>, Vec<Node>),
    Foreach(String, Expr, Vec<Node>),
}

#[derive(Debug, Clone)]
struct Ref {
    name: String,
    segs: Vec<Seg>,
}

#[derive(Debug, Clone)]
enum Seg {
    Prop(String),
    Call(String, Vec<Expr>),
    Index(Expr),
}

#[derive(Debug, Clone)]
enum Expr {
    Lit(Value),
    Str(String),
    Ref(Ref),
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    Not(Box<Expr>),
    Bin(String, Box<Expr>, Box<Expr>),
}

struct Parser<'a> {
    s: &'a [char],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn starts(&self, word: &str) -> bool {
        word.chars().enumerate().all(|(k, c)| self.s.get(self.i + k) == Some(&c))
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += 1;
        }
    }

    fn ident(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-') {
            if self.peek() == Some('-') && !self.s.get(self.i + 1).is_some_and(|c| c.is_alphanumeric()) {
                break;
            }
            self.i += 1;
        }
        (self.i > start && self.s[start].is_alphabetic()).then(|| self.s[start..self.i].iter().collect()).or_else(
            || {
                self.i = start;
                None
            },
        )
    }

    /// Nodes up to one of the `ends` directives; which one ended it.
    fn block(&mut self, ends: &[&str]) -> (Vec<Node>, String) {
        let mut nodes = Vec::new();
        let mut text = String::new();
        while let Some(c) = self.peek() {
            if c == '#' {
                if self.starts("##") {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.i += 1;
                    }
                    self.i += 1;
                    continue;
                }
                let save = self.i;
                self.i += 1;
                let braced = self.peek() == Some('{');
                if braced {
                    self.i += 1;
                }
                let word = self.ident().unwrap_or_default();
                if braced && self.peek() == Some('}') {
                    self.i += 1;
                }
                if ends.contains(&word.as_str()) {
                    flush(&mut nodes, &mut text);
                    return (nodes, word);
                }
                match word.as_str() {
                    "set" | "if" | "foreach" => {
                        flush(&mut nodes, &mut text);
                        match self.directive(&word) {
                            Some(n) => nodes.push(n),
                            None => {
                                self.i = save + 1;
                                text.push('#');
                            }
                        }
                    }
                    _ => {
                        self.i = save + 1;
                        text.push('#');
                    }
                }
                continue;
            }
            if c == '$' {
                let save = self.i;
                if let Some((r, quiet)) = self.reference() {
                    flush(&mut nodes, &mut text);
                    let raw: String = self.s[save..self.i].iter().collect();
                    nodes.push(Node::Ref(r, quiet, raw));
                    continue;
                }
                self.i = save + 1;
                text.push('$');
                continue;
            }
            text.push(c);
            self.i += 1;
        }
        flush(&mut nodes, &mut text);
        (nodes, String::new())
    }

    fn directive(&mut self, word: &str) -> Option<Node> {
        self.ws();
        if self.peek() != Some('(') {
            return None;
        }
        self.i += 1;
        self.ws();
        let node = match word {
            "set" => {
                let (r, _) = self.reference()?;
                self.ws();
                (self.peek() == Some('=')).then_some(())?;
                self.i += 1;
                let e = self.expr()?;
                self.ws();
                (self.peek() == Some(')')).then_some(())?;
                self.i += 1;
                // Velocity eats the newline after a #set line.
                if self.peek() == Some('\n') {
                    self.i += 1;
                }
                Node::Set(r.name, r.segs, e)
            }
            "if" => {
                let mut branches = Vec::new();
                let mut cond = self.expr()?;
                self.ws();
                (self.peek() == Some(')')).then_some(())?;
                self.i += 1;
                loop {
                    let (body, end) = self.block(&["elseif", "else", "end"]);
                    branches.push((cond, body));
                    match end.as_str() {
                        "elseif" => {
                            self.ws();
                            (self.peek() == Some('(')).then_some(())?;
                            self.i += 1;
                            cond = self.expr()?;
                            self.ws();
                            (self.peek() == Some(')')).then_some(())?;
                            self.i += 1;
                        }
                        "else" => {
                            let (other, _) = self.block(&["end"]);
                            return Some(Node::If(branches, other));
                        }
                        _ => return Some(Node::If(branches, Vec::new())),
                    }
                }
            }
            _ => {
                let (var, _) = self.reference()?;
                self.ws();
                self.starts("in").then_some(())?;
                self.i += 2;
                let e = self.expr()?;
                self.ws();
                (self.peek() == Some(')')).then_some(())?;
                self.i += 1;
                let (body, _) = self.block(&["end"]);
                Node::Foreach(var.name, e, body)
            }
        };
        Some(node)
    }

    /// `$name`, `$!name`, `${name}`, then `.prop`, `.call(args)`, `[index]`.
    fn reference(&mut self) -> Option<(Ref, bool)> {
        (self.peek() == Some('$')).then_some(())?;
        self.i += 1;
        let quiet = self.peek() == Some('!');
        if quiet {
            self.i += 1;
        }
        let braced = self.peek() == Some('{');
        if braced {
            self.i += 1;
        }
        let name = self.ident()?;
        let mut segs = Vec::new();
        loop {
            if self.peek() == Some('.') && self.s.get(self.i + 1).is_some_and(|c| c.is_alphabetic()) {
                self.i += 1;
                let member = self.ident()?;
                if self.peek() == Some('(') {
                    self.i += 1;
                    let mut args = Vec::new();
                    loop {
                        self.ws();
                        if self.peek() == Some(')') {
                            self.i += 1;
                            break;
                        }
                        args.push(self.expr()?);
                        self.ws();
                        if self.peek() == Some(',') {
                            self.i += 1;
                        }
                    }
                    segs.push(Seg::Call(member, args));
                } else {
                    segs.push(Seg::Prop(member));
                }
            } else if self.peek() == Some('[') {
                self.i += 1;
                let e = self.expr()?;
                self.ws();
                (self.peek() == Some(']')).then_some(())?;
                self.i += 1;
                segs.push(Seg::Index(e));
            } else {
                break;
            }
        }
        if braced {
            (self.peek() == Some('}')).then_some(())?;
            self.i += 1;
        }
        Some((Ref { name, segs }, quiet))
    }

    fn expr(&mut self) -> Option<Expr> {
        let mut left = self.and()?;
        loop {
            self.ws();
            if self.starts("||") || self.starts("or ") {
                self.i += 2;
                let right = self.and()?;
                left = Expr::Bin("||".into(), Box::new(left), Box::new(right));
            } else {
                return Some(left);
            }
        }
    }

    fn and(&mut self) -> Option<Expr> {
        let mut left = self.comparison()?;
        loop {
            self.ws();
            if self.starts("&&") {
                self.i += 2;
            } else if self.starts("and ") {
                self.i += 3;
            } else {
                return Some(left);
            }
            let right = self.comparison()?;
            left = Expr::Bin("&&".into(), Box::new(left), Box::new(right));
        }
    }

    fn comparison(&mut self) -> Option<Expr> {
        let left = self.unary()?;
        self.ws();
        for op in ["==", "!=", "<=", ">=", "<", ">"] {
            if self.starts(op) {
                self.i += op.len();
                let right = self.unary()?;
                return Some(Expr::Bin(op.into(), Box::new(left), Box::new(right)));
            }
        }
        Some(left)
    }

    fn unary(&mut self) -> Option<Expr> {
        self.ws();
        if self.peek() == Some('!') {
            self.i += 1;
            return Some(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Option<Expr> {
        self.ws();
        match self.peek()? {
            '$' => self.reference().map(|(r, _)| Expr::Ref(r)),
            q @ ('\'' | '"') => {
                self.i += 1;
                let start = self.i;
                while self.peek().is_some_and(|c| c != q) {
                    self.i += 1;
                }
                let s: String = self.s[start..self.i].iter().collect();
                self.i += 1;
                Some(if q == '"' { Expr::Str(s) } else { Expr::Lit(json!(s)) })
            }
            '(' => {
                self.i += 1;
                let e = self.expr()?;
                self.ws();
                self.i += 1;
                Some(e)
            }
            '[' => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.peek() == Some(']') {
                        self.i += 1;
                        return Some(Expr::List(items));
                    }
                    items.push(self.expr()?);
                    self.ws();
                    if self.peek() == Some(',') {
                        self.i += 1;
                    }
                }
            }
            '{' => {
                self.i += 1;
                let mut entries = Vec::new();
                loop {
                    self.ws();
                    if self.peek() == Some('}') {
                        self.i += 1;
                        return Some(Expr::Map(entries));
                    }
                    let k = self.expr()?;
                    self.ws();
                    (self.peek() == Some(':')).then_some(())?;
                    self.i += 1;
                    let v = self.expr()?;
                    entries.push((k, v));
                    self.ws();
                    if self.peek() == Some(',') {
                        self.i += 1;
                    }
                }
            }
            c if c.is_ascii_digit() || c == '-' => {
                let start = self.i;
                self.i += 1;
                while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '.') {
                    self.i += 1;
                }
                let s: String = self.s[start..self.i].iter().collect();
                serde_json::from_str(&s).ok().map(Expr::Lit)
            }
            _ => {
                let word = self.ident()?;
                match word.as_str() {
                    "true" => Some(Expr::Lit(json!(true))),
                    "false" => Some(Expr::Lit(json!(false))),
                    "null" => Some(Expr::Lit(Value::Null)),
                    _ => None,
                }
            }
        }
    }
}

fn flush(nodes: &mut Vec<Node>, text: &mut String) {
    if !text.is_empty() {
        nodes.push(Node::Text(std::mem::take(text)));
    }
}

struct Renderer<'a, 'b> {
    input: &'a Input<'b>,
    vars: HashMap<String, Value>,
}

/// A value as text in the output (strings bare, the rest as JSON).
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(false))
}

/// The JSONPath subset templates use: `$`, `$.a.b`, `$.a[0]`, `$['a']`.
fn json_path(root: &Value, path: &str) -> Value {
    let mut cur = root.clone();
    let rest = path.trim().strip_prefix('$').unwrap_or(path);
    let normalized = rest.replace("['", ".").replace("']", "").replace('[', ".[");
    for part in normalized.split('.').filter(|p| !p.is_empty()) {
        cur = if let Some(idx) = part.strip_prefix('[').and_then(|p| p.strip_suffix(']')) {
            idx.parse::<usize>().ok().and_then(|i| cur.get(i).cloned()).unwrap_or(Value::Null)
        } else {
            cur.get(part).cloned().unwrap_or(Value::Null)
        };
    }
    cur
}

impl Renderer<'_, '_> {
    fn nodes(&mut self, nodes: &[Node], out: &mut String) {
        for node in nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Ref(r, quiet, raw) => match self.reference(r) {
                    Value::Null if *quiet => {}
                    Value::Null => out.push_str(raw),
                    v => out.push_str(&show(&v)),
                },
                Node::Set(name, segs, e) => {
                    let v = self.eval(e);
                    let slot = self.vars.entry(name.clone()).or_insert(Value::Null);
                    let mut target = slot;
                    for seg in segs {
                        if let Seg::Prop(p) = seg {
                            if !target.is_object() {
                                *target = Value::Object(Map::new());
                            }
                            target = target.as_object_mut().expect("object").entry(p.clone()).or_insert(Value::Null);
                        }
                    }
                    *target = v;
                }
                Node::If(branches, other) => {
                    let chosen = branches.iter().find(|(c, _)| truthy(&self.eval(c))).map(|(_, b)| b).unwrap_or(other);
                    self.nodes(chosen, out);
                }
                Node::Foreach(var, e, body) => {
                    let items: Vec<Value> = match self.eval(e) {
                        Value::Array(a) => a,
                        Value::Object(o) => o.into_iter().map(|(_, v)| v).collect(),
                        _ => Vec::new(),
                    };
                    let count = items.len();
                    for (index, item) in items.into_iter().enumerate() {
                        self.vars.insert(var.clone(), item);
                        self.vars.insert(
                            "foreach".into(),
                            json!({"hasNext": index + 1 < count, "index": index, "count": index + 1, "first": index == 0, "last": index + 1 == count}),
                        );
                        self.nodes(body, out);
                    }
                }
            }
        }
    }

    fn eval(&mut self, e: &Expr) -> Value {
        match e {
            Expr::Lit(v) => v.clone(),
            Expr::Str(s) => json!(render_with(s, self)),
            Expr::Ref(r) => self.reference(r),
            Expr::List(items) => Value::Array(items.iter().map(|i| self.eval(i)).collect()),
            Expr::Map(entries) => {
                Value::Object(entries.iter().map(|(k, v)| (show(&self.eval(k)), self.eval(v))).collect())
            }
            Expr::Not(inner) => json!(!truthy(&self.eval(inner))),
            Expr::Bin(op, a, b) => {
                let (a, b) = (self.eval(a), self.eval(b));
                let num = |v: &Value| v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok()));
                json!(match op.as_str() {
                    "==" =>
                        a == b
                            || (num(&a).is_some() && num(&a) == num(&b))
                            || show(&a) == show(&b) && !a.is_null() && !b.is_null(),
                    "!=" => !(a == b || show(&a) == show(&b) && !a.is_null() && !b.is_null()),
                    "&&" => truthy(&a) && truthy(&b),
                    "||" => truthy(&a) || truthy(&b),
                    "<" => num(&a) < num(&b),
                    ">" => num(&a) > num(&b),
                    "<=" => num(&a) <= num(&b),
                    _ => num(&a) >= num(&b),
                })
            }
        }
    }

    fn args(&mut self, args: &[Expr]) -> Vec<Value> {
        args.iter().map(|a| self.eval(a)).collect()
    }

    fn reference(&mut self, r: &Ref) -> Value {
        let mut segs = r.segs.iter();
        let mut cur = match r.name.as_str() {
            "input" => match segs.next() {
                Some(Seg::Call(m, args)) => {
                    let args = self.args(args);
                    let arg = args.first().map(show).unwrap_or_else(|| "$".into());
                    let body: Value = serde_json::from_str(&self.input.body).unwrap_or(Value::Null);
                    match m.as_str() {
                        "json" => json!(json_path(&body, &arg).to_string()),
                        "path" => json_path(&body, &arg),
                        "params" if args.is_empty() => self.input.params.clone(),
                        "params" => ["path", "querystring", "header"]
                            .iter()
                            .find_map(|p| self.input.params[p].get(&arg).cloned())
                            .unwrap_or(Value::Null),
                        _ => Value::Null,
                    }
                }
                Some(Seg::Prop(p)) if p == "body" => json!(self.input.body),
                _ => Value::Null,
            },
            "util" => match segs.next() {
                Some(Seg::Call(m, args)) => {
                    let arg = self.args(args).first().map(show).unwrap_or_default();
                    let b64 = base64::engine::general_purpose::STANDARD;
                    match m.as_str() {
                        "escapeJavaScript" => {
                            let quoted = Value::String(arg).to_string();
                            json!(quoted[1..quoted.len() - 1].replace('\'', "\\'"))
                        }
                        "urlEncode" => json!(form_encode(&arg)),
                        "urlDecode" => {
                            json!(percent_encoding::percent_decode_str(&arg.replace('+', " ")).decode_utf8_lossy())
                        }
                        "base64Encode" => json!(b64.encode(arg)),
                        "base64Decode" => json!(String::from_utf8_lossy(&b64.decode(arg).unwrap_or_default())),
                        "parseJson" => serde_json::from_str(&arg).unwrap_or(Value::Null),
                        _ => Value::Null,
                    }
                }
                _ => Value::Null,
            },
            name => self.vars.get(name).cloned().unwrap_or(Value::Null),
        };
        for seg in segs {
            cur = match seg {
                Seg::Prop(p) => cur.get(p).cloned().unwrap_or(Value::Null),
                Seg::Index(e) => match self.eval(e) {
                    Value::Number(n) => n.as_u64().and_then(|i| cur.get(i as usize).cloned()).unwrap_or(Value::Null),
                    k => cur.get(show(&k)).cloned().unwrap_or(Value::Null),
                },
                Seg::Call(m, args) => {
                    let args = self.args(args);
                    method(&cur, m, &args)
                }
            };
        }
        cur
    }
}

fn method(v: &Value, name: &str, args: &[Value]) -> Value {
    let first = args.first().cloned().unwrap_or(Value::Null);
    match name {
        "size" | "length" => json!(match v {
            Value::Array(a) => a.len(),
            Value::Object(o) => o.len(),
            Value::String(s) => s.chars().count(),
            _ => 0,
        }),
        "isEmpty" => json!(match v {
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            Value::String(s) => s.is_empty(),
            _ => true,
        }),
        "keySet" => json!(v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default()),
        "values" => json!(v.as_object().map(|o| o.values().cloned().collect::<Vec<_>>()).unwrap_or_default()),
        "get" => match &first {
            Value::Number(n) => n.as_u64().and_then(|i| v.get(i as usize).cloned()).unwrap_or(Value::Null),
            k => v.get(show(k)).cloned().unwrap_or(Value::Null),
        },
        "containsKey" => json!(v.get(show(&first)).is_some()),
        "contains" => json!(match v {
            Value::Array(a) => a.contains(&first),
            Value::String(s) => s.contains(&show(&first)),
            _ => false,
        }),
        "toString" => json!(show(v)),
        "toUpperCase" => json!(show(v).to_uppercase()),
        "toLowerCase" => json!(show(v).to_lowercase()),
        "trim" => json!(show(v).trim()),
        "equals" => json!(show(v) == show(&first)),
        "startsWith" => json!(show(v).starts_with(&show(&first))),
        "endsWith" => json!(show(v).ends_with(&show(&first))),
        "replaceAll" | "replace" => json!(show(v).replace(&show(&first), &args.get(1).map(show).unwrap_or_default())),
        "split" => json!(show(v).split(&show(&first)).collect::<Vec<_>>()),
        _ => Value::Null,
    }
}

fn form_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2D", "-")
        .replace("%2E", ".")
        .replace("%5F", "_")
        .replace("%2A", "*")
        .replace("%20", "+")
}

/// Interpolate a double-quoted string with the renderer's variables.
fn render_with(s: &str, r: &mut Renderer) -> String {
    let chars: Vec<char> = s.chars().collect();
    let nodes = Parser { s: &chars, i: 0 }.block(&[]).0;
    let mut out = String::new();
    r.nodes(&nodes, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(body: &str) -> Input<'static> {
        Input {
            body: body.into(),
            params: json!({"path": {"id": "7"}, "querystring": {"q": "a b"}, "header": {"x-h": "H"}}),
            context: json!({"requestId": "rid", "authorizer": {"principalId": "alice"}}),
            stage_variables: json!({"env": "dev"}),
            _marker: std::marker::PhantomData,
        }
    }

    #[test]
    fn references_and_input_functions() {
        let i = input(r#"{"name": "bo", "tags": ["a", "b"], "n": 3}"#);
        assert_eq!(
            render("$input.json('$')", &i),
            r#"{"n":3,"name":"bo","tags":["a","b"]}"#.replace(
                "{\"n\":3,\"name\":\"bo\",\"tags\":[\"a\",\"b\"]}",
                &serde_json::from_str::<Value>(&i.body).unwrap().to_string()
            )
        );
        assert_eq!(render("$input.path('$.name')-$input.json('$.tags[1]')", &i), "bo-\"b\"");
        assert_eq!(render("$input.params('id') $input.params('q') $input.params().header.get('x-h')", &i), "7 a b H");
        assert_eq!(
            render("${context.requestId}/$context.authorizer.principalId/$stageVariables.env", &i),
            "rid/alice/dev"
        );
        let quote = input(r#"{"q": "it's \"x\""}"#);
        assert_eq!(render("$util.escapeJavaScript($input.path('$.q'))", &quote), r#"it\'s \"x\""#);
        assert_eq!(render("$util.urlEncode('a b&c') $util.base64Encode('hi')", &i), "a+b%26c aGk=");
        assert_eq!(render("$missing $!missing.", &i), "$missing .");
        assert_eq!(render("cost: $5", &i), "cost: $5");
    }

    #[test]
    fn directives() {
        let i = input(r#"{"items": [{"v": 1}, {"v": 2}, {"v": 3}], "flag": true}"#);
        let t = "#set($items = $input.path('$.items'))\n[#foreach($it in $items)$it.v#if($foreach.hasNext),#end#end]";
        assert_eq!(render(t, &i), "[1,2,3]");
        let t = "#if($input.path('$.flag') && $input.params('id') == '7')yes#elseif(true)no#{else}never#end";
        assert_eq!(render(t, &i), "yes");
        let t = "#set($m = {\"k\": \"v\"})#if(!$m.isEmpty())$m.k $m.size()#end ## a comment\nend";
        assert_eq!(render(t, &i), "v 1 end");
        assert_eq!(render("#if($input.path('$.items').size() > 2)many#else few#end", &i), "many");
        assert_eq!(render("{\"statusCode\": 200}", &i), "{\"statusCode\": 200}");
    }
}
