//! A minimal HTTP/1.1 client for requests nimbus sends to endpoints the user runs (API
//! Gateway HTTP integrations and JWT issuers, SNS `http`/`https` subscriptions): one request
//! per connection (`Connection: close`), the whole answer read, chunked answers decoded.
//! `https://` goes over rustls (the ring provider) and trusts what the system trusts: the
//! platform's CA bundle, or `SSL_CERT_FILE` / `SSL_CERT_DIR` when set, so a locally trusted
//! CA (mkcert, a corporate root) works and a self-signed certificate does not, as on AWS.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A response from an upstream endpoint.
pub struct Upstream {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Where a URL points: scheme, `host[:port]` as written (for `Host:`), the address to dial,
/// the path with its query, and the `user:password` of the URL, if any.
struct Target<'a> {
    tls: bool,
    authority: &'a str,
    host: &'a str,
    dial: String,
    path: &'a str,
    userinfo: Option<&'a str>,
}

fn target(url: &str) -> Result<Target<'_>, String> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(format!("only http:// and https:// endpoints are supported: {url}"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (userinfo, authority) = match authority.rsplit_once('@') {
        Some((user, host)) => (Some(user), host),
        None => (None, authority),
    };
    // `host`, `host:8443`, `[::1]:8443`.
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => (h, Some(p)),
        _ => (authority, None),
    };
    let dial = format!("{host}:{}", port.unwrap_or(if tls { "443" } else { "80" }));
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok(Target { tls, authority, host, dial, path, userinfo })
}

/// The TLS client configuration, built once: the system's roots (or `SSL_CERT_FILE`/`SSL_CERT_DIR`).
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            for error in &found.errors {
                tracing::debug!(%error, "a trusted certificate could not be loaded");
            }
            let mut roots = rustls::RootCertStore::empty();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                tracing::warn!("no trusted CA certificates found (system store, SSL_CERT_FILE, SSL_CERT_DIR): https:// endpoints will fail");
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
}

/// Send one request to an `http://` or `https://` endpoint the user runs:
/// HTTP/1.1, `Connection: close`, the body read to its end. A URL's `user:password@` becomes
/// Basic authentication, as SNS does for HTTPS endpoints.
pub async fn http_call(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Duration,
) -> Result<Upstream, String> {
    let t = target(url)?;
    let mut head = format!("{method} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", t.path, t.authority);
    if let Some(user) = t.userinfo {
        let user = percent_encoding::percent_decode_str(user).decode_utf8_lossy();
        let credentials = base64::engine::general_purpose::STANDARD.encode(user.as_bytes());
        head.push_str(&format!("Authorization: Basic {credentials}\r\n"));
    }
    for (k, v) in headers {
        let lower = k.to_ascii_lowercase();
        if matches!(lower.as_str(), "host" | "connection" | "content-length" | "transfer-encoding") {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let call = async {
        let tcp = tokio::net::TcpStream::connect(&t.dial).await.map_err(|e| e.to_string())?;
        if !t.tls {
            return exchange(tcp, head.as_bytes(), body).await;
        }
        let name =
            rustls::pki_types::ServerName::try_from(t.host.to_string()).map_err(|e| format!("{}: {e}", t.host))?;
        let tls = tokio_rustls::TlsConnector::from(tls_config()?)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake with {} failed: {e}", t.authority))?;
        exchange(tls, head.as_bytes(), body).await
    };
    tokio::time::timeout(timeout, call).await.map_err(|_| "timeout".to_string())?
}

async fn exchange(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    head: &[u8],
    body: &[u8],
) -> Result<Upstream, String> {
    stream.write_all(head).await.map_err(|e| e.to_string())?;
    stream.write_all(body).await.map_err(|e| e.to_string())?;
    stream.flush().await.map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    // A TLS peer that closes without close_notify still sent its whole answer (`Connection: close`).
    if let Err(e) = stream.read_to_end(&mut raw).await {
        if e.kind() != std::io::ErrorKind::UnexpectedEof || raw.is_empty() {
            return Err(e.to_string());
        }
    }
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Result<Upstream, String> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status =
        lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).ok_or("bad status line")?;
    let mut headers = Vec::new();
    let mut chunked = false;
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim().to_string(), v.trim().to_string());
            if k.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.eq_ignore_ascii_case("chunked");
                continue;
            }
            if k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("connection") {
                continue;
            }
            headers.push((k, v));
        }
    }
    let mut body = raw[split + 4..].to_vec();
    if chunked {
        body = dechunk(&body);
    }
    Ok(Upstream { status, headers, body })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..end]).split(';').next().unwrap_or("").trim(), 16)
                .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        let stop = (start + size).min(data.len());
        out.extend_from_slice(&data[start..stop]);
        data = data.get(stop + 2..).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_scheme_port_host_and_credentials() {
        let t = target("https://user:p%40ss@hooks.test:8443/in?x=1").unwrap();
        assert!(t.tls);
        assert_eq!(
            (t.authority, t.host, t.dial.as_str(), t.path),
            ("hooks.test:8443", "hooks.test", "hooks.test:8443", "/in?x=1")
        );
        assert_eq!(t.userinfo, Some("user:p%40ss"));
        let t = target("https://hooks.test").unwrap();
        assert_eq!((t.dial.as_str(), t.path, t.userinfo), ("hooks.test:443", "/", None));
        let t = target("http://[::1]:9000/x").unwrap();
        assert_eq!((t.host, t.dial.as_str(), t.tls), ("::1", "[::1]:9000", false));
        let t = target("http://[::1]/x").unwrap();
        assert_eq!((t.host, t.dial.as_str()), ("::1", "[::1]:80"));
        assert!(target("ftp://x/").is_err());
    }
}
