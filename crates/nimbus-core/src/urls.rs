//! How nimbus spells the URLs it hands out (queue URLs, function URLs).
//!
//! By default they are path forms on the host the client used (`http://127.0.0.1:4566/…`), which
//! resolve everywhere: curl, Python, Node and every SDK on a plain machine. AWS-shaped host forms
//! (`sqs.<region>.localhost`, `<id>.lambda-url.<region>.localhost`) need a resolver that maps
//! `*.localhost` to loopback (glibc does not without systemd-resolved); `--aws-host-urls` turns
//! them on. Both forms are accepted on input either way.

use std::sync::atomic::{AtomicBool, Ordering};

static AWS_HOST_URLS: AtomicBool = AtomicBool::new(false);

/// Hand out AWS-shaped `*.localhost` host forms instead of path forms (process-wide).
pub fn set_aws_host_urls(on: bool) {
    AWS_HOST_URLS.store(on, Ordering::Relaxed);
}

pub fn aws_host_urls() -> bool {
    AWS_HOST_URLS.load(Ordering::Relaxed)
}

/// The port of an endpoint like `http://host:4566`, if it names one.
pub fn port_of(endpoint: &str) -> Option<&str> {
    let host = endpoint.split("://").nth(1).unwrap_or(endpoint);
    let host = host.split('/').next().unwrap_or(host);
    host.rsplit_once(':').map(|(_, p)| p).filter(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// The endpoint without a trailing slash: `http://<host the client used>`.
pub fn base(endpoint: &str) -> &str {
    endpoint.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_bases() {
        assert_eq!(port_of("http://127.0.0.1:4566"), Some("4566"));
        assert_eq!(port_of("http://localhost"), None);
        assert_eq!(base("http://127.0.0.1:4566/"), "http://127.0.0.1:4566");
    }
}
