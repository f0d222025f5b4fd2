//! S3's REST-XML wire: which bucket and key a request names (path style or bucket in the
//! Host), S3's time formats, XML documents and `<Error>` answers with `RequestId`/`HostId`.

use nimbus_core::query::XmlWriter;
use nimbus_core::{AwsError, HttpRequest, HttpResponse};
use percent_encoding::percent_decode_str;

pub const XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// The bucket and key a request addresses; either may be empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    pub bucket: String,
    pub key: String,
    /// Whether the bucket came from the Host header.
    pub virtual_host: bool,
}

/// The bucket named by a Host header: `<bucket>.s3.<anything>`, `<bucket>.s3-<region>.<…>`
/// or `<bucket>.localhost` — whatever name nimbus is reached by. IP addresses and plain
/// names (`localhost`, `s3.localhost.localstack.cloud`) mean path style.
pub fn bucket_from_host(host: &str) -> Option<String> {
    if host.starts_with('[') {
        return None; // IPv6 literal
    }
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    if host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let lower = host.to_ascii_lowercase();
    if let Some(at) = lower.find(".s3.").or_else(|| lower.find(".s3-")) {
        return (at > 0).then(|| host[..at].to_string());
    }
    if lower.starts_with("s3.") || lower.starts_with("s3-") {
        return None;
    }
    lower
        .strip_suffix(".localhost")
        .filter(|b| !b.is_empty())
        .map(|_| host[..host.len() - ".localhost".len()].to_string())
}

pub fn address(req: &HttpRequest) -> Address {
    let from_host = req.header("host").and_then(bucket_from_host);
    let path = req.path.strip_prefix('/').unwrap_or(&req.path);
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    match from_host {
        Some(bucket) => Address { bucket, key: decode(path), virtual_host: true },
        None => {
            let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
            Address { bucket: decode(bucket), key: decode(key), virtual_host: false }
        }
    }
}

/// `2024-01-02T03:04:05.000Z`, as S3's XML writes times.
pub fn iso(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `Tue, 02 Jan 2024 03:04:05 GMT`, as S3's headers write times.
pub fn http_date(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default().format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// An HTTP date (RFC 1123, RFC 850 or asctime) as epoch milliseconds.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let text = text.trim();
    chrono::DateTime::parse_from_rfc2822(text)
        .map(|d| d.timestamp_millis())
        .ok()
        .or_else(|| chrono::DateTime::parse_from_rfc3339(text).map(|d| d.timestamp_millis()).ok())
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(text, "%A, %d-%b-%y %H:%M:%S GMT")
                .ok()
                .map(|d| d.and_utc().timestamp_millis())
        })
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(text, "%a %b %e %H:%M:%S %Y")
                .ok()
                .map(|d| d.and_utc().timestamp_millis())
        })
}

/// The canonical user id S3 shows as an account's `Owner/ID`.
pub fn canonical_id(account: &str) -> String {
    nimbus_core::blob::BlobStore::sha256_hex(format!("nimbus-canonical-user-{account}").as_bytes())
}

pub fn owner(w: &mut XmlWriter, tag: &str, account: &str) {
    w.open(tag).text("ID", canonical_id(account)).close(tag);
}

/// A root element with S3's namespace.
pub fn open_root(w: &mut XmlWriter, tag: &str) {
    w.raw(&format!("<{tag} xmlns=\"{XMLNS}\">"));
}

pub fn xml_response(status: u16, body: String) -> HttpResponse {
    HttpResponse::new(status, "application/xml", format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}"))
}

/// A document `<tag xmlns=…>…</tag>` written by `f`.
pub fn document(tag: &str, f: impl FnOnce(&mut XmlWriter)) -> HttpResponse {
    let mut w = XmlWriter::new();
    open_root(&mut w, tag);
    f(&mut w);
    w.close(tag);
    xml_response(200, w.finish())
}

/// S3's `<Error>`: Code, Message, the error's own members, RequestId and HostId; a HEAD
/// answer carries only the status and headers, as S3's does.
pub fn error_response(err: &AwsError, request_id: &str, head: bool) -> HttpResponse {
    let host_id = host_id(request_id);
    let mut response = if head {
        let mut r = HttpResponse::new(err.status, "application/xml", "");
        r.headers.clear();
        r
    } else {
        let mut w = XmlWriter::new();
        w.open("Error").text("Code", &err.code).text("Message", &err.message);
        for (name, value) in &err.extra {
            w.text(name, value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string()));
        }
        w.text("RequestId", request_id).text("HostId", &host_id).close("Error");
        xml_response(err.status, w.finish())
    };
    if err.status == 301 {
        if let Some(region) =
            err.message.strip_prefix("The bucket is in this region: ").and_then(|r| r.strip_suffix('.'))
        {
            response.headers.push(("x-amz-bucket-region".into(), region.to_string()));
        }
    }
    response.headers.push(("x-amz-request-id".into(), request_id.to_string()));
    response.headers.push(("x-amz-id-2".into(), host_id));
    response
}

/// S3's extended request id (`x-amz-id-2`, `HostId`), derived from the request id.
pub fn host_id(request_id: &str) -> String {
    crate::checksum::b64(&crate::checksum::md5(request_id.as_bytes())).repeat(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_in_the_host() {
        assert_eq!(bucket_from_host("mybucket.s3.localhost.localstack.cloud:4566").as_deref(), Some("mybucket"));
        assert_eq!(bucket_from_host("my.dotted.bucket.s3.amazonaws.com").as_deref(), Some("my.dotted.bucket"));
        assert_eq!(bucket_from_host("b.s3.us-east-1.amazonaws.com").as_deref(), Some("b"));
        assert_eq!(bucket_from_host("b.localhost:4566").as_deref(), Some("b"));
        assert_eq!(bucket_from_host("localhost:4566"), None);
        assert_eq!(bucket_from_host("127.0.0.1:4566"), None);
        assert_eq!(bucket_from_host("s3.localhost.localstack.cloud:4566"), None);
        assert_eq!(bucket_from_host("[::1]:4566"), None);
    }

    #[test]
    fn times() {
        assert_eq!(iso(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
        assert_eq!(http_date(1_700_000_000_000), "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(parse_http_date("Tue, 14 Nov 2023 22:13:20 GMT"), Some(1_700_000_000_000));
    }
}
