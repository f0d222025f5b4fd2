//! S3's errors, named by cause, with S3's exact codes, statuses and messages. Extra members
//! (`BucketName`, `Key`, `Condition`, …) ride in [`AwsError::extra`] and become elements of
//! the `<Error>` document.

use nimbus_core::AwsError;

pub type Result<T> = std::result::Result<T, AwsError>;

fn with(err: AwsError, name: &str, value: &str) -> AwsError {
    err.with_extra(name, value)
}

pub fn no_such_bucket(bucket: &str) -> AwsError {
    with(AwsError::new(404, "NoSuchBucket", "The specified bucket does not exist"), "BucketName", bucket)
}

pub fn no_such_key(key: &str) -> AwsError {
    with(AwsError::new(404, "NoSuchKey", "The specified key does not exist."), "Key", key)
}

pub fn no_such_version(key: &str, version: &str) -> AwsError {
    with(
        with(AwsError::new(404, "NoSuchVersion", "The specified version does not exist."), "Key", key),
        "VersionId",
        version,
    )
}

pub fn no_such_upload(id: &str) -> AwsError {
    with(
        AwsError::new(
            404,
            "NoSuchUpload",
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        ),
        "UploadId",
        id,
    )
}

pub fn bucket_exists_owned(bucket: &str) -> AwsError {
    with(
        AwsError::new(
            409,
            "BucketAlreadyOwnedByYou",
            "Your previous request to create the named bucket succeeded and you already own it.",
        ),
        "BucketName",
        bucket,
    )
}

pub fn bucket_exists(bucket: &str) -> AwsError {
    with(
        AwsError::new(
            409,
            "BucketAlreadyExists",
            "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
        ),
        "BucketName",
        bucket,
    )
}

pub fn bucket_not_empty(bucket: &str) -> AwsError {
    with(AwsError::new(409, "BucketNotEmpty", "The bucket you tried to delete is not empty"), "BucketName", bucket)
}

pub fn invalid_bucket_name(bucket: &str) -> AwsError {
    with(AwsError::new(400, "InvalidBucketName", "The specified bucket is not valid."), "BucketName", bucket)
}

pub fn key_too_long() -> AwsError {
    AwsError::new(400, "KeyTooLongError", "Your key is too long")
}

pub fn malformed_xml() -> AwsError {
    AwsError::new(
        400,
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

pub fn invalid_argument(message: impl Into<String>, name: &str, value: &str) -> AwsError {
    with(with(AwsError::new(400, "InvalidArgument", message), "ArgumentName", name), "ArgumentValue", value)
}

pub fn invalid_request(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidRequest", message)
}

pub fn bad_digest_md5() -> AwsError {
    AwsError::new(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
}

pub fn invalid_digest_md5() -> AwsError {
    AwsError::new(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")
}

pub fn bad_checksum(algorithm: &str) -> AwsError {
    AwsError::new(400, "BadDigest", format!("The {algorithm} you specified did not match the calculated checksum."))
}

pub fn invalid_checksum(algorithm: &str) -> AwsError {
    invalid_request(format!("Value for x-amz-checksum-{} header is invalid.", algorithm.to_ascii_lowercase()))
}

pub fn incomplete_body() -> AwsError {
    AwsError::new(
        400,
        "IncompleteBody",
        "You did not provide the number of bytes specified by the Content-Length HTTP header",
    )
}

pub fn precondition_failed(condition: &str) -> AwsError {
    with(
        AwsError::new(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"),
        "Condition",
        condition,
    )
}

pub fn invalid_range(size: u64, range: &str) -> AwsError {
    with(
        with(AwsError::new(416, "InvalidRange", "The requested range is not satisfiable"), "RangeRequested", range),
        "ActualObjectSize",
        &size.to_string(),
    )
}

pub fn invalid_part() -> AwsError {
    AwsError::new(
        400,
        "InvalidPart",
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
    )
}

pub fn invalid_part_order() -> AwsError {
    AwsError::new(
        400,
        "InvalidPartOrder",
        "The list of parts was not in ascending order. Parts must be ordered by part number.",
    )
}

pub fn entity_too_small(size: u64) -> AwsError {
    with(
        with(
            AwsError::new(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size"),
            "ProposedSize",
            &size.to_string(),
        ),
        "MinSizeAllowed",
        "5242880",
    )
}

pub fn access_denied(message: &str) -> AwsError {
    AwsError::new(403, "AccessDenied", message)
}

pub fn not_implemented(what: &str) -> AwsError {
    AwsError::new(501, "NotImplemented", format!("{what} is not emulated by nimbus"))
}

pub fn method_not_allowed(method: &str) -> AwsError {
    with(
        with(
            AwsError::new(405, "MethodNotAllowed", "The specified method is not allowed against this resource."),
            "Method",
            method,
        ),
        "ResourceType",
        "OBJECT",
    )
}

pub fn no_such_config(code: &str, message: &str, bucket: &str) -> AwsError {
    with(AwsError::new(404, code, message), "BucketName", bucket)
}

pub fn no_such_tag_set(bucket: &str) -> AwsError {
    no_such_config("NoSuchTagSet", "The TagSet does not exist", bucket)
}

pub fn illegal_location(constraint: &str) -> AwsError {
    with(
        AwsError::new(
            400,
            "IllegalLocationConstraintException",
            format!("The {constraint} location constraint is incompatible for the region specific endpoint this request was sent to."),
        ),
        "LocationConstraint",
        constraint,
    )
}

pub fn invalid_location(constraint: &str) -> AwsError {
    with(
        AwsError::new(400, "InvalidLocationConstraint", "The specified location-constraint is not valid"),
        "LocationConstraint",
        constraint,
    )
}

pub fn io(err: std::io::Error) -> AwsError {
    tracing::error!(error = %err, "S3 storage failed");
    AwsError::new(500, "InternalError", "We encountered an internal error. Please try again.")
}
