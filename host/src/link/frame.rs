//! Link frames: what two neighbours say to each other over one link.
//!
//! Owns: [`LinkFrame`], its compact binary encoding, and the length prefix
//! used on QUIC streams ([`encode_prefixed`], [`FrameReader`]). CBOR is only
//! ever inside payloads; every header field here is fixed-width or a LEB128
//! varint, because LoRa airtime makes every byte count.
//!
//! The top two bits of the first byte say what a frame is: `00` is a
//! link-local control frame, anything else is a routed packet whose header
//! version sits in those bits (see `docs/WIRE.md`). A routed packet crosses
//! the link as it is, with no link header of its own.
//!
//! ```text
//! ReflectAsk   0x02 | nonce varint
//! ReflectSeen  0x03 | nonce varint | 4 | ipv4 (4) | port u16 BE
//!                                  | 6 | ipv6 (16) | port u16 BE
//! Packet       vv.. .... (vv != 00) | rest of the routed packet
//! ```
//! On a stream each frame is preceded by its length as a varint.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use weft_core::binary::{DecodeError, Reader};
pub use weft_core::binary::{Varint, get_varint, put_varint};

/// One frame between neighbours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkFrame {
    /// A routed packet (its bytes, header first), for the router.
    Packet(Vec<u8>),
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

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A field was missing or impossible.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Unknown control frame type byte.
    #[error("unknown frame type 0x{0:02x}")]
    UnknownType(u8),
    /// An empty frame.
    #[error("empty frame")]
    Empty,
}

const REFLECT_ASK: u8 = 0x02;
const REFLECT_SEEN: u8 = 0x03;

/// Whether a first byte starts a routed packet rather than a control frame.
pub fn is_packet(first: u8) -> bool {
    first >> 6 != 0
}

impl LinkFrame {
    /// Appends the encoded frame to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            LinkFrame::Packet(bytes) => out.extend_from_slice(bytes),
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

    /// At most the bytes the encoded frame takes (exact for packets); what
    /// send queues count.
    pub fn size_bound(&self) -> usize {
        match self {
            LinkFrame::Packet(bytes) => bytes.len(),
            LinkFrame::ReflectAsk { .. } => 11,
            LinkFrame::ReflectSeen { .. } => 30,
        }
    }

    /// Decodes one frame. A packet is only checked for its first byte here;
    /// the router decodes the rest.
    pub fn decode(bytes: &[u8]) -> Result<LinkFrame, FrameError> {
        let first = *bytes.first().ok_or(FrameError::Empty)?;
        if is_packet(first) {
            return Ok(LinkFrame::Packet(bytes.to_vec()));
        }
        let mut r = Reader(&bytes[1..]);
        match first {
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
                    _ => return Err(DecodeError::Bad("address family").into()),
                };
                let port = r.u16("port")?;
                r.end()?;
                Ok(LinkFrame::ReflectSeen { nonce, seen: SocketAddr::new(ip, port) })
            }
            other => Err(FrameError::UnknownType(other)),
        }
    }
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
            LinkFrame::Packet(vec![0x40, 0, 32, 7]),
            LinkFrame::Packet(vec![0xc0; 300]),
            LinkFrame::ReflectAsk { nonce: 99 },
            LinkFrame::ReflectSeen { nonce: 1, seen: "192.0.2.1:4433".parse().unwrap() },
            LinkFrame::ReflectSeen { nonce: 2, seen: "[2001:db8::1]:9".parse().unwrap() },
        ]
    }

    #[test]
    fn frames_round_trip_and_a_packet_crosses_with_no_link_header() {
        for frame in samples() {
            assert!(frame.encode().len() <= frame.size_bound());
            assert_eq!(LinkFrame::decode(&frame.encode()), Ok(frame));
        }
        let packet = LinkFrame::Packet(vec![0x40; 10]);
        assert_eq!(packet.encode(), vec![0x40; 10]);
    }

    #[test]
    fn every_truncation_and_garbage_is_an_error_not_a_panic() {
        for frame in samples() {
            let bytes = frame.encode();
            for cut in 0..bytes.len() {
                let result = LinkFrame::decode(&bytes[..cut]);
                // A packet cut short is still a packet here; the router judges it.
                if let Ok(LinkFrame::Packet(_)) = result {
                    continue;
                }
                assert!(result.is_err(), "{frame:?} cut at {cut}");
            }
        }
        assert_eq!(LinkFrame::decode(&[0x3f]), Err(FrameError::UnknownType(0x3f)));
        assert_eq!(LinkFrame::decode(&[]), Err(FrameError::Empty));
        assert_eq!(LinkFrame::decode(&[0x03, 1, 5, 0]), Err(FrameError::Decode(DecodeError::Bad("address family"))));
        for bytes in weft_core::binary::garbage(0x1234_5678, 40).take(20_000) {
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
        let big = LinkFrame::Packet(vec![0xee; 5000]);
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
