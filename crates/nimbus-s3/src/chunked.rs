//! The `aws-chunked` content encoding of streaming uploads: `<hex size>[;chunk-signature=…]\r\n`
//! `<data>\r\n` … a zero-size chunk, then optional trailers (`x-amz-checksum-crc32:…`) and an
//! empty line. Data is passed through as slices of what arrived; only chunk headers and
//! trailers are buffered (bounded), so a body of any size streams.

use bytes::{Buf, Bytes, BytesMut};

/// Longest chunk header or trailer line accepted.
const MAX_LINE: usize = 8 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum ChunkError {
    /// The encoding is broken (bad size, missing CRLF, overlong line).
    Malformed(String),
    /// The body ended before the final chunk (and trailers).
    Truncated,
}

#[derive(Debug)]
enum State {
    Header,
    Data(u64),
    DataEnd,
    Trailers,
    Done,
}

#[derive(Debug)]
pub struct ChunkDecoder {
    state: State,
    buf: BytesMut,
    pub trailers: Vec<(String, String)>,
}

impl Default for ChunkDecoder {
    fn default() -> Self {
        ChunkDecoder { state: State::Header, buf: BytesMut::new(), trailers: Vec::new() }
    }
}

impl ChunkDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed what arrived; decoded data goes to `out`.
    pub fn feed(&mut self, mut input: Bytes, out: &mut Vec<Bytes>) -> Result<(), ChunkError> {
        loop {
            match self.state {
                State::Data(left) => {
                    if input.is_empty() {
                        return Ok(());
                    }
                    let take = (left.min(input.len() as u64)) as usize;
                    out.push(input.split_to(take));
                    let left = left - take as u64;
                    self.state = if left == 0 { State::DataEnd } else { State::Data(left) };
                }
                State::Done => {
                    return if input.iter().all(|b| b.is_ascii_whitespace()) {
                        Ok(())
                    } else {
                        Err(ChunkError::Malformed("data after the final chunk".into()))
                    };
                }
                _ => {
                    if input.is_empty() && self.buf.is_empty() {
                        return Ok(());
                    }
                    self.buf.extend_from_slice(&input);

                    let Some(line) = self.take_line()? else { return Ok(()) };
                    self.line(&line)?;
                    // What followed the line goes round again as fresh input.
                    input = self.buf.split().freeze();
                }
            }
        }
    }

    fn take_line(&mut self) -> Result<Option<String>, ChunkError> {
        match self.buf.windows(2).position(|w| w == b"\r\n") {
            Some(at) => {
                let line = String::from_utf8_lossy(&self.buf[..at]).into_owned();
                self.buf.advance(at + 2);
                Ok(Some(line))
            }
            None if self.buf.len() > MAX_LINE => Err(ChunkError::Malformed("chunk header too long".into())),
            None => Ok(None),
        }
    }

    fn line(&mut self, line: &str) -> Result<(), ChunkError> {
        match self.state {
            State::Header => {
                let size_text = line.split(';').next().unwrap_or("").trim();
                let size = u64::from_str_radix(size_text, 16)
                    .map_err(|_| ChunkError::Malformed(format!("bad chunk size '{size_text}'")))?;
                self.state = if size == 0 { State::Trailers } else { State::Data(size) };
            }
            State::DataEnd => {
                if !line.is_empty() {
                    return Err(ChunkError::Malformed("chunk data longer than its size".into()));
                }
                self.state = State::Header;
            }
            State::Trailers => {
                if line.is_empty() {
                    self.state = State::Done;
                } else {
                    let (name, value) =
                        line.split_once(':').ok_or_else(|| ChunkError::Malformed(format!("bad trailer '{line}'")))?;
                    self.trailers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
                }
            }
            State::Data(_) | State::Done => unreachable!("lines are only read between chunks"),
        }
        Ok(())
    }

    /// The body ended: complete, or cut short. A body that ends right after the zero chunk's
    /// trailers without the final empty line is accepted (some clients omit it).
    pub fn finish(&mut self) -> Result<(), ChunkError> {
        match self.state {
            State::Done => Ok(()),
            State::Trailers => {
                if !self.buf.is_empty() {
                    let rest = String::from_utf8_lossy(&self.buf).into_owned();
                    self.buf.clear();
                    for line in rest.split("\r\n").filter(|l| !l.is_empty()) {
                        self.line(line)?;
                    }
                }
                self.state = State::Done;
                Ok(())
            }
            _ => Err(ChunkError::Truncated),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(pieces: &[&[u8]]) -> Result<(Vec<u8>, Vec<(String, String)>), ChunkError> {
        let mut d = ChunkDecoder::new();
        let mut out = Vec::new();
        for p in pieces {
            d.feed(Bytes::copy_from_slice(p), &mut out)?;
        }
        d.finish()?;
        Ok((out.concat(), d.trailers))
    }

    #[test]
    fn signed_and_unsigned_with_trailers() {
        let body = b"5;chunk-signature=abc\r\nhello\r\n6;chunk-signature=def\r\n world\r\n0;chunk-signature=0\r\n\r\n";
        assert_eq!(decode(&[body]).unwrap().0, b"hello world");
        let body = b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
        // Split at every position: the decoder must not care where reads end.
        for cut in 0..body.len() {
            let (data, trailers) = decode(&[&body[..cut], &body[cut..]]).unwrap();
            assert_eq!(data, b"hello world");
            assert_eq!(trailers, vec![("x-amz-checksum-crc32".into(), "DUoRhQ==".into())]);
        }
    }

    #[test]
    fn truncated_and_malformed() {
        assert_eq!(decode(&[b"b\r\nhello"]).unwrap_err(), ChunkError::Truncated);
        assert!(matches!(decode(&[b"zz\r\n"]).unwrap_err(), ChunkError::Malformed(_)));
        assert!(matches!(decode(&[b"2\r\nabc\r\n0\r\n\r\n"]).unwrap_err(), ChunkError::Malformed(_)));
    }
}
