//! KISS framing as RNode modems speak it on serial (lora-radio.md §1).
//!
//! Owns: encoding a command frame ([`encode`]) and a streaming decoder
//! ([`Decoder`]) that takes serial bytes in whatever chunks they arrive and
//! yields whole frames. Shared by the RNode driver plugin (host side of the
//! wire) and the virtual modem (device side), so both ends agree byte for
//! byte. No I/O, no clock: the caller says when the line went quiet.
//!
//! ```text
//! FEND cmd escaped-payload FEND      FEND = C0, FESC = DB
//! escaping: DB -> DB DD (first), C0 -> DB DC
//! ```
//! Consecutive FENDs are legal (empty frames are skipped). A frame longer
//! than the decoder's limit, or with a broken escape, is dropped and
//! counted; decoding resumes at the next FEND.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// Frame delimiter.
pub const FEND: u8 = 0xC0;
/// Escape.
pub const FESC: u8 = 0xDB;
/// Escaped FEND.
pub const TFEND: u8 = 0xDC;
/// Escaped FESC.
pub const TFESC: u8 = 0xDD;

/// Appends the frame `cmd` + `payload` to `out`, escaped and delimited.
pub fn encode_into(cmd: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(payload.len() + 4);
    out.push(FEND);
    push_escaped(cmd, out);
    for &b in payload {
        push_escaped(b, out);
    }
    out.push(FEND);
}

/// The frame `cmd` + `payload`, escaped and delimited.
pub fn encode(cmd: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(cmd, payload, &mut out);
    out
}

fn push_escaped(b: u8, out: &mut Vec<u8>) {
    match b {
        FEND => out.extend_from_slice(&[FESC, TFEND]),
        FESC => out.extend_from_slice(&[FESC, TFESC]),
        other => out.push(other),
    }
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The command byte.
    pub cmd: u8,
    /// The unescaped payload.
    pub payload: Vec<u8>,
}

/// What the decoder threw away.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeCounters {
    /// Frames whose payload exceeded the limit.
    pub oversize: u64,
    /// Frames with an escape byte followed by something other than TFEND/TFESC.
    pub bad_escape: u64,
    /// Half-received frames dropped because the line went quiet.
    pub abandoned: u64,
    /// Bytes outside any frame (before the first FEND).
    pub noise_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first FEND: bytes are noise.
    Hunting,
    /// Inside a frame.
    InFrame,
    /// Inside a frame, after FESC.
    Escaped,
    /// The frame is broken: skip to the next FEND.
    Skipping,
}

/// Streaming KISS decoder.
#[derive(Debug, Clone)]
pub struct Decoder {
    state: State,
    buffer: Vec<u8>,
    max_payload: usize,
    /// What was dropped so far.
    pub counters: DecodeCounters,
}

impl Decoder {
    /// A decoder that drops frames with payloads over `max_payload` bytes.
    pub fn new(max_payload: usize) -> Self {
        Self { state: State::Hunting, buffer: Vec::new(), max_payload, counters: DecodeCounters::default() }
    }

