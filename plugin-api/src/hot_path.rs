//! Hand-written coders for the two envelopes on every message's path.
//!
//! Owns: decoding and encoding a [`Call::Event`] carrying a [`Message`]
//! ([`call`], [`encode_message_call`]) and an [`Outcome`] whose actions are
//! all [`Action::Send`] or [`Action::Reply`], with no state and no failure
//! ([`outcome`], [`encode_outcome`]). These are what a service sees and
//! answers for almost every call, and serde spends most of its time on
//! field names that are known in advance.
//!
//! The encoders write exactly the bytes [`crate::codec::encode`] writes.
//! The rule that keeps the decoders safe: each accepts exactly those bytes
//! [`crate::codec`] writes for those values (fields in declaration order,
//! definite lengths, no tags) and returns `None` for anything else, however
//! valid, so the caller falls back to [`crate::codec::decode`], which stays
//! the one definition of what is accepted and of every error message. Where
//! the fast path returns a value, it is the value `codec::decode` returns
//! (the tests below check that against the serde path, for random values
//! and for every one-byte mutation and truncation of their encodings).
//!
//! Must not: reject input (only decline it), allocate before it has seen the
//! whole item, or grow into a second general decoder.

use crate::actions::{Action, Reply, Send};
use crate::address::Address;
use crate::call::{Call, Outcome};
use crate::codec::head::{MAJOR_ARRAY, MAJOR_BYTES, MAJOR_UINT, write_head};
use crate::event::{Event, Message};

/// `[2, [1, {...}]]`: `Call::Event(Event::Message(..))` up to the map head of six fields.
const CALL_MESSAGE_PREFIX: [u8; 5] = [0x82, 0x02, 0x82, 0x01, 0xa6];
/// Map of three fields, then the text key "actions".
const OUTCOME_PREFIX: &[u8] = b"\xa3\x67actions";
/// `"state": null, "failure": null`.
const OUTCOME_SUFFIX: &[u8] = b"\x65state\xf6\x67failure\xf6";

/// Decodes `Call::Event(Event::Message(..))`; `None` for anything else.
pub(crate) fn call(bytes: &[u8]) -> Option<Call> {
    let mut cursor = Cursor::new(bytes);
    cursor.literal(&CALL_MESSAGE_PREFIX)?;
    let message = cursor.message()?;
    cursor.at_end()?;
    Some(Call::Event(Event::Message(message)))
}

/// Decodes an `Outcome` of sends and replies only; `None` for anything else.
pub(crate) fn outcome(bytes: &[u8]) -> Option<Outcome> {
    let mut cursor = Cursor::new(bytes);
    cursor.literal(OUTCOME_PREFIX)?;
    let count = cursor.array_len()?;
    // Every action takes more than one byte, so `count` is bounded by the
    // input before anything is reserved.
    let mut actions = Vec::with_capacity(count.min(cursor.remaining()));
    for _ in 0..count {
        actions.push(cursor.send_or_reply()?);
    }
    cursor.literal(OUTCOME_SUFFIX)?;
    cursor.at_end()?;
    Some(Outcome { actions, state: None, failure: None })
}

/// Encodes `Call::Event(Event::Message(message))`, appending to `out`.
pub(crate) fn encode_message_call(message: &Message, out: &mut Vec<u8>) {
    out.reserve(message.payload.len() + 64);
    out.extend_from_slice(&CALL_MESSAGE_PREFIX);
    out.extend_from_slice(b"\x62id");
    write_head(out, MAJOR_UINT, message.id);
    out.extend_from_slice(b"\x64from");
    write_optional_address(out, message.from.as_ref());
    out.extend_from_slice(b"\x64port");
    write_head(out, MAJOR_UINT, message.port.into());
    out.extend_from_slice(b"\x67payload");
    write_bytes(out, &message.payload);
    out.extend_from_slice(b"\x68reply_to");
    match message.reply_to {
        Some(tag) => write_head(out, MAJOR_UINT, tag),
        None => out.push(0xf6),
    }
    out.extend_from_slice(b"\x66sealed");
    write_bool(out, message.sealed);
}

