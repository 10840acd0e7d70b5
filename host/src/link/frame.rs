//! Link frames: what two neighbours say to each other over one link.
//!
//! Owns: [`LinkFrame`], its compact binary encoding, and the length prefix
//! used on QUIC streams ([`encode_prefixed`], [`FrameReader`]). CBOR is only
//! ever inside payloads; every header field here is fixed-width or a LEB128
//! varint, because LoRa airtime makes every byte count.
//!
//! ```text
//! Service      0x01 | port u16 BE | flags u8 | [tag varint] | [reply_to varint] | payload ...
//!                     flags bit 0: tag present, bit 1: reply_to present
//! ReflectAsk   0x02 | nonce varint
//! ReflectSeen  0x03 | nonce varint | 4 | ipv4 (4) | port u16 BE
//!                                  | 6 | ipv6 (16) | port u16 BE
//! ```
//! On a stream each frame is preceded by its length as a varint.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// One frame between neighbours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkFrame {
    /// A message for a service port on the receiving node.
    Service(ServiceFrame),
    /// "Which address do you see me at?"
    ReflectAsk {
        /// Echoed in the answer.
        nonce: u64,
    },
    /// The answer to [`LinkFrame::ReflectAsk`].
    ReflectSeen {
        /// The asker's nonce.
        nonce: u64,
        /// The asker's address as the answering node sees it.
        seen: SocketAddr,
    },
}

/// A service message between neighbours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceFrame {
    /// Destination service port.
    pub port: u16,
    /// The sender's request tag (0: none).
    pub tag: u64,
    /// When this answers a request: that request's tag.
    pub reply_to: Option<u64>,
    /// Application payload.
    pub payload: Vec<u8>,
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The frame ended early.
    #[error("frame truncated while reading {0}")]
    Truncated(&'static str),
    /// Unknown frame type byte.
    #[error("unknown frame type 0x{0:02x}")]
    UnknownType(u8),
    /// A field had an impossible value.
    #[error("bad {0}")]
    Bad(&'static str),
}

const SERVICE: u8 = 0x01;
const REFLECT_ASK: u8 = 0x02;
const REFLECT_SEEN: u8 = 0x03;
const HAS_TAG: u8 = 1;
const HAS_REPLY_TO: u8 = 2;

impl LinkFrame {
    /// Appends the encoded frame to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            LinkFrame::Service(s) => {
                out.push(SERVICE);
                out.extend_from_slice(&s.port.to_be_bytes());
                let flags = if s.tag != 0 { HAS_TAG } else { 0 } | if s.reply_to.is_some() { HAS_REPLY_TO } else { 0 };
                out.push(flags);
                if s.tag != 0 {
                    put_varint(out, s.tag);
                }
                if let Some(r) = s.reply_to {
                    put_varint(out, r);
                }
                out.extend_from_slice(&s.payload);
            }
            LinkFrame::ReflectAsk { nonce } => {
                out.push(REFLECT_ASK);
                put_varint(out, *nonce);
            }
            LinkFrame::ReflectSeen { nonce, seen } => {
                out.push(REFLECT_SEEN);
                put_varint(out, *nonce);
                match seen.ip() {
                    IpAddr::V4(ip) => {
                        out.push(4);
                        out.extend_from_slice(&ip.octets());
                    }
                    IpAddr::V6(ip) => {
                        out.push(6);
                        out.extend_from_slice(&ip.octets());
                    }
                }
                out.extend_from_slice(&seen.port().to_be_bytes());
            }
        }
    }

    /// The encoded frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Decodes one whole frame.
    pub fn decode(bytes: &[u8]) -> Result<LinkFrame, FrameError> {
        let mut r = Reader(bytes);
        match r.u8("frame type")? {
            SERVICE => {
                let port = r.u16("port")?;
                let flags = r.u8("flags")?;
                if flags & !(HAS_TAG | HAS_REPLY_TO) != 0 {
                    return Err(FrameError::Bad("service flags"));
                }
                let tag = if flags & HAS_TAG != 0 { r.varint("tag")? } else { 0 };
                let reply_to = if flags & HAS_REPLY_TO != 0 { Some(r.varint("reply_to")?) } else { None };
                Ok(LinkFrame::Service(ServiceFrame { port, tag, reply_to, payload: r.0.to_vec() }))
            }
            REFLECT_ASK => {
                let nonce = r.varint("nonce")?;
                r.end()?;
                Ok(LinkFrame::ReflectAsk { nonce })
            }
            REFLECT_SEEN => {
                let nonce = r.varint("nonce")?;
                let ip = match r.u8("address family")? {
                    4 => IpAddr::V4(Ipv4Addr::from(r.array::<4>("ipv4 address")?)),
                    6 => IpAddr::V6(Ipv6Addr::from(r.array::<16>("ipv6 address")?)),
                    _ => return Err(FrameError::Bad("address family")),
                };
                let port = r.u16("port")?;
                r.end()?;
                Ok(LinkFrame::ReflectSeen { nonce, seen: SocketAddr::new(ip, port) })
            }
            other => Err(FrameError::UnknownType(other)),
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], FrameError> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or(FrameError::Truncated(what))?;
        self.0 = rest;
        Ok(*head)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, FrameError> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, FrameError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }
    fn varint(&mut self, what: &'static str) -> Result<u64, FrameError> {
        match get_varint(self.0) {
            Varint::Value(v, used) => {
                self.0 = &self.0[used..];
                Ok(v)
            }
            Varint::Incomplete => Err(FrameError::Truncated(what)),
            Varint::Overflow => Err(FrameError::Bad(what)),
        }
    }
    fn end(&self) -> Result<(), FrameError> {
        if self.0.is_empty() { Ok(()) } else { Err(FrameError::Bad("trailing bytes")) }
    }
}

