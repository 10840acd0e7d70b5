//! How calls and outcomes cross the boundary: the hand-written hot path
//! (`hot_path`) for the common shapes, the serde codec for everything else
//! (and as the definition of what is accepted).
//!
//! Owns: the encode and decode entry points of [`Call`] and [`Outcome`].
//! Kept apart from `call` (the types) so that `hot_path`, which reads and
//! writes those types, and the types themselves do not import each other.

use crate::call::{Call, InitArgs, Outcome};
use crate::event::Event;

impl Outcome {
    /// Encodes the outcome, appending to `out`: the bytes of
    /// [`crate::codec::encode_into`], written directly when every action is
    /// a send or a reply (see `hot_path`).
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), crate::codec::CodecError> {
        if crate::hot_path::encode_outcome(self, out) {
            return Ok(());
        }
        crate::codec::encode_into(self, out)
    }

    /// Decodes an outcome. Same result as [`crate::codec::decode`], faster
    /// when every action is a send or a reply (the common answer): see `hot_path`.
    pub fn decode(bytes: &[u8]) -> Result<Outcome, crate::codec::CodecError> {
        crate::hot_path::outcome(bytes).map_or_else(|| crate::codec::decode(bytes), Ok)
    }
}

impl Call {
    /// Decodes a call. Same result as [`crate::codec::decode`], faster for a
    /// message event (the common call): see `hot_path`.
    pub fn decode(bytes: &[u8]) -> Result<Call, crate::codec::CodecError> {
        crate::hot_path::call(bytes).map_or_else(|| crate::codec::decode(bytes), Ok)
    }

    /// Encodes `Call::Init(args)` without cloning the arguments (which may
    /// carry a large handed-over state).
    pub fn encode_init(args: &InitArgs, out: &mut Vec<u8>) -> Result<(), crate::codec::CodecError> {
        // `[1, args]`: a two-element array head, then the tag of `Call::Init`.
        out.extend_from_slice(&[0x82, 0x01]);
        crate::codec::encode_into(args, out)
    }

    /// Encodes `Call::Event(event)` without cloning the event (the host's hot path).
    pub fn encode_event(event: &Event, out: &mut Vec<u8>) -> Result<(), crate::codec::CodecError> {
        if let Event::Message(message) = event {
            crate::hot_path::encode_message_call(message, out);
            return Ok(());
        }
        // `[2, event]`: a two-element array head, then the tag of `Call::Event`.
        out.extend_from_slice(&[0x82, 0x02]);
        crate::codec::encode_into(event, out)
    }
}
