//! S3 for nimbus: the REST-XML protocol as S3 speaks it, buckets and objects, multipart
//! uploads, bucket sub-resources, notifications to SQS and Lambda, and object reads for other
//! services (Lambda code from S3).
//!
//! S3 keeps its own protocol layer rather than the shared model-driven front: the bucket may
//! be in the Host, the operation is chosen by sub-resource query keys, inputs live in headers
//! as much as in bodies, and object bodies must stream both ways. The server hands S3 request
//! bodies unread ([`nimbus_core::Service::streams_body`]); objects go to files on disk as they
//! arrive ([`storage`]), and metadata is journaled first ([`state`]).
//!
//! Layout: [`wire`] (addressing, XML, errors) and [`request`] (bodies, checksums) are the
//! protocol; `bucket`, `object`, `list`, `multipart`, `config` and `notify` hold one
//! function per operation over [`S3`].

mod bucket;
mod checksum;
mod chunked;
mod config;
mod errors;
mod list;
mod multipart;
mod notify;
mod object;
mod request;
pub mod state;
mod storage;
mod wire;
mod xml;

use std::path::Path;
use std::sync::Arc;

use nimbus_core::clock::Clock;
use nimbus_core::delivery::Targets;
use nimbus_core::service::BoxFuture;
use nimbus_core::state::Store;
use nimbus_core::{HttpRequest, HttpResponse, RequestBody, RequestContext, Service};
use parking_lot::RwLock;

use crate::errors::Result;
use crate::request::Req;
use crate::state::S3State;
use crate::storage::Storage;

pub struct S3 {
    store: Store<S3State>,
    storage: Storage,
    /// Where notifications go (wired by the binary).
    pub targets: RwLock<Option<Targets>>,
    clock: Clock,
}

impl S3 {
    pub fn open(data_dir: Option<&Path>, clock: Clock) -> std::io::Result<S3> {
        let store: Store<S3State> = Store::open(data_dir, "s3")?;
        let storage = Storage::open(data_dir)?;
        storage.sweep(&store.read(S3State::files));
        Ok(S3 { store, storage, targets: RwLock::new(None), clock })
    }

    /// Answer one request.
    pub async fn respond(&self, ctx: &RequestContext, head: &HttpRequest, mut body: RequestBody) -> HttpResponse {
        let r = Req { ctx, head, addr: wire::address(head) };
        let is_head = head.method == http::Method::HEAD;
        let result = match self.check_presigned(&r) {
            Ok(()) => self.dispatch(&r, &mut body).await,
            Err(e) => Err(e),
        };
        let mut response = match result {
            Ok(response) => response,
            Err(err) => {
                if err.status >= 500 {
                    tracing::error!(code = %err.code, message = %err.message, "S3 request failed");
                }
                wire::error_response(&err, &ctx.request_id, is_head)
            }
        };
        if response.header("x-amz-request-id").is_none() {
            response.headers.push(("x-amz-request-id".into(), ctx.request_id.clone()));
            response.headers.push(("x-amz-id-2".into(), wire::host_id(&ctx.request_id)));
        }
        if head.method != http::Method::OPTIONS {
            config::add_cors_headers(self, &r, &mut response);
        }
        response
    }

