//! The AWS query protocol (IAM, STS, SQS's query mode): form-encoded parameters in, XML out.
//!
//! A request carries `Action`, `Version` and flat parameters; lists are flattened as
//! `Tags.member.1.Key` / `TagKeys.member.1`. A success answers
//! `<XResponse xmlns=…><XResult>…</XResult><ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></XResponse>`,
//! an error `<ErrorResponse xmlns=…><Error><Type>Sender</Type><Code>…</Code><Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>`.

use std::collections::BTreeMap;

use crate::error::{AwsError, Fault};
use crate::http::{HttpRequest, HttpResponse};

/// A decoded query request: every parameter from the URL query and the form body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryRequest {
    pub params: BTreeMap<String, String>,
}

impl QueryRequest {
    /// Decode the URL query plus, for form-encoded bodies, the body (body values win).
    pub fn from_http(req: &HttpRequest) -> QueryRequest {
        let mut params: BTreeMap<String, String> = req.query.iter().cloned().collect();
        if is_form(req) || (!req.body.is_empty() && req.header("content-type").is_none()) {
            for (k, v) in form_urlencoded::parse(&req.body) {
                params.insert(k.into_owned(), v.into_owned());
            }
        }
        QueryRequest { params }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        QueryRequest { params: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }

    pub fn action(&self) -> Option<&str> {
        self.get("Action")
    }

    pub fn version(&self) -> Option<&str> {
        self.get("Version")
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// Indexes `i` present under `prefix.member.i` (or `prefix.member.i.…`), ascending.
    pub fn list_indexes(&self, prefix: &str) -> Vec<u32> {
        let head = format!("{prefix}.member.");
        let mut indexes: Vec<u32> = self
            .params
            .keys()
            .filter_map(|k| k.strip_prefix(&head))
            .filter_map(|rest| rest.split('.').next()?.parse().ok())
            .collect();
        indexes.sort_unstable();
        indexes.dedup();
        indexes
    }

    /// A flattened list of strings: `TagKeys.member.1`, `TagKeys.member.2`, …
    pub fn string_list(&self, prefix: &str) -> Vec<String> {
        self.list_indexes(prefix)
            .into_iter()
            .filter_map(|i| self.get(&format!("{prefix}.member.{i}")).map(str::to_string))
            .collect()
    }

    /// A flattened list of structures: `Tags.member.1.Key`, `Tags.member.1.Value`, … → one map
    /// of member name to value per element.
    pub fn struct_list(&self, prefix: &str) -> Vec<BTreeMap<String, String>> {
        self.list_indexes(prefix)
            .into_iter()
            .map(|i| {
                let head = format!("{prefix}.member.{i}.");
                self.params.iter().filter_map(|(k, v)| Some((k.strip_prefix(&head)?.to_string(), v.clone()))).collect()
            })
            .collect()
    }
}

/// Whether the body is form-encoded (`application/x-www-form-urlencoded`).
pub fn is_form(req: &HttpRequest) -> bool {
    req.header("content-type")
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
}

/// The `Action` of a request, from the URL query or a form body: cheap enough for `claims()`.
pub fn action_of(req: &HttpRequest) -> Option<String> {
    if let Some(action) = req.query_param("Action") {
        return Some(action.to_string());
    }
    if !is_form(req) {
        return None;
    }
    form_urlencoded::parse(&req.body).find(|(k, _)| k == "Action").map(|(_, v)| v.into_owned())
}

/// Escape text for an XML element or attribute value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

/// A small XML builder: `open`/`close` elements, `text` leaves, escaped.
#[derive(Debug, Default, Clone)]
pub struct XmlWriter {
    buf: String,
}

impl XmlWriter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    /// `<tag>escaped text</tag>`.
    pub fn text(&mut self, tag: &str, value: impl AsRef<str>) -> &mut Self {
        self.open(tag);
        self.buf.push_str(&escape(value.as_ref()));
        self.close(tag)
    }

    /// `text` only when the value is present.
    pub fn opt_text(&mut self, tag: &str, value: Option<impl AsRef<str>>) -> &mut Self {
        if let Some(value) = value {
            self.text(tag, value);
        }
        self
    }

    /// `<tag/>`: an empty structure.
    pub fn empty(&mut self, tag: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push_str("/>");
        self
    }

    /// `<tag><member>…</member>…</tag>`, one `member` per item, written by `each`.
    pub fn list<T>(
        &mut self,
        tag: &str,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Self, T),
    ) -> &mut Self {
        self.open(tag);
        for item in items {
            self.open("member");
            each(self, item);
            self.close("member");
        }
        self.close(tag)
    }

