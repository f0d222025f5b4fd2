//! Deployment packages: checking untrusted archives, storing them in the blob store, and
//! serving them back at the `Code.Location` / `Content.Location` URLs.

use std::io::{Cursor, Read};

use base64::Engine;
use nimbus_core::{HttpRequest, HttpResponse, RequestContext};

use crate::error::{self, Result};
use crate::state::CodeRef;
use crate::Lambda;

/// Where nimbus serves stored archives (AWS hands out presigned S3 URLs instead).
pub const DOWNLOAD_PREFIX: &str = "/_nimbus/lambda/code/";
/// Largest archive accepted by direct upload.
pub const MAX_ZIPPED_BYTES: usize = 52_428_800;
/// Largest unzipped function plus its layers.
pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;
/// Largest request body for operations that carry a zip.
pub const MAX_REQUEST_BYTES: usize = 70_167_211;
/// More entries than this is a zip bomb, not a Lambda function.
const MAX_ENTRIES: usize = 100_000;

const UNZIP_FAILED: &str = "Could not unzip uploaded file. Please check your file, then try to upload again.";

/// Decode a base64 `ZipFile`/`Content.ZipFile` member.
pub fn decode_zip_member(b64: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| {
        error::invalid_content(
            "Could not parse request body into json: Could not parse payload into json: ZipFile is not valid base64",
        )
    })
}

/// Check an untrusted archive and store it. Entries that escape their folder, symbolic links
/// and oversize contents are refused before anything is written.
pub fn store_zip(lambda: &Lambda, zip: &[u8]) -> Result<CodeRef> {
    if zip.len() > MAX_ZIPPED_BYTES {
        return Err(error::too_large(format!("Zipped size must be smaller than {MAX_ZIPPED_BYTES} bytes")));
    }
    store_archive(lambda, zip)
}

/// Fetch an archive named by `S3Bucket`/`S3Key`/`S3ObjectVersion` through the wired
/// [`nimbus_core::objects::ObjectReader`] and store it; S3's refusals worded as Lambda does.
pub fn store_from_s3(lambda: &Lambda, ctx: &RequestContext, input: &serde_json::Value) -> Result<CodeRef> {
    use nimbus_core::objects::{ObjectError, ObjectLocation};
    let text = |k: &str| input.get(k).and_then(serde_json::Value::as_str);
    let bucket = text("S3Bucket").unwrap_or_default();
    let Some(key) = text("S3Key") else {
        return Err(error::invalid_parameter("Please provide a source for function code."));
    };
    let reader = lambda.objects.read().clone();
    let Some(reader) = reader else {
        return Err(error::invalid_parameter("S3 is not available to read function code from."));
    };
    let at =
        ObjectLocation { account: &ctx.account, region: &ctx.region, bucket, key, version_id: text("S3ObjectVersion") };
    // The unzipped limit bounds what is worth reading; the archive checks follow as for ZipFile.
    let zip = reader.read_object(&at, MAX_UNZIPPED_BYTES).map_err(|err| {
        let (code, message) = match err {
            ObjectError::NoSuchBucket => ("NoSuchBucket", "The specified bucket does not exist".to_string()),
            ObjectError::NoSuchKey => ("NoSuchKey", "The specified key does not exist.".to_string()),
            ObjectError::NoSuchVersion => ("NoSuchVersion", "The specified version does not exist.".to_string()),
            ObjectError::WrongRegion(region) => (
                "PermanentRedirect",
                format!("The bucket is in this region: {region}. Please use this region to retry the request"),
            ),
            ObjectError::TooLarge { .. } => {
                return error::invalid_parameter(format!(
                    "Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"
                ))
            }
            ObjectError::Io(m) => return error::storage_error(std::io::Error::other(m)),
        };
        error::invalid_parameter(format!(
            "Error occurred while GetObject. S3 Error Code: {code}. S3 Error Message: {message}"
        ))
    })?;
    store_archive(lambda, &zip)
}

