//! Routed packets on the wire: header version 1.
//!
//! Owns: the byte layout of every routed packet ([`Packet`]), encoding and
//! decoding, and the message fields that may be sealed ([`Inner`]). No
//! routing decisions and no crypto here. The layout with byte diagrams is in
//! `docs/WIRE.md`; keep both in step.
//!
//! ```text
//! byte 0   vv kkk fff   version (01 = v1), kind, three kind-specific flags
//! byte 1   hop count    hops travelled so far (relays increment it in place)
//! byte 2   hop limit    dropped once the count reaches it
//! Data     destination (16) | port varint | inner or sealed inner
//! Flood    flood id u64 BE  | port varint | inner | [signature (64)]
//! Return   flood id u64 BE  | port varint | inner | [signature (64)]
//! Announce [request id u64 BE, when a path response] | announce body (138) | [path cost u16 BE]
//! PathReq  request id u64 BE | target (16) | known sequence varint
//! Trace    trace id u64 BE | destination (16) | origin (16) | path (16 each)
//! inner    [source (16)] | [ext u8 | [tag varint] | [reply_to varint]] | payload
//! ```
//! A routed unicast packet to a port below 128 has a 20-byte header.

use crate::binary::{DecodeError, Reader, put_varint};
use weft_plugin_api::Address;

/// The header version this build writes.
pub const VERSION: u8 = 1;
/// Offset of the hop count, which relays increment in place.
pub const HOP_COUNT_OFFSET: usize = 1;
/// Bytes of an announce body: two public keys, capabilities, sequence, signature.
pub const ANNOUNCE_BODY: usize = 32 + 32 + 2 + 8 + 64;

/// Flag: the inner fields start with the sender's address.
pub const FLAG_SOURCE: u8 = 0b100;
/// Flag (data only): the inner fields are sealed to the destination.
pub const FLAG_SEALED: u8 = 0b010;
/// Flag: the inner fields carry an extension byte (tag, reply_to).
pub const FLAG_EXT: u8 = 0b001;
/// Flag (flood and return, only with [`FLAG_SOURCE`]): the source's Ed25519
/// signature over [`flood_signed_bytes`] follows the inner fields.
pub const FLAG_SIGNED: u8 = 0b010;
/// Bytes of a flood's (or return's) signature.
pub const FLOOD_SIGNATURE: usize = 64;
/// What a flood's signature covers first.
pub const FLOOD_CONTEXT: &[u8] = b"weft flood v1\0";
/// Flag (announce): a path response, routed back along a request's path.
pub const FLAG_PATH_RESPONSE: u8 = 0b001;
/// Flag (announce): the sender's path cost to the origin (u16 BE) follows
/// the body; without it the cost is 0 (the origin's own announce).
pub const FLAG_PATH_COST: u8 = 0b010;
/// Flag (trace): the answer travelling back to the origin.
pub const FLAG_TRACE_REPLY: u8 = 0b001;

const EXT_TAG: u8 = 1;
const EXT_REPLY_TO: u8 = 2;

/// What a packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A message for one node's service port.
    Data = 0,
    /// A message for a service port on every node within the hop limit.
    Flood = 1,
    /// A signed announce of a node (or a path response carrying one).
    Announce = 2,
    /// "Who knows a path to this node?"
    PathRequest = 3,
    /// A reply to a flood, travelling back along the flood's path.
    Return = 4,
    /// A path probe that records every node it crosses.
    Trace = 5,
    /// A message sealed in an end-to-end session (see `crate::session`).
    Session = 6,
    /// A session handshake, or a reset asking for one (see `crate::session`).
    Handshake = 7,
}

impl Kind {
    fn from_bits(bits: u8) -> Option<Kind> {
        Some(match bits {
            0 => Kind::Data,
            1 => Kind::Flood,
            2 => Kind::Announce,
            3 => Kind::PathRequest,
            4 => Kind::Return,
            5 => Kind::Trace,
            6 => Kind::Session,
            7 => Kind::Handshake,
            _ => return None,
        })
    }
}