    /// Presigned URLs (SigV4 `X-Amz-Expires`, SigV2 `Expires`) stop working when they expire.
    fn check_presigned(&self, r: &Req<'_>) -> Result<()> {
        let now = self.clock.now().timestamp();
        if let (Some(date), Some(expires)) = (r.query("X-Amz-Date"), r.query("X-Amz-Expires")) {
            let signed = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ")
                .map_err(|_| {
                    errors::access_denied("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
                })?
                .and_utc()
                .timestamp();
            let seconds: i64 =
                expires.parse().map_err(|_| errors::access_denied("X-Amz-Expires should be a number"))?;
            if !(1..=604_800).contains(&seconds) {
                return Err(errors::access_denied(
                    "X-Amz-Expires must be less than a week (in seconds) that is 604800",
                ));
            }
            if now > signed + seconds {
                return Err(errors::access_denied("Request has expired")
                    .with_extra("X-Amz-Expires", seconds.to_string())
                    .with_extra("Expires", wire::iso((signed + seconds) * 1000))
                    .with_extra("ServerTime", wire::iso(now * 1000)));
            }
        } else if let (Some(expires), Some(_)) = (r.query("Expires"), r.query("Signature")) {
            let at: i64 =
                expires.parse().map_err(|_| errors::access_denied("Invalid date (should be seconds since epoch)"))?;
            if now > at {
                return Err(errors::access_denied("Request has expired")
                    .with_extra("Expires", wire::iso(at * 1000))
                    .with_extra("ServerTime", wire::iso(now * 1000)));
            }
        }
        Ok(())
    }

    async fn dispatch(&self, r: &Req<'_>, body: &mut RequestBody) -> Result<HttpResponse> {
        use http::Method;
        let method = r.head.method.clone();
        if r.bucket().is_empty() {
            return match method {
                Method::GET => self.list_buckets(r),
                _ => Err(errors::method_not_allowed(method.as_str())),
            };
        }
        if method == Method::OPTIONS {
            return config::preflight(self, r);
        }
        if r.key().is_empty() {
            if let Some(name) = config::subresource(r) {
                return config::handle(self, r, body, name).await;
            }
            return match method {
                Method::PUT => self.create_bucket(r, body).await,
                Method::HEAD => self.head_bucket(r),
                Method::DELETE => self.delete_bucket(r),
                Method::GET if r.has("location") => self.bucket_location(r),
                Method::GET if r.has("versions") => self.list_object_versions(r),
                Method::GET if r.has("uploads") => self.list_uploads(r),
                Method::GET if r.query("list-type") == Some("2") => self.list_objects(r, true),
                Method::GET => self.list_objects(r, false),
                Method::POST if r.has("delete") => self.delete_objects(r, body).await,
                _ => Err(errors::method_not_allowed(method.as_str())),
            };
        }
        if r.key().len() > 1024 {
            return Err(errors::key_too_long());
        }
        let copy = r.header("x-amz-copy-source").is_some();
        match method {
            Method::PUT if r.has("partNumber") && r.has("uploadId") && copy => self.upload_part_copy(r).await,
            Method::PUT if r.has("partNumber") && r.has("uploadId") => self.upload_part(r, body).await,
            Method::PUT if r.has("tagging") => self.put_object_tagging(r, body).await,
            Method::PUT if r.has("acl") => self.put_object_acl(r, body).await,
            Method::PUT if copy => self.copy_object(r).await,
            Method::PUT => self.put_object(r, body).await,
            Method::GET if r.has("uploadId") => self.list_parts(r),
            Method::GET if r.has("tagging") => self.get_object_tagging(r),
            Method::GET if r.has("acl") => self.get_object_acl(r),
            Method::GET if r.has("attributes") => self.get_object_attributes(r),
            Method::GET => self.get_object(r, false),
            Method::HEAD => self.get_object(r, true),
            Method::DELETE if r.has("uploadId") => self.abort_upload(r),
            Method::DELETE if r.has("tagging") => self.delete_object_tagging(r),
            Method::DELETE => self.delete_object(r),
            Method::POST if r.has("uploads") => self.create_upload(r),
            Method::POST if r.has("uploadId") => self.complete_upload(r, body).await,
            Method::POST if r.has("restore") => Err(errors::not_implemented("RestoreObject")),
            Method::POST if r.has("select") => Err(errors::not_implemented("SelectObjectContent")),
            _ => Err(errors::method_not_allowed(method.as_str())),
        }
    }

    pub fn reset(&self) {
        let files = self.store.read(S3State::files);
        self.store.reset();
        for file in files {
            self.storage.remove(&file);
        }
    }

    fn now(&self) -> i64 {
        // S3 keeps whole seconds.
        self.clock.now_millis() / 1000 * 1000
    }
}

/// The [`Service`] the router holds.
pub struct S3Service {
    s3: Arc<S3>,
}

impl S3Service {
    pub fn open(data_dir: Option<&Path>, clock: Clock) -> std::io::Result<S3Service> {
        Ok(S3Service { s3: Arc::new(S3::open(data_dir, clock)?) })
    }

    pub fn s3(&self) -> &Arc<S3> {
        &self.s3
    }
}

impl Service for S3Service {
    fn name(&self) -> &'static str {
        "s3"
    }

    fn signing_names(&self) -> &'static [&'static str] {
        &["s3"]
    }

    /// Every signed S3 request streams its body: objects of any size never sit in memory.
    fn streams_body(&self, _head: &HttpRequest) -> bool {
        true
    }

    /// Unsigned requests (anonymous reads, browser CORS preflights) addressed to a bucket that exists.
    fn claims(&self, req: &HttpRequest) -> bool {
        let addr = wire::address(req);
        !addr.bucket.is_empty() && self.s3.store.read(|s| s.buckets.contains_key(&addr.bucket))
    }

    fn handle<'a>(&'a self, ctx: RequestContext, req: HttpRequest) -> BoxFuture<'a, HttpResponse> {
        Box::pin(async move {
            let body = RequestBody::full(req.body.clone());
            self.s3.respond(&ctx, &req, body).await
        })
    }

    fn handle_stream<'a>(
        &'a self,
        ctx: RequestContext,
        head: HttpRequest,
        body: RequestBody,
    ) -> BoxFuture<'a, HttpResponse> {
        Box::pin(async move { self.s3.respond(&ctx, &head, body).await })
    }

    fn reset(&self) {
        self.s3.reset();
    }
}

impl nimbus_core::objects::ObjectReader for S3 {
    fn read_object(
        &self,
        at: &nimbus_core::objects::ObjectLocation<'_>,
        limit: u64,
    ) -> std::result::Result<Vec<u8>, nimbus_core::objects::ObjectError> {
        use nimbus_core::objects::ObjectError;
        let file = self.store.read(|s| {
            let bucket = s.buckets.get(at.bucket).ok_or(ObjectError::NoSuchBucket)?;
            if bucket.meta.region != at.region {
                return Err(ObjectError::WrongRegion(bucket.meta.region.clone()));
            }
            let record = bucket.objects.get(at.key).ok_or(ObjectError::NoSuchKey)?;
            let version = match at.version_id {
                Some(id) => record.version(id).ok_or(ObjectError::NoSuchVersion)?,
                None => record.live().ok_or(ObjectError::NoSuchKey)?,
            };
            if version.delete_marker {
                return Err(ObjectError::NoSuchKey);
            }
            if version.size > limit {
                return Err(ObjectError::TooLarge { size: version.size, limit });
            }
            Ok(version.file.clone())
        })?;
        self.storage.read_all(&file).map_err(|e| ObjectError::Io(e.to_string()))
    }
}

/// An error for a bucket that does not exist or that another account owns.
fn owned<'a>(s: &'a S3State, r: &Req<'_>) -> Result<&'a state::BucketState> {
    s.buckets.get(r.bucket()).ok_or_else(|| errors::no_such_bucket(r.bucket()))
}
