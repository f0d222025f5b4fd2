//! Who may talk to nimbus: the `Host` and browser `Origin` screening that stands in for
//! SigV4 on a local emulator that accepts unsigned calls.
//!
//! A web page the developer visits can send "simple" cross-origin requests (a `text/plain`
//! POST needs no preflight) and, through DNS rebinding, read the answers. So nimbus answers
//! only requests whose `Host` is a local name (`localhost`, `*.localhost`, an IP address, a
//! single-label name such as a Docker Compose service, or a configured name), and refuses
//! requests a browser marks with a foreign `Origin` (or, without one, `Referer`). Browser-facing
//! endpoints — function URLs and API Gateway invoke URLs — keep their own CORS rules.
//!
//! `--allowed-hosts` and `--allowed-origins` add names (`*.example.test` matches subdomains);
//! `*` switches a check off.

use crate::http::{HttpRequest, HttpResponse};

#[derive(Debug, Clone, Default)]
pub struct Screening {
    /// Extra `Host` names answered (lower case, without port); `*` answers every name.
    pub allowed_hosts: Vec<String>,
    /// Extra browser origins (`http://app.test:3000`, `*.app.test`, or a bare host name)
    /// allowed; `*` allows every origin.
    pub allowed_origins: Vec<String>,
}

/// The host part of a `Host` header or URL authority, lower case, without port or brackets.
fn host_only(authority: &str) -> String {
    let authority = authority.trim().to_ascii_lowercase();
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default().to_string();
    }
    match authority.rsplit_once(':') {
        // One colon: host:port. More: a bare IPv6 address.
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => host.to_string(),
        _ => authority,
    }
}

fn is_loopback_name(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `pattern` is a name, `*.suffix` (any subdomain of suffix) or `*`.
fn matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim().to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        _ if pattern == "*" => true,
        Some(suffix) => host.ends_with(&format!(".{suffix}")),
        None => pattern == host,
    }
}

impl Screening {
    /// Whether a `Host` is one nimbus answers: names only the local machine resolves, or that
    /// an attacker's DNS cannot point here.
    pub fn host_allowed(&self, host: &str) -> bool {
        let host = host_only(host);
        is_loopback_name(&host)
            // IP literals are immune to DNS rebinding (a binding to 0.0.0.0 is reached this way).
            || host.parse::<std::net::IpAddr>().is_ok()
            // Single-label names (`nimbus`, a Compose service) come from the local resolver.
            || (!host.is_empty() && !host.contains('.'))
            || self.allowed_hosts.iter().any(|p| matches(p, &host))
    }

    /// Whether a browser origin (`scheme://host[:port]`, or `null`) may call nimbus's API.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim();
        if self.allowed_origins.iter().any(|p| p.trim() == "*" || p.trim().eq_ignore_ascii_case(origin)) {
            return true;
        }
        let Some((scheme, rest)) = origin.split_once("://") else { return false };
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return false;
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        let host = host_only(authority);
        is_loopback_name(&host) || self.allowed_origins.iter().any(|p| matches(p, &host))
    }

    /// Endpoints browsers are meant to call, which apply their own CORS rules.
    pub fn browser_facing(req: &HttpRequest) -> bool {
        let host = req.header("host").map(host_only).unwrap_or_default();
        let mut labels = host.split('.').skip(1);
        matches!(labels.next(), Some("lambda-url" | "execute-api"))
    }

    /// The path forms of the same endpoints: function URLs and API Gateway stages
    /// (`/restapis/<id>/<stage>/_user_request_/…`), not API Gateway's control plane.
    pub fn browser_facing_path(path: &str) -> bool {
        if path.starts_with("/_nimbus/lambda/url/") {
            return true;
        }
        let mut parts = path.trim_start_matches('/').splitn(5, '/');
        parts.next() == Some("restapis") && parts.nth(2) == Some("_user_request_")
    }

    /// `None` if the request may proceed; otherwise the refusal to send.
    pub fn check(&self, req: &HttpRequest) -> Option<HttpResponse> {
        if let Some(host) = req.header("host") {
            if !self.host_allowed(host) {
                return Some(refusal(format!(
                    "nimbus does not answer for host '{}'. Use localhost or 127.0.0.1, or start nimbus with --allowed-hosts {} (or --allowed-hosts '*').",
                    host_only(host),
                    host_only(host)
                )));
            }
        }
        if Self::browser_facing(req) || Self::browser_facing_path(&req.path) {
            return None;
        }
        let (header, origin) = match (req.header("origin"), req.header("referer")) {
            (Some(origin), _) => ("Origin", origin),
            (None, Some(referer)) => ("Referer", referer),
            (None, None) => return None,
        };
        if self.origin_allowed(origin) {
            return None;
        }
        Some(refusal(format!(
            "nimbus refused a request from {header} '{origin}': a web page from another site must not reach a local emulator. Start nimbus with --allowed-origins <origin> (or --allowed-origins '*') to allow it."
        )))
    }
}

fn refusal(message: String) -> HttpResponse {
    tracing::warn!(%message, "request refused");
    HttpResponse::json(
        403,
        &serde_json::json!({"__type": "AccessDeniedException", "message": message, "Message": message}),
    )
    .with_header("x-amzn-ErrorType", "AccessDeniedException")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_names_pass_and_foreign_ones_do_not() {
        let s = Screening::default();
        for ok in [
            "localhost:4566",
            "127.0.0.1:4566",
            "[::1]:4566",
            "my-bucket.s3.localhost:4566",
            "abc.execute-api.us-east-1.localhost",
            "nimbus:4566",
            "192.168.1.20:4566",
        ] {
            assert!(s.host_allowed(ok), "{ok}");
        }
        for bad in ["evil.example:4566", "attacker.com", "localhost.evil.com"] {
            assert!(!s.host_allowed(bad), "{bad}");
        }
        let s = Screening { allowed_hosts: vec!["*.corp.test".into()], ..Default::default() };
        assert!(s.host_allowed("nimbus.corp.test:4566"));
    }

    #[test]
    fn stages_and_function_urls_are_browser_facing_by_path_but_control_planes_are_not() {
        assert!(Screening::browser_facing_path("/restapis/abc123/prod/_user_request_/items/5"));
        assert!(Screening::browser_facing_path("/_nimbus/lambda/url/xyz/"));
        assert!(!Screening::browser_facing_path("/restapis/abc123/resources"));
        assert!(!Screening::browser_facing_path("/2015-03-31/functions"));
    }

    #[test]
    fn only_local_or_configured_origins_pass() {
        let s = Screening::default();
        assert!(s.origin_allowed("http://localhost:3000"));
        assert!(s.origin_allowed("http://127.0.0.1:8080"));
        assert!(s.origin_allowed("http://app.localhost"));
        assert!(!s.origin_allowed("https://evil.example"));
        assert!(!s.origin_allowed("null"));
        assert!(!s.origin_allowed("http://localhost.evil.example"));
        let s = Screening { allowed_origins: vec!["https://app.test".into()], ..Default::default() };
        assert!(s.origin_allowed("https://app.test"));
        assert!(!s.origin_allowed("https://other.test"));
        let s = Screening { allowed_origins: vec!["*".into()], ..Default::default() };
        assert!(s.origin_allowed("null"));
    }
}