/// Hops travelled and the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hops {
    /// Hops travelled so far.
    pub count: u8,
    /// The packet is not forwarded once `count` reaches this.
    pub limit: u8,
}

impl Hops {
    /// A fresh packet that may travel `limit` hops.
    pub fn fresh(limit: u8) -> Hops {
        Hops { count: 0, limit }
    }
}

/// A routed packet, borrowing its variable parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Hop count and limit.
    pub hops: Hops,
    /// Kind-specific fields.
    pub body: Body<'a>,
}

/// The kind-specific part of a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<'a> {
    /// See [`Kind::Data`].
    Data {
        /// The destination node.
        destination: Address,
        /// The destination service port.
        port: u16,
        /// [`FLAG_SOURCE`], [`FLAG_SEALED`], [`FLAG_EXT`].
        flags: u8,
        /// [`Inner`] fields, sealed when [`FLAG_SEALED`] is set.
        inner: &'a [u8],
    },
    /// See [`Kind::Flood`].
    Flood {
        /// Random id; dedup key, and the handle for [`Kind::Return`] replies.
        id: u64,
        /// Service port on every receiving node.
        port: u16,
        /// [`FLAG_SOURCE`], [`FLAG_EXT`] ([`FLAG_SIGNED`] follows `signature`).
        flags: u8,
        /// [`Inner`] fields.
        inner: &'a [u8],
        /// The source's signature over [`flood_signed_bytes`], when signed.
        signature: Option<&'a [u8; FLOOD_SIGNATURE]>,
    },
    /// See [`Kind::Return`].
    Return {
        /// The flood being answered.
        id: u64,
        /// Service port at the flood's origin.
        port: u16,
        /// [`FLAG_SOURCE`], [`FLAG_EXT`] ([`FLAG_SIGNED`] follows `signature`).
        flags: u8,
        /// [`Inner`] fields.
        inner: &'a [u8],
        /// The source's signature over [`flood_signed_bytes`], when signed.
        signature: Option<&'a [u8; FLOOD_SIGNATURE]>,
    },
    /// See [`Kind::Announce`].
    Announce {
        /// Set for a path response: the request it answers.
        request: Option<u64>,
        /// The signed announce body.
        body: &'a [u8; ANNOUNCE_BODY],
        /// The sender's path cost to the announce's origin: the sum of the
        /// costs of the links between them (0 from the origin itself). Not
        /// signed: like the hop count, each relay rewrites it.
        cost: u16,
    },
    /// See [`Kind::PathRequest`].
    PathRequest {
        /// Random id; dedup key and the handle responses are routed back by.
        request: u64,
        /// The node a path is wanted to.
        target: Address,
        /// The newest announce sequence the requester knows for `target`
        /// (0: none); only fresher knowledge answers.
        known_sequence: u64,
    },
    /// See [`Kind::Trace`].
    Trace {
        /// Set on the way back.
        reply: bool,
        /// The origin's id for this probe.
        id: u64,
        /// The node being traced.
        destination: Address,
        /// The node that asked.
        origin: Address,
        /// Relays crossed so far, 16 bytes each, in order.
        path: &'a [u8],
    },
    /// See [`Kind::Session`].
    Session {
        /// The destination node.
        destination: Address,
        /// The destination's number for the sending node (its session index).
        index: u32,
        /// The message counter: the AEAD nonce, at most [`MAX_COUNTER`].
        counter: u64,
        /// ChaCha20-Poly1305 of `inner flags u8 | port varint | inner fields
        /// without source`, with its tag (the flags are sealed so that no
        /// relay can change how the fields are read).
        sealed: &'a [u8],
    },
    /// See [`Kind::Handshake`].
    Handshake {
        /// The destination node.
        destination: Address,
        /// [`HANDSHAKE_INIT`], [`HANDSHAKE_RESPONSE`] or [`HANDSHAKE_RESET`].
        step: u8,
        /// The step's fields (`crate::session::wire`).
        body: &'a [u8],
    },
}

