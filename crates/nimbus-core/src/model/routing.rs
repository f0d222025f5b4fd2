//! Matching an HTTP method and path to an operation's `requestUri`.

use percent_encoding::percent_decode_str;

use super::{Operation, ServiceModel};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Label(String),
    /// `{Name+}`: matches one or more remaining segments, slashes included.
    Greedy(String),
}

/// A parsed `requestUri`: path segments plus literal query requirements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTemplate {
    segments: Vec<Segment>,
    /// `?key=value` (value required) or `?key` (key must be present).
    query: Vec<(String, Option<String>)>,
    /// Literal characters in path and query: higher is more specific.
    specificity: usize,
}

impl RouteTemplate {
    pub fn parse(request_uri: &str) -> RouteTemplate {
        let (path, query) = match request_uri.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (request_uri, None),
        };
        let mut specificity = 0;
        let segments = split_path(path)
            .map(|seg| {
                if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    match inner.strip_suffix('+') {
                        Some(name) => Segment::Greedy(name.to_string()),
                        None => Segment::Label(inner.to_string()),
                    }
                } else {
                    specificity += seg.len() + 1;
                    Segment::Literal(seg.to_string())
                }
            })
            .collect();
        let query = query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                specificity += kv.len() + 1;
                match kv.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (kv.to_string(), None),
                }
            })
            .collect();
        RouteTemplate { segments, query, specificity }
    }

    /// The labels (`{Name}` / `{Name+}`) of the path, in order.
    pub fn labels(&self) -> impl Iterator<Item = (&str, bool)> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Label(n) => Some((n.as_str(), false)),
            Segment::Greedy(n) => Some((n.as_str(), true)),
            Segment::Literal(_) => None,
        })
    }

    /// Build a raw path from label values (percent-encoding them), plus the literal query pairs.
    pub fn render(&self, labels: &[(String, String)]) -> (String, Vec<(String, String)>) {
        use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
        const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
        const GREEDY: &AsciiSet = &UNRESERVED.remove(b'/');
        let mut path = String::new();
        for seg in &self.segments {
            path.push('/');
            match seg {
                Segment::Literal(l) => path.push_str(l),
                Segment::Label(n) | Segment::Greedy(n) => {
                    let v = labels.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()).unwrap_or("");
                    let set = if matches!(seg, Segment::Greedy(_)) { GREEDY } else { UNRESERVED };
                    path.extend(utf8_percent_encode(v, set));
                }
            }
        }
        if path.is_empty() {
            path.push('/');
        }
        let query = self.query.iter().map(|(k, v)| (k.clone(), v.clone().unwrap_or_default())).collect();
        (path, query)
    }

    /// Match a raw (percent-encoded) path and decoded query pairs; returns the decoded labels.
    pub fn matches(&self, path: &str, query: &[(String, String)]) -> Option<Vec<(String, String)>> {
        for (k, v) in &self.query {
            let ok = match v {
                Some(v) => query.iter().any(|(qk, qv)| qk == k && qv == v),
                None => query.iter().any(|(qk, _)| qk == k),
            };
            if !ok {
                return None;
            }
        }
        let parts: Vec<&str> = split_path(path).collect();
        let mut labels = Vec::new();
        let mut i = 0;
        for (si, seg) in self.segments.iter().enumerate() {
            match seg {
                Segment::Literal(l) => {
                    let part = parts.get(i)?;
                    if *part != l.as_str() && decode(part) != *l {
                        return None;
                    }
                    i += 1;
                }
                Segment::Label(name) => {
                    let part = parts.get(i)?;
                    let value = decode(part);
                    if value.is_empty() {
                        return None;
                    }
                    labels.push((name.clone(), value));
                    i += 1;
                }
                Segment::Greedy(name) => {
                    // Leave room for the literal segments after the greedy label.
                    let rest = self.segments.len() - si - 1;
                    if parts.len() < i + 1 + rest {
                        return None;
                    }
                    let end = parts.len() - rest;
                    let value = parts[i..end].iter().map(|p| decode(p)).collect::<Vec<_>>().join("/");
                    if value.is_empty() {
                        return None;
                    }
                    labels.push((name.clone(), value));
                    i = end;
                }
            }
        }
        (i == parts.len()).then_some(labels)
    }
}

/// Split a path into segments, ignoring the leading slash and one trailing slash.
fn split_path(path: &str) -> impl Iterator<Item = &str> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    let empty = trimmed.is_empty();
    trimmed.split('/').filter(move |_| !empty)
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

impl ServiceModel {
    /// Match an HTTP method and raw path (percent-encoded, without query) to an
    /// operation; returns the decoded uri labels (label name -> value). Literal
    /// query parts of a `requestUri` (`?List=ALL`) must be present in `query`.
    /// When several operations match, the one with most literal characters wins.
    pub fn route(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
    ) -> Option<(&Operation, Vec<(String, String)>)> {
        let mut best: Option<(&Operation, Vec<(String, String)>)> = None;
        for op in &self.operations {
            if !op.method.eq_ignore_ascii_case(method) {
                continue;
            }
            if let Some(labels) = op.route.matches(path, query) {
                let better = match &best {
                    None => true,
                    Some((b, _)) => op.route.specificity > b.route.specificity,
                };
                if better {
                    best = Some((op, labels));
                }
            }
        }
        best
    }

    /// All operations whose path matches, whatever the method (to tell 405 from 404).
    pub fn path_exists(&self, path: &str, query: &[(String, String)]) -> bool {
        self.operations.iter().any(|op| op.route.matches(path, query).is_some())
    }
}
