//! The boundary codec (`weft_plugin_api::internal::codec::decode`) on the types that
//! cross it from the other side: what the host decodes from a guest
//! (`Outcome`, `Manifest`, `ManifestHead`, `HostCall`) and what a guest
//! decodes from the host (`Call`, `Event`, `HostReply`, its config table).
//!
//! Input: byte 0 picks the type, the rest is the CBOR.
//!
//! Properties: no panic; an accepted value encodes (`codec::encode`), that
//! encoding decodes and encodes again to the same bytes, and it is exactly
//! the bytes of ciborium, the reference codec (crate docs of `codec`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use weft_plugin_api::config_table::Table;
use weft_plugin_api::host_call::{HostCall, HostReply};
use weft_plugin_api::internal::{Call, Outcome, codec};
use weft_plugin_api::{Event, Manifest, ManifestHead};

fn round_trip<T: Serialize + DeserializeOwned + Debug>(bytes: &[u8]) {
    let Ok(value) = codec::decode::<T>(bytes) else { return };
    let encoded = codec::encode(&value).unwrap_or_else(|e| panic!("decoded {value:?} does not encode: {e}"));
    let again: T =
        codec::decode(&encoded).unwrap_or_else(|e| panic!("{value:?} encodes to {encoded:02x?}, refused: {e}"));
    let twice = codec::encode(&again).expect("encode");
    assert_eq!(encoded, twice, "{value:?} -> {again:?}");
    let mut reference = Vec::new();
    ciborium::into_writer(&value, &mut reference).expect("ciborium encodes");
    assert_eq!(encoded, reference, "codec and ciborium encode {value:?} differently");
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, cbor)) = data.split_first() else { return };
    match which % 8 {
        // Host side: a guest's answers.
        0 => round_trip::<Outcome>(cbor),
        1 => round_trip::<Manifest>(cbor),
        2 => {
            let _ = codec::decode::<ManifestHead>(cbor);
        }
        3 => round_trip::<HostCall>(cbor),
        // Guest side: the host's calls.
        4 => round_trip::<Call>(cbor),
        5 => round_trip::<Event>(cbor),
        6 => round_trip::<HostReply>(cbor),
        _ => {
            let _ = Table::decode(cbor);
        }
    }
});