/// Handshake step: the initiator's first message.
pub const HANDSHAKE_INIT: u8 = 0;
/// Handshake step: the responder's answer.
pub const HANDSHAKE_RESPONSE: u8 = 1;
/// Handshake step: "I hold no session for your messages; start one and resend".
pub const HANDSHAKE_RESET: u8 = 2;
/// Bytes of a session message counter on the wire.
pub const COUNTER_BYTES: usize = 6;
/// The largest session message counter (48 bits).
pub const MAX_COUNTER: u64 = (1 << 48) - 1;
/// Offset of the destination address in data, session and handshake packets.
pub const DESTINATION_OFFSET: usize = 3;

/// Why a packet could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A field was missing or impossible.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A header version this build does not speak.
    #[error("header version {0} is not supported (this node speaks {VERSION})")]
    Version(u8),
    /// A kind this version does not define.
    #[error("unknown packet kind {0}")]
    Kind(u8),
}

impl<'a> Packet<'a> {
    /// The packet's kind.
    pub fn kind(&self) -> Kind {
        match self.body {
            Body::Data { .. } => Kind::Data,
            Body::Flood { .. } => Kind::Flood,
            Body::Return { .. } => Kind::Return,
            Body::Announce { .. } => Kind::Announce,
            Body::PathRequest { .. } => Kind::PathRequest,
            Body::Trace { .. } => Kind::Trace,
            Body::Session { .. } => Kind::Session,
            Body::Handshake { .. } => Kind::Handshake,
        }
    }

    fn flags(&self) -> u8 {
        match &self.body {
            Body::Data { flags, .. } => *flags & 0b111,
            Body::Flood { flags, signature, .. } | Body::Return { flags, signature, .. } => {
                (*flags & (FLAG_SOURCE | FLAG_EXT)) | if signature.is_some() { FLAG_SIGNED } else { 0 }
            }
            Body::Announce { request, cost, .. } => {
                (if request.is_some() { FLAG_PATH_RESPONSE } else { 0 }) | if *cost > 0 { FLAG_PATH_COST } else { 0 }
            }
            Body::PathRequest { .. } => 0,
            Body::Session { .. } => 0,
            Body::Handshake { step, .. } => *step & 0b111,
            Body::Trace { reply, .. } => {
                if *reply {
                    FLAG_TRACE_REPLY
                } else {
                    0
                }
            }
        }
    }

