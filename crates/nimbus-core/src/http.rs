//! The plain request/response types services see: the request body is fully read, the query
//! decoded; the response body is bytes in hand or, for streamed answers, chunks still coming.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Method};
use hyper::body::{Frame, SizeHint};
use tokio::sync::mpsc;

#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: Method,
    /// The raw (still percent-encoded) path.
    pub path: String,
    /// Decoded query parameters in order.
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A request body as it arrives: chunks read from the connection (streamed requests), or the
/// bytes already in hand (a buffered request handed to streaming code).
pub struct RequestBody {
    inner: RequestBodyInner,
}

enum RequestBodyInner {
    Full(Option<Bytes>),
    Incoming(hyper::body::Incoming),
}

impl RequestBody {
    pub fn full(bytes: Bytes) -> RequestBody {
        RequestBody { inner: RequestBodyInner::Full(Some(bytes).filter(|b| !b.is_empty())) }
    }

    pub fn incoming(body: hyper::body::Incoming) -> RequestBody {
        RequestBody { inner: RequestBodyInner::Incoming(body) }
    }

    /// The next piece of the body; `None` at its end. An error means the client stopped sending
    /// (connection closed mid-body).
    pub async fn next_chunk(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        use http_body_util::BodyExt;
        match &mut self.inner {
            RequestBodyInner::Full(bytes) => bytes.take().map(Ok),
            RequestBodyInner::Incoming(body) => loop {
                match body.frame().await? {
                    Ok(frame) => match frame.into_data() {
                        Ok(data) if data.is_empty() => continue,
                        Ok(data) => return Some(Ok(data)),
                        // Trailers of an HTTP chunked body: nothing a service reads.
                        Err(_) => continue,
                    },
                    Err(err) => return Some(Err(std::io::Error::other(err))),
                }
            },
        }
    }

    /// Read the whole body, refusing more than `limit` bytes.
    pub async fn collect(mut self, limit: usize) -> Result<Bytes, std::io::Error> {
        let mut out = bytes::BytesMut::new();
        while let Some(chunk) = self.next_chunk().await {
            let chunk = chunk?;
            if out.len() + chunk.len() > limit {
                return Err(std::io::Error::other(format!("Request must be smaller than {limit} bytes")));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out.freeze())
    }
}

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

/// One piece of a streamed body. An error ends the response abruptly — the connection closes
/// without the final chunk — so the client sees a truncated body rather than a complete one.
pub type Chunk = Result<Bytes, std::io::Error>;

/// A response body: the bytes in hand (nearly every answer), or a stream of chunks that the
/// server writes with chunked transfer encoding as they arrive. The stream ends when every
/// sender is dropped.
pub enum Body {
    Full(Bytes),
    Stream(mpsc::Receiver<Chunk>),
}

impl Body {
    /// A streamed body and the sender that feeds it (`capacity` chunks may wait unsent).
    pub fn channel(capacity: usize) -> (mpsc::Sender<Chunk>, Body) {
        let (tx, rx) = mpsc::channel(capacity);
        (tx, Body::Stream(rx))
    }

    /// The bytes of a buffered body; `None` for a stream.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Body::Full(bytes) => Some(bytes),
            Body::Stream(_) => None,
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::Full(Bytes::new())
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Full(bytes) => write!(f, "Body::Full({} bytes)", bytes.len()),
            Body::Stream(_) => f.write_str("Body::Stream"),
        }
    }
}

macro_rules! body_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Body {
            fn from(bytes: $t) -> Self {
                Body::Full(bytes.into())
            }
        }
    )*};
}
body_from!(Bytes, Vec<u8>, String, &'static str, &'static [u8]);

/// The body as hyper writes it: a buffered body has an exact length (`Content-Length`), a
/// stream has none (chunked transfer encoding).
impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            Body::Full(bytes) if bytes.is_empty() => Poll::Ready(None),
            Body::Full(bytes) => Poll::Ready(Some(Ok(Frame::data(std::mem::take(bytes))))),
            Body::Stream(rx) => rx.poll_recv(cx).map(|chunk| chunk.map(|c| c.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(bytes) if bytes.is_empty())
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(bytes) => SizeHint::with_exact(bytes.len() as u64),
            Body::Stream(_) => SizeHint::default(),
        }
    }
}

impl HttpResponse {
    pub fn new(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        HttpResponse {
            status,
            headers: vec![("Content-Type".to_string(), content_type.to_string())],
            body: Body::Full(body.into()),
        }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        HttpResponse::new(status, "application/json", serde_json::to_vec(value).unwrap_or_default())
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Split a raw query string into decoded pairs.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes()).into_owned().collect()
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use hyper::body::Body as _;

    use super::*;

    #[tokio::test]
    async fn buffered_bodies_have_an_exact_length_and_streams_none() {
        let full = Body::from("hello");
        assert_eq!(full.size_hint().exact(), Some(5));
        assert_eq!(full.collect().await.unwrap().to_bytes(), "hello");
        assert!(Body::default().is_end_stream());

        let (tx, stream) = Body::channel(4);
        assert_eq!(stream.size_hint().exact(), None);
        tx.send(Ok(Bytes::from("a"))).await.unwrap();
        tx.send(Ok(Bytes::from("b"))).await.unwrap();
        drop(tx);
        assert_eq!(stream.collect().await.unwrap().to_bytes(), "ab");

        let (tx, stream) = Body::channel(4);
        tx.send(Ok(Bytes::from("a"))).await.unwrap();
        tx.send(Err(std::io::Error::other("cut short"))).await.unwrap();
        assert!(stream.collect().await.is_err(), "an error ends the body as a failure");
    }
}
