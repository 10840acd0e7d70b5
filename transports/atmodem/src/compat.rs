//! RNode-compatible framing on air.
//!
//! Owns: the 1-byte header RNode firmware puts before every packet on air,
//! and joining the two halves of a packet an RNode split. The header is
//! `(random nibble << 4) | split flag`; packets of 255..=508 bytes go out as
//! two LoRa frames with the same header, split flag set, the first carrying
//! 254 bytes. So that RNodes on the channel understand this modem (and it
//! them), the driver prepends a header with the split flag clear to every
//! frame it sends (frames are at most 254 bytes, never split), strips it
//! from every frame it receives, and joins split halves: the first half is
//! held until a second with the same header arrives; a half with another
//! header replaces it; a lone half is never delivered.

/// The split flag in the header.
pub const SPLIT: u8 = 0x01;

/// A header for a new packet (split flag clear) from a random number.
pub fn header(random: u64) -> u8 {
    (random as u8) & 0xF0
}

/// Prepends `header` to `frame`.
pub fn wrap(header: u8, frame: &[u8]) -> Vec<u8> {
    let mut on_air = Vec::with_capacity(frame.len() + 1);
    on_air.push(header);
    on_air.extend_from_slice(frame);
    on_air
}

/// What a received frame came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unwrapped {
    /// A whole packet.
    Packet(Vec<u8>),
    /// The first half of a split packet, held.
    Held,
    /// Nothing to deliver (no payload after the header).
    Empty,
}

/// Reassembles split packets.
#[derive(Debug, Default)]
pub struct Joiner {
    held: Option<(u8, Vec<u8>)>,
    /// Packets joined from two halves.
    pub joined: u64,
    /// Halves dropped (replaced by another packet before their partner came).
    pub dropped_halves: u64,
}

impl Joiner {
    /// Takes one received frame, header included.
    pub fn push(&mut self, on_air: &[u8]) -> Unwrapped {
        let Some((&header, data)) = on_air.split_first() else { return Unwrapped::Empty };
        if header & SPLIT == 0 {
            if self.held.take().is_some() {
                self.dropped_halves += 1;
            }
            return if data.is_empty() { Unwrapped::Empty } else { Unwrapped::Packet(data.to_vec()) };
        }
        match self.held.take() {
            Some((held_header, mut first)) if held_header == header => {
                first.extend_from_slice(data);
                if first.is_empty() {
                    return Unwrapped::Empty;
                }
                self.joined += 1;
                Unwrapped::Packet(first)
            }
            other => {
                if other.is_some() {
                    self.dropped_halves += 1;
                }
                self.held = Some((header, data.to_vec()));
                Unwrapped::Held
            }
        }
    }

    /// Forgets a held half (the modem rebooted or the port closed).
    pub fn reset(&mut self) {
        if self.held.take().is_some() {
            self.dropped_halves += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_stripped_and_halves_joined() {
        let mut j = Joiner::default();
        assert_eq!(header(0xFFFF_FFFF_FFFF_FF37), 0x30);
        assert_eq!(j.push(&[0x30, 1, 2]), Unwrapped::Packet(vec![1, 2]));
        assert_eq!(j.push(&[0x30]), Unwrapped::Empty);
        assert_eq!(j.push(&[]), Unwrapped::Empty);
        let first: Vec<u8> = std::iter::once(0x51).chain(0..254).collect();
        assert_eq!(j.push(&first), Unwrapped::Held);
        match j.push(&[0x51, 7, 8]) {
            Unwrapped::Packet(p) => assert_eq!((p.len(), &p[252..]), (256, &[252, 253, 7, 8][..])),
            other => panic!("{other:?}"),
        }
        // A half with another header replaces the held one; a lone half is never delivered.
        assert_eq!(j.push(&[0x71, 1]), Unwrapped::Held);
        assert_eq!(j.push(&[0x91, 2]), Unwrapped::Held);
        assert_eq!(j.push(&[0x91, 3]), Unwrapped::Packet(vec![2, 3]));
        assert_eq!((j.joined, j.dropped_halves), (2, 1));
    }

    /// Found by the `atmodem_driver` fuzz target (reproducer in
    /// `fuzz/regressions/atmodem_driver/`): two halves with the split flag
    /// and no payload joined into an empty packet, which the driver then
    /// delivered as a received frame of 0 bytes. Like a lone header, it is
    /// nothing to deliver.
    #[test]
    fn two_empty_halves_are_nothing_to_deliver() {
        let mut j = Joiner::default();
        assert_eq!(j.push(&[0xF1]), Unwrapped::Held);
        assert_eq!(j.push(&[0xF1]), Unwrapped::Empty);
        assert_eq!(j.joined, 0);
        assert_eq!(j.push(&[0xF1]), Unwrapped::Held);
        assert_eq!(j.push(&[0xF1, 5]), Unwrapped::Packet(vec![5]));
    }
}