    /// Appends the encoded packet to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push((VERSION << 6) | ((self.kind() as u8) << 3) | self.flags());
        out.push(self.hops.count);
        out.push(self.hops.limit);
        match &self.body {
            Body::Data { destination, port, inner, .. } => {
                out.extend_from_slice(&destination.0);
                put_varint(out, u64::from(*port));
                out.extend_from_slice(inner);
            }
            Body::Flood { id, port, inner, signature, .. } | Body::Return { id, port, inner, signature, .. } => {
                out.extend_from_slice(&id.to_be_bytes());
                put_varint(out, u64::from(*port));
                out.extend_from_slice(inner);
                if let Some(signature) = signature {
                    out.extend_from_slice(&signature[..]);
                }
            }
            Body::Announce { request, body, cost } => {
                if let Some(request) = request {
                    out.extend_from_slice(&request.to_be_bytes());
                }
                out.extend_from_slice(&body[..]);
                if *cost > 0 {
                    out.extend_from_slice(&cost.to_be_bytes());
                }
            }
            Body::PathRequest { request, target, known_sequence } => {
                out.extend_from_slice(&request.to_be_bytes());
                out.extend_from_slice(&target.0);
                put_varint(out, *known_sequence);
            }
            Body::Trace { id, destination, origin, path, .. } => {
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&destination.0);
                out.extend_from_slice(&origin.0);
                out.extend_from_slice(path);
            }
            Body::Session { destination, index, counter, sealed, .. } => {
                out.extend_from_slice(&destination.0);
                out.extend_from_slice(&index.to_be_bytes());
                out.extend_from_slice(&counter.to_be_bytes()[8 - COUNTER_BYTES..]);
                out.extend_from_slice(sealed);
            }
            Body::Handshake { destination, body, .. } => {
                out.extend_from_slice(&destination.0);
                out.extend_from_slice(body);
            }
        }
    }

    /// The encoded packet.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.encode_into(&mut out);
        out
    }

    /// Decodes a packet, borrowing from `bytes`.
    pub fn decode(bytes: &'a [u8]) -> Result<Packet<'a>, WireError> {
        let mut r = Reader(bytes);
        let first = r.u8("header")?;
        let version = first >> 6;
        if version != VERSION {
            return Err(WireError::Version(version));
        }
        let kind = Kind::from_bits((first >> 3) & 0b111).ok_or(WireError::Kind((first >> 3) & 0b111))?;
        let flags = first & 0b111;
        let hops = Hops { count: r.u8("hop count")?, limit: r.u8("hop limit")? };
        let body = match kind {
            Kind::Data => {
                let destination = Address(r.array("destination")?);
                let port = port(&mut r)?;
                Body::Data { destination, port, flags, inner: r.rest() }
            }
            Kind::Flood | Kind::Return => {
                if flags & FLAG_SIGNED != 0 && flags & FLAG_SOURCE == 0 {
                    return Err(DecodeError::Bad("flags (a signed flood names its source)").into());
                }
                let id = r.u64("flood id")?;
                let port = port(&mut r)?;
                let rest = r.rest();
                let (inner, signature) = if flags & FLAG_SIGNED != 0 {
                    let at =
                        rest.len().checked_sub(FLOOD_SIGNATURE).ok_or(DecodeError::Truncated("flood signature"))?;
                    let (inner, signature) = rest.split_at(at);
                    (inner, Some(signature.try_into().map_err(|_| DecodeError::Truncated("flood signature"))?))
                } else {
                    (rest, None)
                };
                if kind == Kind::Flood {
                    Body::Flood { id, port, flags, inner, signature }
                } else {
                    Body::Return { id, port, flags, inner, signature }
                }
            }
            Kind::Announce => {
                if flags & !(FLAG_PATH_RESPONSE | FLAG_PATH_COST) != 0 {
                    return Err(DecodeError::Bad("announce flags").into());
                }
                let request = if flags & FLAG_PATH_RESPONSE != 0 { Some(r.u64("request id")?) } else { None };
                let body = r.slice(ANNOUNCE_BODY, "announce body")?;
                let cost = if flags & FLAG_PATH_COST != 0 { u16::from_be_bytes(r.array("path cost")?) } else { 0 };
                r.end()?;
                let body = body.try_into().map_err(|_| DecodeError::Truncated("announce body"))?;
                Body::Announce { request, body, cost }
            }
            Kind::PathRequest => {
                if flags != 0 {
                    return Err(DecodeError::Bad("path request flags").into());
                }
                let request = r.u64("request id")?;
                let target = Address(r.array("target")?);
                let known_sequence = r.varint("known sequence")?;
                r.end()?;
                Body::PathRequest { request, target, known_sequence }
            }
            Kind::Trace => {
                if flags & !FLAG_TRACE_REPLY != 0 {
                    return Err(DecodeError::Bad("trace flags").into());
                }
                let id = r.u64("trace id")?;
                let destination = Address(r.array("destination")?);
                let origin = Address(r.array("origin")?);
                let path = r.rest();
                if path.len() % 16 != 0 {
                    return Err(DecodeError::Bad("trace path length").into());
                }
                Body::Trace { reply: flags & FLAG_TRACE_REPLY != 0, id, destination, origin, path }
            }
            Kind::Session => {
                if flags != 0 {
                    return Err(DecodeError::Bad("session flags").into());
                }
                let destination = Address(r.array("destination")?);
                let index = u32::from_be_bytes(r.array("session index")?);
                let mut counter = [0u8; 8];
                counter[8 - COUNTER_BYTES..].copy_from_slice(&r.array::<COUNTER_BYTES>("counter")?);
                let sealed = r.rest();
                if sealed.len() < 16 {
                    return Err(DecodeError::Truncated("session tag").into());
                }
                Body::Session { destination, index, counter: u64::from_be_bytes(counter), sealed }
            }
            Kind::Handshake => {
                if flags > HANDSHAKE_RESET {
                    return Err(DecodeError::Bad("handshake step").into());
                }
                let destination = Address(r.array("destination")?);
                Body::Handshake { destination, step: flags, body: r.rest() }
            }
        };
        Ok(Packet { hops, body })
    }
}