/// Encodes `outcome` if it is one the fast path covers (sends and replies,
/// no state, no failure), appending to `out`; otherwise writes nothing and
/// returns `false`.
pub(crate) fn encode_outcome(outcome: &Outcome, out: &mut Vec<u8>) -> bool {
    let covered = outcome.state.is_none()
        && outcome.failure.is_none()
        && outcome.actions.iter().all(|a| matches!(a, Action::Send(_) | Action::Reply(_)));
    if !covered {
        return false;
    }
    out.extend_from_slice(OUTCOME_PREFIX);
    write_head(out, MAJOR_ARRAY, outcome.actions.len() as u64);
    for action in &outcome.actions {
        match action {
            Action::Send(send) => {
                out.extend_from_slice(b"\x82\x01\xa6\x62to");
                write_optional_address(out, Some(&send.to));
                out.extend_from_slice(b"\x64port");
                write_head(out, MAJOR_UINT, send.port.into());
                out.extend_from_slice(b"\x67payload");
                write_bytes(out, &send.payload);
                out.extend_from_slice(b"\x66sealed");
                write_bool(out, send.sealed);
                out.extend_from_slice(b"\x63tag");
                write_head(out, MAJOR_UINT, send.tag);
                out.extend_from_slice(b"\x69anonymous");
                write_bool(out, send.anonymous);
            }
            Action::Reply(reply) => {
                out.extend_from_slice(b"\x82\x03\xa2\x67message");
                write_head(out, MAJOR_UINT, reply.message);
                out.extend_from_slice(b"\x67payload");
                write_bytes(out, &reply.payload);
            }
            // Checked above: only sends and replies get here.
            _ => {}
        }
    }
    out.extend_from_slice(OUTCOME_SUFFIX);
    true
}

fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_head(out, MAJOR_BYTES, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn write_bool(out: &mut Vec<u8>, value: bool) {
    out.push(if value { 0xf5 } else { 0xf4 });
}

fn write_optional_address(out: &mut Vec<u8>, address: Option<&Address>) {
    match address {
        Some(address) => {
            out.push(0x50);
            out.extend_from_slice(&address.0);
        }
        None => out.push(0xf6),
    }
}

/// A read position over the input. Every method consumes its item or
/// returns `None`; after a `None` the cursor is abandoned.
struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    fn remaining(&self) -> usize {
        self.bytes.len()
    }

    fn at_end(&self) -> Option<()> {
        self.bytes.is_empty().then_some(())
    }

    #[inline(always)]
    fn literal(&mut self, expected: &[u8]) -> Option<()> {
        self.bytes = self.bytes.strip_prefix(expected)?;
        Some(())
    }

    #[inline(always)]
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(first)
    }

    /// The argument of a head of major type `major` (any definite width).
    #[inline(always)]
    fn argument(&mut self, major: u8) -> Option<u64> {
        let initial = self.byte()?;
        if initial >> 5 != major {
            return None;
        }
        let width = match initial & 0x1f {
            info @ 0..=23 => return Some(u64::from(info)),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => return None,
        };
        let (argument, rest) = self.bytes.split_at_checked(width)?;
        self.bytes = rest;
        Some(argument.iter().fold(0u64, |value, &b| value << 8 | u64::from(b)))
    }

    fn uint(&mut self) -> Option<u64> {
        self.argument(0)
    }

    fn port(&mut self) -> Option<u16> {
        u16::try_from(self.uint()?).ok()
    }

    fn array_len(&mut self) -> Option<usize> {
        usize::try_from(self.argument(4)?).ok()
    }

    fn bool(&mut self) -> Option<bool> {
        match self.byte()? {
            0xf4 => Some(false),
            0xf5 => Some(true),
            _ => None,
        }
    }

    fn is_null(&mut self) -> bool {
        if self.bytes.first() == Some(&0xf6) {
            self.bytes = &self.bytes[1..];
            true
        } else {
            false
        }
    }

    #[inline(always)]
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.argument(2)?).ok()?;
        let (content, rest) = self.bytes.split_at_checked(len)?;
        self.bytes = rest;
        Some(content)
    }

    fn address(&mut self) -> Option<Address> {
        self.literal(&[0x50])?;
        let (content, rest) = self.bytes.split_first_chunk::<16>()?;
        self.bytes = rest;
        Some(Address(*content))
    }

    /// The six fields of a [`Message`], after its map head.
    fn message(&mut self) -> Option<Message> {
        self.literal(b"\x62id")?;
        let id = self.uint()?;
        self.literal(b"\x64from")?;
        let from = if self.is_null() { None } else { Some(self.address()?) };
        self.literal(b"\x64port")?;
        let port = self.port()?;
        self.literal(b"\x67payload")?;
        let payload = self.bytes()?;
        self.literal(b"\x68reply_to")?;
        let reply_to = if self.is_null() { None } else { Some(self.uint()?) };
        self.literal(b"\x66sealed")?;
        let sealed = self.bool()?;
        Some(Message { id, from, port, payload: payload.to_vec(), reply_to, sealed })
    }

    /// `[1, {send}]` or `[3, {reply}]`.
    fn send_or_reply(&mut self) -> Option<Action> {
        self.literal(&[0x82])?;
        match self.byte()? {
            0x01 => {
                self.literal(b"\xa6\x62to")?;
                let to = self.address()?;
                self.literal(b"\x64port")?;
                let port = self.port()?;
                self.literal(b"\x67payload")?;
                let payload = self.bytes()?;
                self.literal(b"\x66sealed")?;
                let sealed = self.bool()?;
                self.literal(b"\x63tag")?;
                let tag = self.uint()?;
                self.literal(b"\x69anonymous")?;
                let anonymous = self.bool()?;
                Some(Action::Send(Send { to, port, payload: payload.to_vec(), sealed, tag, anonymous }))
            }
            0x03 => {
                self.literal(b"\xa2\x67message")?;
                let message = self.uint()?;
                self.literal(b"\x67payload")?;
                let payload = self.bytes()?;
                Some(Action::Reply(Reply { message, payload: payload.to_vec() }))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LogLevel;
    use crate::actions::Log;
    use crate::codec;
    use crate::event::TimerFired;

    use crate::rng::SplitMix64;

    /// Random field values that reach every CBOR head width.
    struct Rng(SplitMix64);

    impl Rng {
        fn new(seed: u64) -> Self {
            Self(SplitMix64::new(seed))
        }

        fn next(&mut self) -> u64 {
            self.0.next_u64()
        }

        /// A number of any CBOR width: small, 1, 2, 4 or 8 bytes.
        fn number(&mut self) -> u64 {
            let bits = [4, 8, 16, 32, 64][self.0.below(5) as usize];
            self.next() >> (64 - bits)
        }

        fn coin(&mut self) -> bool {
            self.next() & 1 == 1
        }

        fn payload(&mut self) -> Vec<u8> {
            let len = [0, 1, 23, 24, 255, 256, 70_000][self.0.below(7) as usize];
            self.0.bytes(len)
        }

        fn address(&mut self) -> Address {
            Address(std::array::from_fn(|_| self.next() as u8))
        }
    }

    fn message(rng: &mut Rng) -> Message {
        Message {
            id: rng.number(),
            from: rng.coin().then(|| rng.address()),
            port: rng.number() as u16,
            payload: rng.payload(),
            reply_to: rng.coin().then(|| rng.number()),
            sealed: rng.coin(),
        }
    }

    fn action(rng: &mut Rng) -> Action {
        if rng.coin() {
            Action::Reply(Reply { message: rng.number(), payload: rng.payload() })
        } else {
            Action::Send(Send {
                to: rng.address(),
                port: rng.number() as u16,
                payload: rng.payload(),
                sealed: rng.coin(),
                tag: rng.number(),
                anonymous: rng.coin(),
            })
        }
    }

    /// The fast path and the serde path agree on `bytes`: the same value, or
    /// the fast path declined and the public decoder gives serde's answer.
    fn agree(bytes: &[u8]) {
        let fast = call(bytes);
        if let Some(fast) = &fast {
            assert_eq!(Ok(fast), codec::decode::<Call>(bytes).as_ref(), "call {bytes:02x?}");
        }
        assert_eq!(Call::decode(bytes), codec::decode::<Call>(bytes));
        let fast = outcome(bytes);
        if let Some(fast) = &fast {
            assert_eq!(Ok(fast), codec::decode::<Outcome>(bytes).as_ref(), "outcome {bytes:02x?}");
        }
        assert_eq!(Outcome::decode(bytes), codec::decode::<Outcome>(bytes));
    }

    /// Every truncation and a few hundred single-byte changes of `bytes`.
    fn agree_when_mangled(bytes: &[u8], rng: &mut Rng) {
        // Long payloads: truncate around the structure, not at every byte.
        for len in (0..bytes.len().min(200)).chain(bytes.len().saturating_sub(40)..bytes.len()) {
            agree(&bytes[..len]);
        }
        let mut mutated = bytes.to_vec();
        for _ in 0..300 {
            let at = (rng.next() % bytes.len().min(200) as u64) as usize;
            let was = mutated[at];
            mutated[at] = rng.next() as u8;
            agree(&mutated);
            mutated[at] = was;
        }
    }

    #[test]
    fn message_calls_take_the_fast_path_and_match_serde() {
        let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
        for _ in 0..200 {
            let expected = Call::Event(Event::Message(message(&mut rng)));
            let bytes = codec::encode(&expected).expect("encode");
            let Call::Event(Event::Message(message)) = &expected else { unreachable!() };
            let mut fast = Vec::new();
            encode_message_call(message, &mut fast);
            assert_eq!(fast, bytes, "hand-written encoding differs for {expected:?}");
            assert_eq!(call(&bytes).as_ref(), Some(&expected), "fast path declined {expected:?}");
            agree(&bytes);
        }
    }

    #[test]
    fn send_and_reply_outcomes_take_the_fast_path_and_match_serde() {
        let mut rng = Rng::new(0x2545_f491_4f6c_dd1d);
        for round in 0..200 {
            let count = [0, 1, 2, 24][round % 4];
            let expected =
                Outcome { actions: (0..count).map(|_| action(&mut rng)).collect(), state: None, failure: None };
            let bytes = codec::encode(&expected).expect("encode");
            let mut fast = Vec::new();
            assert!(encode_outcome(&expected, &mut fast));
            assert_eq!(fast, bytes, "hand-written encoding differs for {expected:?}");
            assert_eq!(outcome(&bytes).as_ref(), Some(&expected), "fast path declined {expected:?}");
            agree(&bytes);
        }
    }

    #[test]
    fn mangled_encodings_agree_with_serde() {
        let mut rng = Rng::new(0x1234_5678_9abc_def1);
        for _ in 0..20 {
            let bytes = codec::encode(&Call::Event(Event::Message(message(&mut rng)))).expect("encode");
            agree_when_mangled(&bytes, &mut rng);
            let actions = (0..3).map(|_| action(&mut rng)).collect();
            let bytes = codec::encode(&Outcome { actions, state: None, failure: None }).expect("encode");
            agree_when_mangled(&bytes, &mut rng);
        }
    }

    #[test]
    fn everything_else_is_declined_and_left_to_serde() {
        let timer = codec::encode(&Call::Event(Event::Timer(TimerFired { id: 3 }))).expect("encode");
        assert!(call(&timer).is_none());
        assert_eq!(Call::decode(&timer), Ok(Call::Event(Event::Timer(TimerFired { id: 3 }))));

        let log = Action::Log(Log { level: LogLevel::Info, message: "hi".into() });
        let mixed = Outcome { actions: vec![log], state: None, failure: None };
        let bytes = codec::encode(&mixed).expect("encode");
        assert!(outcome(&bytes).is_none());
        let mut untouched = Vec::new();
        assert!(!encode_outcome(&mixed, &mut untouched) && untouched.is_empty());
        assert_eq!(Outcome::decode(&bytes), Ok(mixed));

        let with_state = Outcome { actions: vec![], state: Some(vec![1, 2, 3]), failure: None };
        let bytes = codec::encode(&with_state).expect("encode");
        assert!(outcome(&bytes).is_none());
        assert!(!encode_outcome(&with_state, &mut untouched) && untouched.is_empty());
        assert_eq!(Outcome::decode(&bytes), Ok(with_state));
    }
}
