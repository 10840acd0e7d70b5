//! Routed packets as relays and destinations receive them:
//! `weft_core::routing::wire::Packet::decode`, then `Inner::decode` on the
//! inner fields of data, flood and return packets (the router decodes a
//! sealed data packet's inner fields after opening it; here the sealed bytes
//! are decoded as they are, as if the box had opened to them).
//!
//! Properties: no panic; a decoded packet re-encodes to bytes that decode to
//! the same packet; the encoding equals the input unless the input spelled
//! a varint longer than needed (the wire accepts that, docs/WIRE.md does not
//! forbid it), in which case it is shorter. The same for the inner fields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_core::routing::wire::{Body, Inner, Packet};

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Packet::decode(data) else { return };
    let encoded = packet.encode();
    assert_eq!(Packet::decode(&encoded).as_ref(), Ok(&packet), "re-decoding the encoding");
    if encoded != data {
        assert!(encoded.len() < data.len(), "an accepted packet re-encodes longer: {data:02x?} -> {encoded:02x?}");
    }
    let (Body::Data { flags, inner, .. } | Body::Flood { flags, inner, .. } | Body::Return { flags, inner, .. }) =
        packet.body
    else {
        return;
    };
    let Ok(fields) = Inner::decode(flags, inner) else { return };
    let encoded = fields.encode();
    // The flags name what is present; fields without a tag or reply_to
    // need no extension byte, so an input with an empty one re-encodes
    // without it (and needs fewer flags).
    assert_eq!(fields.flags() & !flags, 0, "the fields need flags the packet did not set");
    assert_eq!(Inner::decode(fields.flags(), &encoded).as_ref(), Ok(&fields), "re-decoding the inner fields");
    if encoded != inner {
        assert!(encoded.len() < inner.len(), "inner fields re-encode longer: {inner:02x?} -> {encoded:02x?}");
    }
});