fn port(r: &mut Reader<'_>) -> Result<u16, DecodeError> {
    u16::try_from(r.varint("port")?).map_err(|_| DecodeError::Bad("port"))
}

/// The relays a trace crossed.
pub fn trace_path(path: &[u8]) -> Vec<Address> {
    path.chunks_exact(16).map(|c| Address(c.try_into().unwrap_or([0; 16]))).collect()
}

/// The message fields that travel sealed in a sealed data packet: who sent
/// it (when revealed), the request tag and reply reference, the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inner<'a> {
    /// The sender, when it chose to reveal itself.
    pub source: Option<Address>,
    /// The sender's request tag (0: none).
    pub tag: u64,
    /// The tag of the request this answers.
    pub reply_to: Option<u64>,
    /// The application payload.
    pub payload: &'a [u8],
}

impl<'a> Inner<'a> {
    /// [`FLAG_SOURCE`] and [`FLAG_EXT`] as these fields need them.
    pub fn flags(&self) -> u8 {
        let mut flags = 0;
        if self.source.is_some() {
            flags |= FLAG_SOURCE;
        }
        if self.tag != 0 || self.reply_to.is_some() {
            flags |= FLAG_EXT;
        }
        flags
    }

    /// Appends the fields to `out` (their presence is in [`Inner::flags`]).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        if let Some(source) = self.source {
            out.extend_from_slice(&source.0);
        }
        if self.flags() & FLAG_EXT != 0 {
            let ext = if self.tag != 0 { EXT_TAG } else { 0 } | if self.reply_to.is_some() { EXT_REPLY_TO } else { 0 };
            out.push(ext);
            if self.tag != 0 {
                put_varint(out, self.tag);
            }
            if let Some(reply_to) = self.reply_to {
                put_varint(out, reply_to);
            }
        }
        out.extend_from_slice(self.payload);
    }

    /// The encoded fields.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.payload.len() + 20);
        self.encode_into(&mut out);
        out
    }

    /// Decodes fields whose presence `flags` gives.
    pub fn decode(flags: u8, bytes: &'a [u8]) -> Result<Inner<'a>, WireError> {
        let mut r = Reader(bytes);
        let source = if flags & FLAG_SOURCE != 0 { Some(Address(r.array("source")?)) } else { None };
        let (mut tag, mut reply_to) = (0, None);
        if flags & FLAG_EXT != 0 {
            let ext = r.u8("extension")?;
            if ext & !(EXT_TAG | EXT_REPLY_TO) != 0 {
                return Err(DecodeError::Bad("extension bits").into());
            }
            if ext & EXT_TAG != 0 {
                tag = r.varint("tag")?;
            }
            if ext & EXT_REPLY_TO != 0 {
                reply_to = Some(r.varint("reply_to")?);
            }
        }
        Ok(Inner { source, tag, reply_to, payload: r.rest() })
    }
}

