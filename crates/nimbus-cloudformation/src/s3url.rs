//! `TemplateURL`s in every form the tools send, fetched through S3's API:
//! `https://s3.amazonaws.com/<bucket>/<key>` (SAM, Serverless), `https://s3.<region>.amazonaws.com/…`,
//! `https://<bucket>.s3[.<region>].amazonaws.com/<key>`, and nimbus's own path-style endpoint
//! (`http://localhost:4566/<bucket>/<key>`, CDK).

use http::Method;

use crate::api::Api;
use crate::errors::{validation, Result};

/// (bucket, key) of a template URL.
pub fn locate(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    let path = path.split('?').next().unwrap_or(path);
    let host = host.split(':').next().unwrap_or(host);
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    // Virtual-hosted style: <bucket>.s3.amazonaws.com, <bucket>.s3.<region>.amazonaws.com,
    // <bucket>.s3-<region>.amazonaws.com, <bucket>.s3.localhost.localstack.cloud.
    if let Some(idx) = host.find(".s3.").or_else(|| host.find(".s3-")) {
        let bucket = &host[..idx];
        if !bucket.is_empty() && !path.is_empty() {
            return Some((bucket.to_string(), decode(path)));
        }
    }
    let (bucket, key) = path.split_once('/')?;
    if bucket.is_empty() || key.is_empty() {
        return None;
    }
    Some((decode(bucket), decode(key)))
}

pub async fn fetch(api: &Api, url: &str) -> Result<String> {
    let (bucket, key) = locate(url).ok_or_else(|| validation("TemplateURL must be a supported URL."))?;
    let path =
        format!("/{}/{}", crate::api::seg(&bucket), key.split('/').map(crate::api::seg).collect::<Vec<_>>().join("/"));
    let bytes = api
        .raw("s3", Method::GET, &path, Vec::new(), "application/octet-stream", Vec::new())
        .await
        .map_err(|e| validation(format!("S3 error: {}", if e.message.is_empty() { e.code } else { e.message })))?;
    if bytes.len() > crate::ops::MAX_TEMPLATE_BYTES {
        return Err(validation(format!("Template may not exceed {} bytes in size.", crate::ops::MAX_TEMPLATE_BYTES)));
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| validation("Template format error: template is not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::locate;

    #[test]
    fn every_url_form_names_bucket_and_key() {
        let want = Some(("b".to_string(), "dir/t.yaml".to_string()));
        assert_eq!(locate("https://s3.amazonaws.com/b/dir/t.yaml"), want);
        assert_eq!(locate("https://s3.eu-west-1.amazonaws.com/b/dir/t.yaml"), want);
        assert_eq!(locate("https://b.s3.amazonaws.com/dir/t.yaml"), want);
        assert_eq!(locate("https://b.s3.us-east-1.amazonaws.com/dir/t.yaml"), want);
        assert_eq!(locate("https://b.s3-us-west-2.amazonaws.com/dir/t.yaml"), want);
        assert_eq!(locate("http://127.0.0.1:4566/b/dir/t.yaml"), want);
        assert_eq!(locate("http://localhost:4566/b/dir/t.yaml?versionId=1"), want);
        assert_eq!(locate("ftp://x"), None);
    }
}