    /// Feeds serial bytes; returns the frames they completed, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Frame> {
        let mut frames = Vec::new();
        for &b in bytes {
            if b == FEND {
                if matches!(self.state, State::InFrame) && !self.buffer.is_empty() {
                    let cmd = self.buffer[0];
                    frames.push(Frame { cmd, payload: self.buffer[1..].to_vec() });
                } else if self.state == State::Escaped {
                    self.counters.bad_escape += 1;
                }
                self.buffer.clear();
                self.state = State::InFrame;
                continue;
            }
            match self.state {
                State::Hunting => self.counters.noise_bytes += 1,
                State::Skipping => {}
                State::InFrame if b == FESC => self.state = State::Escaped,
                State::InFrame => self.take(b),
                State::Escaped => match b {
                    TFEND => {
                        self.state = State::InFrame;
                        self.take(FEND);
                    }
                    TFESC => {
                        self.state = State::InFrame;
                        self.take(FESC);
                    }
                    _ => {
                        self.counters.bad_escape += 1;
                        self.skip();
                    }
                },
            }
        }
        frames
    }

    fn take(&mut self, b: u8) {
        // The command byte plus the payload.
        if self.buffer.len() > self.max_payload {
            self.counters.oversize += 1;
            self.skip();
        } else {
            self.buffer.push(b);
        }
    }

    fn skip(&mut self) {
        self.buffer.clear();
        self.state = State::Skipping;
    }

    /// The line went quiet (the caller's timer, ~100 ms): a half-received
    /// frame is dropped; the next FEND starts afresh.
    pub fn line_idle(&mut self) {
        if matches!(self.state, State::InFrame | State::Escaped) && !self.buffer.is_empty() {
            self.counters.abandoned += 1;
        }
        self.buffer.clear();
        if self.state != State::Hunting {
            self.state = State::InFrame;
        }
    }

    /// Whether part of a frame has been received.
    pub fn in_frame(&self) -> bool {
        !self.buffer.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_detect_burst_from_the_reference_decodes_to_four_queries() {
        let burst = [0xC0, 0x08, 0x73, 0xC0, 0x50, 0x00, 0xC0, 0x48, 0x00, 0xC0, 0x49, 0x00, 0xC0];
        let mut decoder = Decoder::new(600);
        let frames = decoder.push(&burst);
        let cmds: Vec<(u8, Vec<u8>)> = frames.into_iter().map(|f| (f.cmd, f.payload)).collect();
        assert_eq!(cmds, vec![(0x08, vec![0x73]), (0x50, vec![0]), (0x48, vec![0]), (0x49, vec![0])]);
        let mut encoded = encode(0x08, &[0x73]);
        encoded.pop();
        encoded.extend_from_slice(&encode(0x50, &[0])[..]);
        assert_eq!(&encoded[..6], &burst[..6], "encoder produces the same bytes");
    }

    #[test]
    fn escapes_round_trip_whatever_the_chunking() {
        let payload: Vec<u8> = vec![0x01, FEND, FESC, TFEND, TFESC, FESC, FEND, 0xFF];
        let wire = encode(0x00, &payload);
        assert_eq!(&wire[..6], &[FEND, 0x00, 0x01, FESC, TFEND, FESC]);
        for split in 1..wire.len() {
            let mut decoder = Decoder::new(600);
            let mut frames = decoder.push(&wire[..split]);
            frames.extend(decoder.push(&wire[split..]));
            assert_eq!(frames, vec![Frame { cmd: 0, payload: payload.clone() }], "split at {split}");
        }
    }

    #[test]
    fn oversize_frames_and_broken_escapes_are_dropped_and_the_next_frame_survives() {
        let mut decoder = Decoder::new(4);
        let mut wire = encode(0x00, &[1, 2, 3, 4, 5, 6]);
        wire.extend_from_slice(&[FEND, 0x00, FESC, 0x41, 0x42, FEND]);
        wire.extend_from_slice(&encode(0x23, &[100]));
        let frames = decoder.push(&wire);
        assert_eq!(frames, vec![Frame { cmd: 0x23, payload: vec![100] }]);
        assert_eq!((decoder.counters.oversize, decoder.counters.bad_escape), (1, 1));
    }

    #[test]
    fn a_half_frame_is_abandoned_when_the_line_goes_quiet() {
        let mut decoder = Decoder::new(600);
        assert!(decoder.push(&[0x99, FEND, 0x00, 1, 2]).is_empty());
        assert_eq!(decoder.counters.noise_bytes, 1);
        assert!(decoder.in_frame());
        decoder.line_idle();
        assert_eq!(decoder.counters.abandoned, 1);
        assert_eq!(decoder.push(&[3, FEND]), vec![Frame { cmd: 3, payload: vec![] }], "resyncs");
    }

    #[test]
    fn random_bytes_never_panic_and_valid_frames_after_them_decode() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200 {
            let mut decoder = Decoder::new(508);
            let mut garbage = Vec::new();
            for _ in 0..2_000 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                // Bias towards the special bytes so escapes and delimiters are common.
                garbage.push(match rng % 8 {
                    0 => FEND,
                    1 => FESC,
                    2 => TFEND,
                    _ => (rng >> 24) as u8,
                });
            }
            for frame in decoder.push(&garbage) {
                assert!(frame.payload.len() <= 508);
            }
            decoder.line_idle();
            let good = encode(0x00, b"still decodes");
            let frames = decoder.push(&good);
            assert_eq!(frames.last(), Some(&Frame { cmd: 0, payload: b"still decodes".to_vec() }));
        }
    }
}