    pub fn raw(&mut self, xml: &str) -> &mut Self {
        self.buf.push_str(xml);
        self
    }

    pub fn finish(self) -> String {
        self.buf
    }

    pub fn as_str(&self) -> &str {
        &self.buf
    }
}

/// A successful query response. `result` is the inner XML of `<{action}Result>`; `None` for
/// operations without output (their response holds only `ResponseMetadata`).
pub fn response(action: &str, xmlns: &str, request_id: &str, result: Option<&str>) -> HttpResponse {
    response_wrapped(action, &format!("{action}Result"), xmlns, request_id, result)
}

/// [`response`] with the result element the model names (`resultWrapper`).
pub fn response_wrapped(
    action: &str,
    wrapper: &str,
    xmlns: &str,
    request_id: &str,
    result: Option<&str>,
) -> HttpResponse {
    let mut w = XmlWriter::new();
    w.raw(&format!("<{action}Response xmlns=\"{}\">", escape(xmlns)));
    if let Some(result) = result {
        w.open(wrapper).raw(result).close(wrapper);
    }
    w.open("ResponseMetadata").text("RequestId", request_id).close("ResponseMetadata");
    w.close(&format!("{action}Response"));
    xml_response(200, w.finish(), request_id)
}

/// The query-protocol error body for an [`AwsError`], with its status.
pub fn error_response(err: &AwsError, xmlns: &str, request_id: &str) -> HttpResponse {
    let fault = match err.fault {
        Fault::Sender => "Sender",
        Fault::Receiver => "Receiver",
    };
    let mut w = XmlWriter::new();
    w.raw(&format!("<ErrorResponse xmlns=\"{}\">", escape(xmlns)));
    w.open("Error").text("Type", fault).text("Code", &err.code).text("Message", &err.message).close("Error");
    w.text("RequestId", request_id).close("ErrorResponse");
    xml_response(err.status, w.finish(), request_id)
}

fn xml_response(status: u16, body: String, request_id: &str) -> HttpResponse {
    let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}");
    HttpResponse::new(status, "text/xml", body).with_header("x-amzn-RequestId", request_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, Method};

    fn form(body: &str) -> HttpRequest {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/x-www-form-urlencoded; charset=utf-8".parse().unwrap());
        HttpRequest {
            method: Method::POST,
            path: "/".into(),
            query: vec![("Version".into(), "2010-05-08".into())],
            headers,
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn decodes_form_and_flattened_lists() {
        let req = form("Action=TagRole&RoleName=r%2B1&Tags.member.2.Key=b&Tags.member.1.Key=a&Tags.member.1.Value=x+y&Tags.member.2.Value=&TagKeys.member.1=k");
        assert_eq!(action_of(&req).as_deref(), Some("TagRole"));
        let q = QueryRequest::from_http(&req);
        assert_eq!(q.action(), Some("TagRole"));
        assert_eq!(q.version(), Some("2010-05-08"));
        assert_eq!(q.get("RoleName"), Some("r+1"));
        let tags = q.struct_list("Tags");
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[0]["Key"], "a");
        assert_eq!(tags[0]["Value"], "x y");
        assert_eq!(tags[1]["Value"], "");
        assert_eq!(q.string_list("TagKeys"), vec!["k".to_string()]);
    }

    #[test]
    fn renders_response_and_error() {
        let mut w = XmlWriter::new();
        w.text("Arn", "a<b&c");
        let resp = response("GetRole", "https://iam.amazonaws.com/doc/2010-05-08/", "rid", Some(w.as_str()));
        let body = String::from_utf8(resp.body.as_bytes().unwrap().to_vec()).unwrap();
        assert!(body.contains("<GetRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetRoleResult><Arn>a&lt;b&amp;c</Arn></GetRoleResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></GetRoleResponse>"));
        let err = AwsError::new(404, "NoSuchEntity", "nope");
        let resp = error_response(&err, "ns", "rid");
        assert_eq!(resp.status, 404);
        assert_eq!(resp.header("content-type"), Some("text/xml"));
        let body = String::from_utf8(resp.body.as_bytes().unwrap().to_vec()).unwrap();
        assert!(body.contains("<ErrorResponse xmlns=\"ns\"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>nope</Message></Error><RequestId>rid</RequestId></ErrorResponse>"));
    }
}
