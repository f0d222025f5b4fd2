//! Model patterns are Java regexes matched against the whole value. The `regex`
//! crate has no lookaround, which a few Lambda patterns use at the very start
//! (`(?!^[0-9]+$)[a-zA-Z0-9-_]+`: an alias name is not all digits) or the very
//! end (`[0-9A-Za-z.\-_]*(?<!\.)`). Such a lookaround is taken out of the
//! pattern and checked separately against a prefix/suffix of the value.
//! Lookarounds elsewhere (`(:((?!\d+$)[0-9a-zA-Z-_]+))?`) are handed to `fancy-regex`, a
//! backtracking engine that has them; the linear-time `regex` stays the fast path.

use regex::{Regex, RegexBuilder};

#[derive(Debug)]
pub struct Pattern {
    main: Engine,
    /// (regex, must match): anchored at the start (lookahead) or end (lookbehind).
    side: Vec<(Regex, bool)>,
}

impl Pattern {
    pub fn compile(java: &str) -> Result<Pattern, String> {
        let mut rest = java.to_string();
        let mut side = Vec::new();
        while let Some((start, end, kind)) = find_lookaround(&rest) {
            let body_start = start + if kind.behind { 4 } else { 3 };
            let inner = &rest[body_start..end];
            let before = &rest[..start];
            let after = &rest[end + 1..];
            let at_start = before.chars().all(|c| c == '(' || c == '^');
            let at_end = after.chars().all(|c| c == ')' || c == '$');
            let re = if !kind.behind && at_start {
                build(&format!(r"\A(?:{inner})"))?
            } else if kind.behind && at_end {
                build(&format!(r"(?:{inner})\z"))?
            } else {
                let fancy = fancy_regex::Regex::new(&format!(r"\A(?:{java})\z")).map_err(|e| e.to_string())?;
                return Ok(Pattern { main: Engine::Fancy(Box::new(fancy)), side: Vec::new() });
            };
            side.push((re, kind.positive));
            rest = format!("{before}{after}");
        }
        Ok(Pattern { main: Engine::Linear(build(&format!(r"\A(?:{rest})\z"))?), side })
    }

    /// Whether the whole value matches (Java `String.matches`).
    pub fn is_match(&self, value: &str) -> bool {
        let main = match &self.main {
            Engine::Linear(re) => re.is_match(value),
            // A pattern too costly to decide counts as not matching (AWS's Java engine would
            // answer eventually; model patterns are small, so this is theoretical).
            Engine::Fancy(re) => re.is_match(value).unwrap_or(false),
        };
        main && self.side.iter().all(|(re, positive)| re.is_match(value) == *positive)
    }
}

#[derive(Debug)]
enum Engine {
    Linear(Regex),
    Fancy(Box<fancy_regex::Regex>),
}

fn build(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern).size_limit(64 << 20).build().map_err(|e| e.to_string())
}

struct Kind {
    behind: bool,
    positive: bool,
}

/// The first lookaround group: (index of `(`, index of its `)`, kind).
fn find_lookaround(p: &str) -> Option<(usize, usize, Kind)> {
    let b = p.as_bytes();
    let mut i = 0;
    let mut in_class = false;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' if !in_class => in_class = true,
            b']' if in_class => in_class = false,
            b'(' if !in_class => {
                let kind = if p[i..].starts_with("(?!") {
                    Some(Kind { behind: false, positive: false })
                } else if p[i..].starts_with("(?=") {
                    Some(Kind { behind: false, positive: true })
                } else if p[i..].starts_with("(?<!") {
                    Some(Kind { behind: true, positive: false })
                } else if p[i..].starts_with("(?<=") {
                    Some(Kind { behind: true, positive: true })
                } else {
                    None
                };
                if let Some(kind) = kind {
                    return closing_paren(b, i).map(|end| (i, end, kind));
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn closing_paren(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut in_class = false;
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' if !in_class => in_class = true,
            b']' if in_class => in_class = false,
            b'(' if !in_class => depth += 1,
            b')' if !in_class => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    #[test]
    fn leading_negative_lookahead() {
        let alias = Pattern::compile("(?!^[0-9]+$)([a-zA-Z0-9-_]+)").unwrap();
        assert!(alias.is_match("live"));
        assert!(alias.is_match("1a"));
        assert!(!alias.is_match("123"));
        assert!(!alias.is_match("a b"));
        let url = Pattern::compile(r"((?!^\d+$)^[0-9a-zA-Z-_]+$)").unwrap();
        assert!(url.is_match("prod"));
        assert!(!url.is_match("42"));
        let coll = Pattern::compile(r"(^(?!(system\x2e)))(^[_a-zA-Z0-9])([^$]*)").unwrap();
        assert!(coll.is_match("orders"));
        assert!(!coll.is_match("system.users"));
        assert!(!coll.is_match("$x"));
    }

    #[test]
    fn trailing_negative_lookbehind() {
        let bucket = Pattern::compile(r"[0-9A-Za-z\.\-_]*(?<!\.)").unwrap();
        assert!(bucket.is_match("my.bucket"));
        assert!(bucket.is_match(""));
        assert!(!bucket.is_match("my.bucket."));
    }

    #[test]
    fn plain_patterns_match_whole_value() {
        let p = Pattern::compile("[a-z]+|[0-9]+").unwrap();
        assert!(p.is_match("abc"));
        assert!(p.is_match("123"));
        assert!(!p.is_match("abc123"));
        // A lookaround in the middle goes to the backtracking engine.
        let mid = Pattern::compile(r"(:((?!\d+$)[0-9a-z]+))?").unwrap();
        assert!(mid.is_match(":alias") && mid.is_match("") && !mid.is_match(":123"));
    }
}
