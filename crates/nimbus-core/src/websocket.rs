//! WebSocket connections (RFC 6455, server side) for services that serve them (API Gateway's
//! WebSocket APIs): the handshake answer and a frame reader/writer over the upgraded
//! connection. A service opts in with [`crate::Service::upgrades`]; the server then hands it
//! the request head and an [`Upgrade`] to finish once it has answered `101 Switching Protocols`.

use base64::Engine;
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};

use crate::http::{HttpRequest, HttpResponse};

/// Messages over 10 MB are refused (API Gateway's own limit is 128 KB per message).
pub const MAX_MESSAGE_BYTES: usize = 10 * 1024 * 1024;

/// Whether a request asks to become a WebSocket (`Upgrade: websocket`, a `Sec-WebSocket-Key`).
pub fn is_upgrade(req: &HttpRequest) -> bool {
    req.method == http::Method::GET
        && req.header("upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
        && req.header("sec-websocket-key").is_some()
}

/// `Sec-WebSocket-Accept` for a client's key.
pub fn accept_key(key: &str) -> String {
    let mut hash = Sha1::new();
    hash.update(key.trim().as_bytes());
    hash.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(hash.finalize())
}

/// The `101 Switching Protocols` answer to a WebSocket request.
pub fn switching_protocols(req: &HttpRequest) -> HttpResponse {
    let key = req.header("sec-websocket-key").unwrap_or_default();
    let mut response = HttpResponse { status: 101, headers: Vec::new(), body: Default::default() };
    response.headers.push(("Upgrade".into(), "websocket".into()));
    response.headers.push(("Connection".into(), "Upgrade".into()));
    response.headers.push(("Sec-WebSocket-Accept".into(), accept_key(key)));
    response
}

/// The connection a `101` answer hands over (resolves once the answer is sent).
pub struct Upgrade(pub(crate) hyper::upgrade::OnUpgrade);

impl Upgrade {
    /// The WebSocket, split into its reading and writing halves.
    pub async fn socket(self) -> std::io::Result<(Reader, Writer)> {
        let upgraded = self.0.await.map_err(std::io::Error::other)?;
        let (read, write) = tokio::io::split(TokioIo::new(upgraded));
        Ok((Reader { io: read, partial: None }, Writer { io: write }))
    }
}

/// A message from or to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary(Bytes),
    Ping(Bytes),
    Pong(Bytes),
    /// Close, with its status code (1005 when none was given) and reason.
    Close(u16, String),
}

type Io = TokioIo<hyper::upgrade::Upgraded>;

pub struct Reader {
    io: ReadHalf<Io>,
    /// A fragmented message being assembled: (is text, bytes so far).
    partial: Option<(bool, Vec<u8>)>,
}

fn protocol_error(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

impl Reader {
    /// The next message; `Err` when the connection broke or the client broke the protocol.
    pub async fn recv(&mut self) -> std::io::Result<Message> {
        loop {
            let mut head = [0u8; 2];
            self.io.read_exact(&mut head).await?;
            let fin = head[0] & 0x80 != 0;
            let opcode = head[0] & 0x0f;
            if head[1] & 0x80 == 0 {
                return Err(protocol_error("client frames must be masked"));
            }
            let len = match head[1] & 0x7f {
                126 => u64::from(self.io.read_u16().await?),
                127 => self.io.read_u64().await?,
                n => u64::from(n),
            };
            if len > MAX_MESSAGE_BYTES as u64 {
                return Err(protocol_error("message too large"));
            }
            let mut mask = [0u8; 4];
            self.io.read_exact(&mut mask).await?;
            let mut payload = vec![0u8; len as usize];
            self.io.read_exact(&mut payload).await?;
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
            match opcode {
                0x8 => {
                    let code = if payload.len() >= 2 { u16::from_be_bytes([payload[0], payload[1]]) } else { 1005 };
                    let reason = String::from_utf8_lossy(payload.get(2..).unwrap_or_default()).into_owned();
                    return Ok(Message::Close(code, reason));
                }
                0x9 => return Ok(Message::Ping(payload.into())),
                0xA => return Ok(Message::Pong(payload.into())),
                0x1 | 0x2 | 0x0 => {
                    let (text, mut data) = match (opcode, self.partial.take()) {
                        (0x0, Some(partial)) => partial,
                        (0x0, None) => return Err(protocol_error("continuation without a message")),
                        (_, Some(_)) => return Err(protocol_error("new message inside a fragmented one")),
                        (op, None) => (op == 0x1, Vec::new()),
                    };
                    data.extend_from_slice(&payload);
                    if data.len() > MAX_MESSAGE_BYTES {
                        return Err(protocol_error("message too large"));
                    }
                    if !fin {
                        self.partial = Some((text, data));
                        continue;
                    }
                    return Ok(if text {
                        Message::Text(String::from_utf8(data).map_err(|_| protocol_error("text is not UTF-8"))?)
                    } else {
                        Message::Binary(data.into())
                    });
                }
                _ => return Err(protocol_error("unknown opcode")),
            }
        }
    }
}

pub struct Writer {
    io: WriteHalf<Io>,
}

/// One unmasked frame (servers do not mask).
pub fn frame(message: &Message) -> Vec<u8> {
    let (opcode, payload): (u8, Vec<u8>) = match message {
        Message::Text(t) => (0x1, t.as_bytes().to_vec()),
        Message::Binary(b) => (0x2, b.to_vec()),
        Message::Ping(b) => (0x9, b.to_vec()),
        Message::Pong(b) => (0xA, b.to_vec()),
        Message::Close(code, reason) => {
            let mut p = code.to_be_bytes().to_vec();
            p.extend_from_slice(reason.as_bytes());
            (0x8, p)
        }
    };
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&payload);
    out
}

impl Writer {
    pub async fn send(&mut self, message: &Message) -> std::io::Result<()> {
        self.io.write_all(&frame(message)).await?;
        self.io.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_and_frames() {
        // RFC 6455's own example.
        assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(frame(&Message::Text("Hi".into())), vec![0x81, 2, b'H', b'i']);
        let long = frame(&Message::Binary(vec![0u8; 300].into()));
        assert_eq!(&long[..4], &[0x82, 126, 1, 44]);
        assert_eq!(frame(&Message::Close(1000, String::new())), vec![0x88, 2, 3, 232]);
    }
}
