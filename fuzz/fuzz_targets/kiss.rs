//! The KISS deframer (`weft_kiss::Decoder`) on serial bytes from a modem,
//! arriving in arbitrary chunks with the line going quiet in between.
//!
//! Input: a script of steps (`op | len | bytes`, see `weft_fuzz::Steps`):
//! an even `op` pushes `bytes`, an odd one says the line went idle.
//!
//! Properties: no panic; no frame is longer than the limit; the frames and
//! counters do not depend on how the bytes were chunked; every frame
//! re-encodes (`weft_kiss::encode`) to bytes that decode to itself; and the
//! whole input encoded as one frame decodes to exactly that frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_fuzz::Steps;
use weft_kiss::{Decoder, Frame, encode};

const LIMIT: usize = 64;

fn check(frames: &[Frame]) {
    for frame in frames {
        assert!(frame.payload.len() <= LIMIT, "a {}-byte payload past the limit", frame.payload.len());
        let again = Decoder::new(LIMIT).push(&encode(frame.cmd, &frame.payload));
        assert_eq!(again.as_slice(), std::slice::from_ref(frame));
    }
}

fuzz_target!(|data: &[u8]| {
    // With idle steps: anything goes but panics and oversize frames.
    let mut decoder = Decoder::new(LIMIT);
    for (op, bytes) in Steps::new(data) {
        if op % 2 == 0 {
            check(&decoder.push(bytes));
        } else {
            decoder.line_idle();
        }
    }

    // Without them: the same stream in steps or at once.
    let stream: Vec<u8> = Steps::new(data).filter(|(op, _)| op % 2 == 0).flat_map(|(_, b)| b.iter().copied()).collect();
    let mut chunked = Decoder::new(LIMIT);
    let in_steps: Vec<Frame> =
        Steps::new(data).filter(|(op, _)| op % 2 == 0).flat_map(|(_, bytes)| chunked.push(bytes)).collect();
    let mut whole = Decoder::new(LIMIT);
    let at_once = whole.push(&stream);
    assert_eq!(in_steps, at_once);
    assert_eq!(chunked.counters, whole.counters);
    check(&at_once);

    // The input as one frame.
    if let Some((&cmd, payload)) = data.split_first() {
        let frames = Decoder::new(600).push(&encode(cmd, payload));
        if payload.len() <= 600 {
            assert_eq!(frames, vec![Frame { cmd, payload: payload.to_vec() }]);
        } else {
            assert!(frames.is_empty());
        }
    }
});