fn store_archive(lambda: &Lambda, zip: &[u8]) -> Result<CodeRef> {
    let unzipped_size = inspect_zip(zip)?;
    if unzipped_size > MAX_UNZIPPED_BYTES {
        return Err(error::invalid_parameter(format!("Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")));
    }
    let blob = lambda.blobs.put(zip).map_err(error::storage_error)?;
    Ok(CodeRef { blob, size: zip.len() as u64, unzipped_size })
}

/// Walk the central directory; returns the total declared unzipped size.
pub fn inspect_zip(zip: &[u8]) -> Result<u64> {
    // The zip crate should not panic on hostile input, but a panic here must not become a 500.
    std::panic::catch_unwind(|| inspect_zip_unguarded(zip))
        .unwrap_or_else(|_| Err(error::invalid_parameter(UNZIP_FAILED)))
}

fn inspect_zip_unguarded(zip: &[u8]) -> Result<u64> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).map_err(|_| error::invalid_parameter(UNZIP_FAILED))?;
    if archive.len() > MAX_ENTRIES {
        return Err(error::invalid_parameter(UNZIP_FAILED));
    }
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|_| error::invalid_parameter(UNZIP_FAILED))?;
        if entry.enclosed_name().is_none() {
            return Err(error::invalid_parameter(format!(
                "{UNZIP_FAILED} The entry '{}' escapes the archive's folder.",
                entry.name()
            )));
        }
        if entry.unix_mode().is_some_and(|mode| mode & 0o170000 == 0o120000) {
            return Err(error::invalid_parameter(format!(
                "{UNZIP_FAILED} The entry '{}' is a symbolic link.",
                entry.name()
            )));
        }
        total = total.saturating_add(entry.size());
    }
    Ok(total)
}

/// Read one file from a stored archive (used by tests and the executor).
pub fn read_entry(zip: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).ok()?;
    let mut file = archive.by_name(name).ok()?;
    let mut out = Vec::new();
    file.read_to_end(&mut out).ok()?;
    Some(out)
}

/// `CodeSha256` as Lambda reports it: base64 of the raw SHA-256 digest.
pub fn code_sha256(code: &CodeRef) -> String {
    let raw = hex::decode(&code.blob).unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(raw)
}

pub fn download_url(ctx: &RequestContext, code: &CodeRef) -> String {
    format!("{}{DOWNLOAD_PREFIX}{}.zip", ctx.endpoint, code.blob)
}

/// Serve `GET /_nimbus/lambda/code/<sha256>.zip`.
pub fn serve_download(lambda: &Lambda, req: &HttpRequest) -> Option<HttpResponse> {
    let name = req.path.strip_prefix(DOWNLOAD_PREFIX)?;
    let digest = name.strip_suffix(".zip").unwrap_or(name);
    let response = match lambda.blobs.get(digest) {
        Ok(bytes) if digest.len() == 64 => HttpResponse::new(200, "application/zip", bytes),
        _ => HttpResponse::new(
            404,
            "application/xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>",
        ),
    };
    Some(response)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    pub fn zip_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            for (name, data) in entries {
                w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
                w.write_all(data).unwrap();
            }
            w.finish().unwrap();
        }
        buf.into_inner()
    }

    #[test]
    fn accepts_plain_archives_and_counts_unzipped_size() {
        let zip = zip_with(&[("index.py", b"def handler(e, c):\n    return 1\n"), ("lib/a.py", b"x = 1\n")]);
        assert_eq!(inspect_zip(&zip).unwrap(), 38);
    }

    #[test]
    fn refuses_garbage_and_escaping_entries() {
        assert_eq!(inspect_zip(b"not a zip").unwrap_err().code, "InvalidParameterValueException");
        let zip = zip_with(&[("../evil.py", b"x")]);
        assert!(inspect_zip(&zip).unwrap_err().message.contains("escapes"));
        let zip = zip_with(&[("/etc/passwd", b"x")]);
        assert!(inspect_zip(&zip).is_err());
    }

    #[test]
    fn refuses_symlinks() {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            w.add_symlink("link", "/etc/passwd", zip::write::SimpleFileOptions::default()).unwrap();
            w.finish().unwrap();
        }
        assert!(inspect_zip(&buf.into_inner()).unwrap_err().message.contains("symbolic link"));
    }
}