/// Appends `value` as an unsigned LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The result of reading a varint from the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Varint {
    /// The value and how many bytes it used.
    Value(u64, usize),
    /// More bytes are needed.
    Incomplete,
    /// Longer than 10 bytes or past `u64`.
    Overflow,
}

/// Reads an unsigned LEB128 varint from the front of `bytes`.
pub fn get_varint(bytes: &[u8]) -> Varint {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        let part = u64::from(b & 0x7f);
        if i == 9 && b > 1 {
            return Varint::Overflow;
        }
        value |= part << (7 * i);
        if b & 0x80 == 0 {
            return Varint::Value(value, i + 1);
        }
    }
    if bytes.len() >= 10 { Varint::Overflow } else { Varint::Incomplete }
}

/// Appends `frame` with its varint length prefix (the stream encoding).
pub fn encode_prefixed(frame: &LinkFrame, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 10]);
    frame.encode_into(out);
    let len = (out.len() - start - 10) as u64;
    let mut prefix = Vec::with_capacity(10);
    put_varint(&mut prefix, len);
    // Move the body left so the prefix sits right before it.
    let body_start = start + 10;
    let new_body_start = start + prefix.len();
    out.copy_within(body_start.., new_body_start);
    out.truncate(out.len() - (10 - prefix.len()));
    out[start..new_body_start].copy_from_slice(&prefix);
}

/// What [`FrameReader::next_item`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadItem<'a> {
    /// A complete frame body (not yet decoded).
    Frame(&'a [u8]),
    /// A frame longer than the limit was skipped entirely.
    Oversize(u64),
    /// The length prefix itself was garbage; the stream cannot be resynchronised.
    BadPrefix,
}

/// Splits a byte stream into length-prefixed frames, enforcing a maximum
/// size. An oversize frame is skipped byte-exactly (the stream stays in sync)
/// without ever being buffered.
pub struct FrameReader {
    max_frame: usize,
    buffer: Vec<u8>,
    consumed: usize,
    skipping: u64,
}

