//! One S3 request as the operations see it, and reading its body: XML documents in hand
//! (bounded), objects streamed to disk through the `aws-chunked` decoder with Content-MD5 and
//! flexible checksums verified (from headers or trailers) before anything is recorded.

use bytes::Bytes;
use nimbus_core::{HttpRequest, RequestBody, RequestContext};

use crate::checksum;
use crate::chunked::{ChunkDecoder, ChunkError};
use crate::errors::{self, Result};
use crate::storage::{Storage, Written};
use crate::wire::Address;
use crate::xml::{self, Element};

/// Largest XML document a request may carry.
const MAX_DOCUMENT: usize = 20 * 1024 * 1024;

pub struct Req<'a> {
    pub ctx: &'a RequestContext,
    pub head: &'a HttpRequest,
    pub addr: Address,
}

impl Req<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.head.query_param(name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.head.query.iter().any(|(k, _)| k == name)
    }

    pub fn bucket(&self) -> &str {
        &self.addr.bucket
    }

    pub fn key(&self) -> &str {
        &self.addr.key
    }

    pub fn now_millis(&self) -> i64 {
        self.ctx.clock.now_millis()
    }

    fn chunked(&self) -> bool {
        self.header("content-encoding").is_some_and(|e| e.split(',').any(|p| p.trim() == "aws-chunked"))
            || self.header("x-amz-content-sha256").is_some_and(|s| s.starts_with("STREAMING-"))
    }

    /// The number of payload bytes the client announced.
    fn expected_length(&self) -> Option<u64> {
        let name = if self.chunked() { "x-amz-decoded-content-length" } else { "content-length" };
        self.header(name).and_then(|v| v.trim().parse().ok())
    }
}

/// The whole body, decoded from `aws-chunked` when so encoded.
pub async fn read_body(r: &Req<'_>, body: &mut RequestBody) -> Result<Bytes> {
    let mut out = Vec::new();
    let mut decoder = r.chunked().then(ChunkDecoder::new);
    let mut pieces = Vec::new();
    while let Some(chunk) = body.next_chunk().await {
        let chunk = chunk.map_err(|_| errors::incomplete_body())?;
        match &mut decoder {
            Some(d) => {
                d.feed(chunk, &mut pieces).map_err(chunk_error)?;
                for p in pieces.drain(..) {
                    out.extend_from_slice(&p);
                }
            }
            None => out.extend_from_slice(&chunk),
        }
        if out.len() > MAX_DOCUMENT {
            return Err(errors::invalid_request("The XML document is too large."));
        }
    }
    if let Some(d) = &mut decoder {
        d.finish().map_err(chunk_error)?;
    }
    Ok(Bytes::from(out))
}

/// The body as an XML document (S3's `MalformedXML` when it is not one).
pub async fn read_document(r: &Req<'_>, body: &mut RequestBody) -> Result<Element> {
    let bytes = read_body(r, body).await?;
    check_md5(r, &checksum::md5(&bytes))?;
    xml::parse(&bytes).ok_or_else(errors::malformed_xml)
}

fn chunk_error(err: ChunkError) -> nimbus_core::AwsError {
    match err {
        ChunkError::Truncated => errors::incomplete_body(),
        ChunkError::Malformed(m) => errors::invalid_request(format!("Invalid chunked upload: {m}")),
    }
}

fn check_md5(r: &Req<'_>, md5: &[u8; 16]) -> Result<()> {
    match r.header("content-md5") {
        None => Ok(()),
        Some(text) => match checksum::unb64(text) {
            Some(raw) if raw.len() == 16 => {
                if raw == md5 {
                    Ok(())
                } else {
                    Err(errors::bad_digest_md5())
                }
            }
            _ => Err(errors::invalid_digest_md5()),
        },
    }
}

/// Which flexible checksum a request carries: the algorithm and, when given in a header, its
/// value; a value announced in `x-amz-trailer` arrives after the body.
pub struct ChecksumPlan {
    pub algorithm: Option<String>,
    pub header_value: Option<String>,
    pub trailer: bool,
}

pub fn checksum_plan(r: &Req<'_>, default: Option<&str>) -> Result<ChecksumPlan> {
    for algorithm in checksum::ALGORITHMS {
        if let Some(value) = r.header(&checksum::header_name(algorithm)) {
            if !checksum::well_formed(algorithm, value) {
                return Err(errors::invalid_checksum(algorithm));
            }
            return Ok(ChecksumPlan {
                algorithm: Some(algorithm.to_string()),
                header_value: Some(value.to_string()),
                trailer: false,
            });
        }
    }
    if let Some(trailer) = r.header("x-amz-trailer") {
        let name = trailer.trim().to_ascii_lowercase();
        let algorithm = name.strip_prefix("x-amz-checksum-").and_then(checksum::canonical).ok_or_else(|| {
            errors::invalid_request(format!(
                "The value specified in the x-amz-trailer header is not supported: {trailer}"
            ))
        })?;
        return Ok(ChecksumPlan { algorithm: Some(algorithm.to_string()), header_value: None, trailer: true });
    }
    if let Some(sdk) = r.header("x-amz-sdk-checksum-algorithm") {
        let algorithm = checksum::canonical(sdk).ok_or_else(|| {
            errors::invalid_argument(
                "Value for x-amz-sdk-checksum-algorithm header is invalid.",
                "x-amz-sdk-checksum-algorithm",
                sdk,
            )
        })?;
        return Ok(ChecksumPlan { algorithm: Some(algorithm.to_string()), header_value: None, trailer: false });
    }
    Ok(ChecksumPlan { algorithm: default.map(str::to_string), header_value: None, trailer: false })
}

/// Stream the body into a new file, then check length, Content-MD5 and the checksum. On any
/// failure the file is gone and nothing else has changed.
pub async fn receive(r: &Req<'_>, body: &mut RequestBody, storage: &Storage, plan: &ChecksumPlan) -> Result<Written> {
    let mut file = storage.create(plan.algorithm.as_deref()).map_err(errors::io)?;
    let mut decoder = r.chunked().then(ChunkDecoder::new);
    let mut pieces = Vec::new();
    while let Some(chunk) = body.next_chunk().await {
        let chunk = chunk.map_err(|_| errors::incomplete_body())?;
        match &mut decoder {
            Some(d) => {
                d.feed(chunk, &mut pieces).map_err(chunk_error)?;
                for p in pieces.drain(..) {
                    file.write(&p).map_err(errors::io)?;
                }
            }
            None => file.write(&chunk).map_err(errors::io)?,
        }
    }
    let trailers = match &mut decoder {
        Some(d) => {
            d.finish().map_err(chunk_error)?;
            std::mem::take(&mut d.trailers)
        }
        None => Vec::new(),
    };
    if r.expected_length().is_some_and(|n| n != file.size) {
        return Err(errors::incomplete_body());
    }
    let written = file.finish().map_err(errors::io)?;
    check_md5(r, &written.md5)?;
    if let (Some(algorithm), Some((_, computed))) = (&plan.algorithm, &written.checksum) {
        let expected = if plan.trailer {
            let name = checksum::header_name(algorithm);
            trailers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
        } else {
            plan.header_value.clone()
        };
        if let Some(expected) = expected {
            if !checksum::well_formed(algorithm, &expected) {
                return Err(errors::invalid_checksum(algorithm));
            }
            if expected != *computed {
                return Err(errors::bad_checksum(algorithm));
            }
        }
    }
    Ok(written)
}
