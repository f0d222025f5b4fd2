//! The `application/vnd.amazon.eventstream` framing AWS uses for streamed responses
//! (Lambda's InvokeWithResponseStream, Kinesis SubscribeToShard, …).
//!
//! A message: total length (u32) · headers length (u32) · prelude CRC32 · headers · payload ·
//! message CRC32, all big-endian; headers are `name-len(u8) name type(u8) value`, here strings
//! (type 7, `value-len(u16) value`).

use crate::journal::crc32;

/// Encode one event-stream message with string headers.
pub fn message(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut encoded_headers = Vec::new();
    for (name, value) in headers {
        encoded_headers.push(name.len() as u8);
        encoded_headers.extend_from_slice(name.as_bytes());
        encoded_headers.push(7);
        encoded_headers.extend_from_slice(&(value.len() as u16).to_be_bytes());
        encoded_headers.extend_from_slice(value.as_bytes());
    }
    let total = 12 + encoded_headers.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(encoded_headers.len() as u32).to_be_bytes());
    let prelude_crc = crc32(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&encoded_headers);
    out.extend_from_slice(payload);
    let message_crc = crc32(&out);
    out.extend_from_slice(&message_crc.to_be_bytes());
    out
}

/// An event message (`:message-type` event).
pub fn event(event_type: &str, content_type: &str, payload: &[u8]) -> Vec<u8> {
    message(&[(":event-type", event_type), (":content-type", content_type), (":message-type", "event")], payload)
}

/// A modeled error ending a stream (`:message-type` exception), its payload the error's document.
pub fn exception(exception_type: &str, content_type: &str, payload: &[u8]) -> Vec<u8> {
    message(
        &[(":exception-type", exception_type), (":content-type", content_type), (":message-type", "exception")],
        payload,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_self_describing() {
        let msg = event("PayloadChunk", "application/octet-stream", b"hello");
        let total = u32::from_be_bytes(msg[0..4].try_into().unwrap()) as usize;
        let headers_len = u32::from_be_bytes(msg[4..8].try_into().unwrap()) as usize;
        assert_eq!(total, msg.len());
        assert_eq!(u32::from_be_bytes(msg[8..12].try_into().unwrap()), crc32(&msg[..8]));
        assert_eq!(&msg[12 + headers_len..total - 4], b"hello");
        assert_eq!(u32::from_be_bytes(msg[total - 4..].try_into().unwrap()), crc32(&msg[..total - 4]));
    }
}
