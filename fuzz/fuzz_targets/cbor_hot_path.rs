//! The hand-written hot path (`plugin-api/src/hot_path.rs`) against the
//! serde path, which its docs make the reference: `Call::decode` and
//! `Outcome::decode` (fast path, falling back to serde) must give exactly
//! what `codec::decode` gives, accept or reject, value and error message;
//! and the hand-written encoders (`Call::encode_event`,
//! `Outcome::encode_into`) must write exactly `codec::encode`'s bytes for
//! every value that decodes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::fmt::Debug;
use weft_plugin_api::internal::codec::{self, CodecError};
use weft_plugin_api::internal::{Call, Outcome};

/// Equal results; values compared by their debug form, so a NaN inside
/// (metrics carry floats) equals itself.
fn same<T: Debug>(fast: &Result<T, CodecError>, serde: &Result<T, CodecError>, bytes: &[u8]) {
    match (fast, serde) {
        (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}"), "values differ for {bytes:02x?}"),
        (Err(a), Err(b)) => assert_eq!(a, b, "errors differ for {bytes:02x?}"),
        _ => panic!("accept/reject differs for {bytes:02x?}: fast {fast:?}, serde {serde:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let fast = Call::decode(data);
    same(&fast, &codec::decode::<Call>(data), data);
    if let Ok(Call::Event(event)) = &fast {
        let mut written = Vec::new();
        Call::encode_event(event, &mut written).expect("encode_event");
        let expected = codec::encode(&Call::Event(event.clone())).expect("encode");
        assert_eq!(written, expected, "encode_event differs for {event:?}");
    }

    let fast = Outcome::decode(data);
    same(&fast, &codec::decode::<Outcome>(data), data);
    if let Ok(outcome) = &fast {
        let mut written = Vec::new();
        outcome.encode_into(&mut written).expect("encode_into");
        assert_eq!(written, codec::encode(outcome).expect("encode"), "encode_into differs for {outcome:?}");
    }
});
