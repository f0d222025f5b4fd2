//! "Read this object": how a service fetches an archive from S3 (Lambda's `Code.S3Bucket`/
//! `S3Key`, layer content) without reaching into S3's state. nimbus-s3 implements it; the binary
//! wires it into the services that read.

use crate::error::AwsError;

/// Where an object is, as a caller names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectLocation<'a> {
    /// The caller's account and region (a bucket elsewhere is an error for some callers).
    pub account: &'a str,
    pub region: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
    pub version_id: Option<&'a str>,
}

/// Why an object could not be read; each caller words its own error from this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectError {
    NoSuchBucket,
    NoSuchKey,
    NoSuchVersion,
    /// The bucket lives in another region (named here).
    WrongRegion(String),
    TooLarge {
        size: u64,
        limit: u64,
    },
    Io(String),
}

pub trait ObjectReader: Send + Sync + 'static {
    /// The object's bytes, refusing objects over `limit` bytes.
    fn read_object(&self, at: &ObjectLocation<'_>, limit: u64) -> Result<Vec<u8>, ObjectError>;
}

impl From<ObjectError> for AwsError {
    fn from(err: ObjectError) -> AwsError {
        match err {
            ObjectError::NoSuchBucket => AwsError::new(404, "NoSuchBucket", "The specified bucket does not exist"),
            ObjectError::NoSuchKey => AwsError::new(404, "NoSuchKey", "The specified key does not exist."),
            ObjectError::NoSuchVersion => AwsError::new(404, "NoSuchVersion", "The specified version does not exist."),
            ObjectError::WrongRegion(r) => {
                AwsError::new(301, "PermanentRedirect", format!("The bucket is in this region: {r}."))
            }
            ObjectError::TooLarge { size, limit } => {
                AwsError::new(400, "EntityTooLarge", format!("The object is {size} bytes; at most {limit} are read."))
            }
            ObjectError::Io(m) => AwsError::internal(m),
        }
    }
}