/// What the source of a flood or a return signs (the hop fields, which
/// relays rewrite, are left out): [`FLOOD_CONTEXT`] | the packet's first
/// byte (version, kind, flags with [`FLAG_SIGNED`]) | flood id u64 BE |
/// port u16 BE | the inner fields.
pub fn flood_signed_bytes(kind: Kind, id: u64, port: u16, flags: u8, inner: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FLOOD_CONTEXT.len() + 1 + 8 + 2 + inner.len());
    out.extend_from_slice(FLOOD_CONTEXT);
    out.push((VERSION << 6) | ((kind as u8) << 3) | (flags & (FLAG_SOURCE | FLAG_EXT)) | FLAG_SIGNED);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&port.to_be_bytes());
    out.extend_from_slice(inner);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Address = Address([0xaa; 16]);
    const B: Address = Address([0xbb; 16]);

    fn samples() -> Vec<Vec<u8>> {
        let inner = Inner { source: Some(A), tag: 300, reply_to: Some(7), payload: b"payload" }.encode();
        let body = [9u8; ANNOUNCE_BODY];
        let bodies = [
            Body::Data { destination: B, port: 7, flags: 0, inner: b"x" },
            Body::Data { destination: B, port: 40_000, flags: FLAG_SOURCE | FLAG_EXT, inner: &inner },
            Body::Flood { id: 1 << 60, port: 9, flags: FLAG_SOURCE | FLAG_EXT, inner: &inner, signature: None },
            Body::Flood { id: 3, port: 9, flags: FLAG_SOURCE | FLAG_EXT, inner: &inner, signature: Some(&[5; 64]) },
            Body::Return { id: 5, port: 9, flags: 0, inner: b"r", signature: None },
            Body::Return { id: 6, port: 9, flags: FLAG_SOURCE, inner: &inner[..20], signature: Some(&[6; 64]) },
            Body::Announce { request: None, body: &body, cost: 0 },
            Body::Announce { request: Some(77), body: &body, cost: 348 },
            Body::PathRequest { request: 3, target: B, known_sequence: 1_700_000_000_000 },
            Body::Trace { reply: true, id: 8, destination: B, origin: A, path: &[1; 32] },
        ];
        bodies.into_iter().map(|body| Packet { hops: Hops { count: 2, limit: 32 }, body }.encode()).collect()
    }

    #[test]
    fn a_routed_unicast_header_is_twenty_bytes() {
        let packet = Packet {
            hops: Hops::fresh(32),
            body: Body::Data { destination: B, port: 127, flags: 0, inner: b"0123456789" },
        };
        assert_eq!(packet.encode().len() - 10, 20);
        assert_eq!(packet.encode()[0] >> 6, VERSION);
    }

    #[test]
    fn every_kind_round_trips_and_the_inner_fields_too() {
        for bytes in samples() {
            let packet = Packet::decode(&bytes).unwrap();
            assert_eq!(packet.encode(), bytes);
            assert_eq!(packet.hops, Hops { count: 2, limit: 32 });
        }
        let fields = Inner { source: Some(A), tag: 300, reply_to: Some(7), payload: b"payload" };
        let encoded = fields.encode();
        assert_eq!(Inner::decode(fields.flags(), &encoded).unwrap(), fields);
        let bare = Inner { source: None, tag: 0, reply_to: None, payload: b"p" };
        assert_eq!(bare.flags(), 0);
        assert_eq!(bare.encode(), b"p");
    }

    /// Found by the `routed_packet` fuzz target (reproducer in
    /// `fuzz/regressions/routed_packet/`): a path request defines no flags,
    /// so set ones are reserved bits, which a receiver refuses (docs/WIRE.md,
    /// "Versioning") as it does for announces and traces. They were ignored,
    /// and the packet did not re-encode to the bytes it was decoded from.
    #[test]
    fn a_path_request_with_reserved_flags_is_refused() {
        let request =
            Packet { hops: Hops::fresh(32), body: Body::PathRequest { request: 3, target: B, known_sequence: 9 } };
        let mut bytes = request.encode();
        assert_eq!(Packet::decode(&bytes), Ok(request));
        for flags in 1..8 {
            bytes[0] = 0x58 | flags;
            assert_eq!(Packet::decode(&bytes), Err(WireError::Decode(DecodeError::Bad("path request flags"))));
        }
    }

    #[test]
    fn a_signed_flood_names_its_source_and_carries_the_whole_signature() {
        let inner = Inner { source: Some(A), tag: 0, reply_to: None, payload: b"hi" }.encode();
        let signed = Body::Flood { id: 1, port: 9, flags: FLAG_SOURCE, inner: &inner, signature: Some(&[7; 64]) };
        let bytes = Packet { hops: Hops::fresh(8), body: signed }.encode();
        assert_eq!(bytes[0] & 0b111, FLAG_SOURCE | FLAG_SIGNED);
        let Ok(Packet { body: Body::Flood { inner: i, signature: Some(sig), .. }, .. }) = Packet::decode(&bytes) else {
            panic!("not a signed flood")
        };
        assert_eq!((i, sig), (&inner[..], &[7; 64]));
        // Signed without a source: nothing to check the signature against.
        let mut sourceless = bytes.clone();
        sourceless[0] &= !FLAG_SOURCE;
        assert_eq!(
            Packet::decode(&sourceless),
            Err(WireError::Decode(DecodeError::Bad("flags (a signed flood names its source)")))
        );
        // Shorter than a signature after the port.
        let short = &bytes[..3 + 8 + 1 + 40];
        assert_eq!(Packet::decode(short), Err(WireError::Decode(DecodeError::Truncated("flood signature"))));
        // The signed bytes bind kind, flags, id, port and fields, not the hops.
        let flood = flood_signed_bytes(Kind::Flood, 1, 9, FLAG_SOURCE, &inner);
        assert_ne!(flood, flood_signed_bytes(Kind::Return, 1, 9, FLAG_SOURCE, &inner));
        assert_ne!(flood, flood_signed_bytes(Kind::Flood, 2, 9, FLAG_SOURCE, &inner));
        assert_ne!(flood, flood_signed_bytes(Kind::Flood, 1, 10, FLAG_SOURCE, &inner));
        assert_ne!(flood, flood_signed_bytes(Kind::Flood, 1, 9, FLAG_SOURCE | FLAG_EXT, &inner));
        assert_eq!(flood, flood_signed_bytes(Kind::Flood, 1, 9, FLAG_SOURCE | FLAG_SIGNED, &inner));
    }

    #[test]
    fn truncations_garbage_and_other_versions_are_errors_not_panics() {
        for bytes in samples() {
            let kind = (bytes[0] >> 3) & 0b111;
            for cut in 0..bytes.len() {
                let result = Packet::decode(&bytes[..cut]);
                // Announces and path requests have a fixed size: any cut is an error.
                if cut < 3 || kind == Kind::Announce as u8 || kind == Kind::PathRequest as u8 {
                    assert!(result.is_err(), "kind {kind} cut at {cut} decoded");
                }
            }
        }
        assert_eq!(Packet::decode(&[0x80, 0, 0]), Err(WireError::Version(2)));
        assert!(Packet::decode(&[0x40 | (6 << 3) | 1, 0, 0]).is_err(), "session flags are reserved");
        for bytes in crate::binary::garbage(0x9e37_79b9, 200).take(50_000) {
            if let Ok(packet) = Packet::decode(&bytes)
                && let Body::Data { flags, inner, .. } | Body::Flood { flags, inner, .. } = packet.body
            {
                let _ = Inner::decode(flags, inner);
            }
        }
    }
}