impl FrameReader {
    /// A reader accepting frames of at most `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        Self { max_frame, buffer: Vec::new(), consumed: 0, skipping: 0 }
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, mut bytes: &[u8]) {
        if self.skipping > 0 {
            let skip = (self.skipping as usize).min(bytes.len());
            self.skipping -= skip as u64;
            bytes = &bytes[skip..];
        }
        if self.consumed > 0 && self.consumed == self.buffer.len() {
            self.buffer.clear();
            self.consumed = 0;
        } else if self.consumed > 64 * 1024 {
            self.buffer.drain(..self.consumed);
            self.consumed = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete item, if the buffer holds one.
    pub fn next_item(&mut self) -> Option<ReadItem<'_>> {
        if self.skipping > 0 {
            return None;
        }
        let available = &self.buffer[self.consumed..];
        let (len, used) = match get_varint(available) {
            Varint::Value(len, used) => (len, used),
            Varint::Incomplete => return None,
            Varint::Overflow => {
                self.consumed = self.buffer.len();
                return Some(ReadItem::BadPrefix);
            }
        };
        if len > self.max_frame as u64 {
            let in_buffer = (available.len() - used) as u64;
            let skip_now = len.min(in_buffer);
            self.consumed += used + skip_now as usize;
            self.skipping = len - skip_now;
            return Some(ReadItem::Oversize(len));
        }
        let len = len as usize;
        if available.len() - used < len {
            return None;
        }
        let start = self.consumed + used;
        self.consumed = start + len;
        Some(ReadItem::Frame(&self.buffer[start..start + len]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<LinkFrame> {
        vec![
            LinkFrame::Service(ServiceFrame { port: 7, tag: 0, reply_to: None, payload: b"hi".to_vec() }),
            LinkFrame::Service(ServiceFrame { port: 65535, tag: 300, reply_to: Some(u64::MAX), payload: vec![] }),
            LinkFrame::ReflectAsk { nonce: 99 },
            LinkFrame::ReflectSeen { nonce: 1, seen: "192.0.2.1:4433".parse().unwrap() },
            LinkFrame::ReflectSeen { nonce: 2, seen: "[2001:db8::1]:9".parse().unwrap() },
        ]
    }

    #[test]
    fn frames_round_trip_and_a_service_header_is_four_bytes() {
        for frame in samples() {
            assert_eq!(LinkFrame::decode(&frame.encode()), Ok(frame));
        }
        let plain = LinkFrame::Service(ServiceFrame { port: 7, tag: 0, reply_to: None, payload: vec![9; 10] });
        assert_eq!(plain.encode().len(), 4 + 10);
    }

    #[test]
    fn every_truncation_and_garbage_is_an_error_not_a_panic() {
        for frame in samples() {
            let bytes = frame.encode();
            for cut in 0..bytes.len() {
                let result = LinkFrame::decode(&bytes[..cut]);
                // A service frame cut inside its payload is still a (shorter) valid frame.
                if let Ok(LinkFrame::Service(_)) = result {
                    continue;
                }
                assert!(result.is_err(), "{frame:?} cut at {cut}");
            }
        }
        assert_eq!(LinkFrame::decode(&[0x7f]), Err(FrameError::UnknownType(0x7f)));
        assert_eq!(LinkFrame::decode(&[0x01, 0, 7, 0x80]), Err(FrameError::Bad("service flags")));
        let mut seed = 0x1234_5678_u64;
        for _ in 0..20_000 {
            let len = (seed % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (seed >> 33) as u8
                })
                .collect();
            let _ = LinkFrame::decode(&bytes);
        }
    }

    #[test]
    fn varints_round_trip_and_overflow_is_detected() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(get_varint(&out), Varint::Value(v, out.len()));
            assert_eq!(get_varint(&out[..out.len() - 1]), Varint::Incomplete);
        }
        assert_eq!(get_varint(&[0xff; 11]), Varint::Overflow);
    }

    #[test]
    fn reader_splits_a_stream_fed_one_byte_at_a_time_and_skips_oversize_frames() {
        let mut stream = Vec::new();
        let small = LinkFrame::ReflectAsk { nonce: 5 };
        let big = LinkFrame::Service(ServiceFrame { port: 1, tag: 0, reply_to: None, payload: vec![0xee; 5000] });
        encode_prefixed(&small, &mut stream);
        encode_prefixed(&big, &mut stream);
        encode_prefixed(&small, &mut stream);
        let mut reader = FrameReader::new(1000);
        let mut seen = Vec::new();
        for byte in &stream {
            reader.push(std::slice::from_ref(byte));
            while let Some(item) = reader.next_item() {
                seen.push(match item {
                    ReadItem::Frame(body) => format!("{:?}", LinkFrame::decode(body).unwrap()),
                    ReadItem::Oversize(len) => format!("oversize {len}"),
                    ReadItem::BadPrefix => "bad".into(),
                });
            }
        }
        let small_text = format!("{small:?}");
        assert_eq!(seen, vec![small_text.clone(), format!("oversize {}", big.encode().len()), small_text]);
        // The oversize body was never buffered whole.
        assert!(reader.buffer.capacity() < 5000);
    }
}
