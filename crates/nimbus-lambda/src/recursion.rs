//! Recursive-loop detection, as Lambda does it: the X-Ray trace header an invocation runs with
//! (`_X_AMZN_TRACE_ID`) carries a `Lineage` list of `<function hash>:<count>` entries. The AWS
//! SDKs inside a function send that header with their requests (botocore and the JS SDK do so
//! whenever `_X_AMZN_TRACE_ID` and `AWS_LAMBDA_FUNCTION_NAME` are set), SQS keeps it on the
//! messages it stores (`AWSTraceHeader`), and when a message invokes the function again the count
//! goes up. Once a chain has invoked a function [`MAX_CHAIN`] times, a function whose recursion
//! config is `Terminate` is not invoked again for it.

use sha2::{Digest, Sha256};

/// How many invocations one chain of events may cause before Lambda stops it.
pub const MAX_CHAIN: u32 = 16;

/// The short, stable id a function has in `Lineage` entries.
pub fn function_hash(unqualified_arn: &str) -> String {
    hex::encode(&Sha256::digest(unqualified_arn.as_bytes())[..4])
}

fn fields(header: &str) -> impl Iterator<Item = (&str, &str)> {
    header.split(';').filter_map(|f| f.trim().split_once('='))
}

/// How many times the chain a trace header belongs to has invoked the function `hash`.
pub fn count(header: &str, hash: &str) -> u32 {
    fields(header)
        .filter(|(k, _)| *k == "Lineage")
        .flat_map(|(_, v)| v.split('|'))
        .filter_map(|entry| entry.split_once(':'))
        .filter(|(h, _)| *h == hash)
        .filter_map(|(_, n)| n.parse::<u32>().ok())
        .max()
        .unwrap_or(0)
}

/// The trace header for an invocation of `hash` that is number `count` in its chain: the
/// chain's root (or a new one), a new parent segment, and the lineage with this function's
/// count updated.
pub fn next_header(previous: Option<&str>, hash: &str, count: u32) -> String {
    let root = previous
        .and_then(|h| fields(h).find(|(k, _)| *k == "Root").map(|(_, v)| v.to_string()))
        .unwrap_or_else(new_root);
    let mut lineage: Vec<String> = previous
        .into_iter()
        .flat_map(|h| fields(h).filter(|(k, _)| *k == "Lineage").flat_map(|(_, v)| v.split('|')).collect::<Vec<_>>())
        .filter(|entry| entry.split_once(':').is_some_and(|(h, _)| h != hash))
        .map(str::to_string)
        .collect();
    lineage.push(format!("{hash}:{count}"));
    let parent = &uuid::Uuid::new_v4().simple().to_string()[..16];
    format!("Root={root};Parent={parent};Sampled=0;Lineage={}", lineage.join("|"))
}

/// A new X-Ray trace id: `1-<epoch seconds, hex>-<96 random bits, hex>`.
pub fn new_root() -> String {
    format!("1-{:08x}-{}", chrono::Utc::now().timestamp(), &uuid::Uuid::new_v4().simple().to_string()[..24])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_extends_lineage() {
        let hash = function_hash("arn:aws:lambda:us-east-1:000000000000:function:f");
        assert_eq!(hash.len(), 8);
        assert_eq!(count("Root=1-a-b;Sampled=0", &hash), 0);
        let first = next_header(None, &hash, 1);
        assert_eq!(count(&first, &hash), 1);
        let header =
            format!("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Lineage=abcd0123:4|{hash}:7");
        assert_eq!(count(&header, &hash), 7);
        let next = next_header(Some(&header), &hash, 8);
        assert!(next.starts_with("Root=1-5759e988-bd862e3fe1be46a994272793;Parent="), "{next}");
        assert!(next.ends_with(&format!(";Sampled=0;Lineage=abcd0123:4|{hash}:8")), "{next}");
        assert_eq!(count(&next, "abcd0123"), 4);
    }
}
