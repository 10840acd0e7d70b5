//! Fragmentation of routed packets over radio frames, and reassembly.
//!
//! Owns: splitting a packet larger than a link's frame MTU into numbered
//! fragments ([`fragment`]), and putting them back together
//! ([`Reassembler`]) with a timeout, so a lost fragment drops the whole
//! packet (counted) instead of delivering it corrupt. Sans-IO: the caller
//! passes time in microseconds.
//!
//! A packet that fits one frame crosses as it is: zero bytes of overhead.
//! Fragments live in the link-control space of the first byte (top two bits
//! `00`, see `docs/WIRE.md`), so they never look like a routed packet:
//!
//! ```text
//! 0010 nnnn | index u8 | id u8 | part of the packet
//!  nnnn = fragment count - 1 (1..=16 fragments), index 0..count-1,
//!  id    = per-link rolling packet number (groups the fragments)
//! ```

use crate::time::Micros;
use std::collections::HashMap;

/// Bytes of fragment header.
pub const HEADER: usize = 3;
/// Most fragments one packet may be cut into.
pub const MAX_FRAGMENTS: usize = 16;
const KIND: u8 = 0x20;
const KIND_MASK: u8 = 0xf0;

/// Whether a radio frame is a fragment (as opposed to a whole packet).
pub fn is_fragment(frame: &[u8]) -> bool {
    frame.first().is_some_and(|b| b & KIND_MASK == KIND)
}

/// The largest packet a link with frames of `mtu` bytes can carry.
pub fn max_packet(mtu: usize) -> usize {
    mtu.saturating_sub(HEADER) * MAX_FRAGMENTS
}

/// Why a packet cannot be sent over a link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FragmentError {
    /// Bigger than [`MAX_FRAGMENTS`] frames can carry.
    #[error("a {size}-byte packet needs more than {MAX_FRAGMENTS} frames of {mtu} bytes (limit {limit} bytes)")]
    TooLarge {
        /// Packet size.
        size: usize,
        /// Frame MTU.
        mtu: usize,
        /// The largest packet the link carries.
        limit: usize,
    },
    /// The link's frames cannot even hold a fragment header.
    #[error("a frame MTU of {0} bytes cannot carry fragments")]
    MtuTooSmall(usize),
}

/// Frames for `packet` on a link whose frames hold `mtu` bytes: the packet
/// itself when it fits, else fragments numbered under `id`.
pub fn fragment(packet: &[u8], mtu: usize, id: u8) -> Result<Vec<Vec<u8>>, FragmentError> {
    if packet.len() <= mtu {
        return Ok(vec![packet.to_vec()]);
    }
    if mtu <= HEADER {
        return Err(FragmentError::MtuTooSmall(mtu));
    }
    let room = mtu - HEADER;
    let count = packet.len().div_ceil(room);
    if count > MAX_FRAGMENTS {
        return Err(FragmentError::TooLarge { size: packet.len(), mtu, limit: max_packet(mtu) });
    }
    Ok(packet
        .chunks(room)
        .enumerate()
        .map(|(index, part)| {
            let mut frame = Vec::with_capacity(HEADER + part.len());
            frame.extend_from_slice(&[KIND | (count - 1) as u8, index as u8, id]);
            frame.extend_from_slice(part);
            frame
        })
        .collect())
}

/// Counters of a reassembler.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReassemblyCounters {
    /// Packets put back together.
    pub completed: u64,
    /// Packets dropped because a fragment never came.
    pub timed_out: u64,
    /// Fragments that made no sense (bad header, index past count, a count
    /// that disagrees with earlier fragments of the same id).
    pub malformed: u64,
    /// Fragments received twice.
    pub duplicates: u64,
    /// First fragments refused: [`MAX_PARTIAL`] packets were waiting.
    pub refused: u64,
}

/// Packets one link reassembles at once at most (from all senders).
pub const MAX_PARTIAL: usize = 64;

#[derive(Debug)]
struct Partial {
    parts: Vec<Option<Vec<u8>>>,
    have: usize,
    deadline: Micros,
}

/// Reassembles fragments from one link, each sender's apart.
#[derive(Debug)]
pub struct Reassembler {
    timeout_us: u64,
    partial: HashMap<(u32, u8), Partial>,
    /// What happened so far.
    pub counters: ReassemblyCounters,
}

impl Reassembler {
    /// A reassembler that gives up on a packet `timeout_us` after its first
    /// fragment arrived.
    pub fn new(timeout_us: u64) -> Self {
        Self { timeout_us, partial: HashMap::new(), counters: ReassemblyCounters::default() }
    }

    /// Takes one fragment frame from `sender` (any number naming it);
    /// returns the whole packet once its last missing fragment arrived.
    pub fn push(&mut self, sender: u32, frame: &[u8], now: Micros) -> Option<Vec<u8>> {
        self.expire(now);
        let Some((&[first, index, id], part)) = frame.split_first_chunk::<HEADER>() else {
            self.counters.malformed += 1;
            return None;
        };
        let count = usize::from(first & 0x0f) + 1;
        let index = usize::from(index);
        if first & KIND_MASK != KIND || index >= count || part.is_empty() {
            self.counters.malformed += 1;
            return None;
        }
        let timeout = self.timeout_us;
        let key = (sender, id);
        if !self.partial.contains_key(&key) && self.partial.len() >= MAX_PARTIAL {
            self.counters.refused += 1;
            return None;
        }
        let partial = self.partial.entry(key).or_insert_with(|| Partial {
            parts: vec![None; count],
            have: 0,
            deadline: now.after_us(timeout),
        });
        if partial.parts.len() != count {
            // The id was reused for another packet while fragments of the
            // old one were missing: the old one is lost.
            self.counters.malformed += 1;
            self.counters.timed_out += 1;
            *partial = Partial { parts: vec![None; count], have: 0, deadline: now.after_us(timeout) };
        }
        let slot = &mut partial.parts[index];
        if slot.is_some() {
            self.counters.duplicates += 1;
            return None;
        }
        *slot = Some(part.to_vec());
        partial.have += 1;
        if partial.have < count {
            return None;
        }
        let done = self.partial.remove(&key)?;
        self.counters.completed += 1;
        Some(done.parts.into_iter().flatten().flatten().collect())
    }

    /// Drops packets whose fragments did not all arrive in time.
    pub fn expire(&mut self, now: Micros) {
        let before = self.partial.len();
        self.partial.retain(|_, p| p.deadline > now);
        self.counters.timed_out += (before - self.partial.len()) as u64;
    }

    /// Packets waiting for fragments.
    pub fn waiting(&self) -> usize {
        self.partial.len()
    }

    /// When the oldest waiting packet times out, if any waits.
    pub fn next_deadline(&self) -> Option<Micros> {
        self.partial.values().map(|p| p.deadline).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(len: usize) -> Vec<u8> {
        // Starts like a routed v1 packet (top bits 01) and varies every byte.
        (0..len).map(|i| if i == 0 { 0x40 } else { (i * 7 + i / 255) as u8 }).collect()
    }

    #[test]
    fn a_packet_that_fits_crosses_as_it_is() {
        let p = packet(200);
        assert_eq!(fragment(&p, 255, 1), Ok(vec![p.clone()]));
        assert!(!is_fragment(&p));
    }

    #[test]
    fn two_kilobytes_over_255_byte_frames_arrive_intact() {
        let p = packet(2048);
        let frames = fragment(&p, 255, 9).unwrap();
        assert_eq!(frames.len(), 9, "252 bytes of packet per frame");
        assert!(frames.iter().all(|f| f.len() <= 255 && is_fragment(f)));
        let mut reassembler = Reassembler::new(10_000_000);
        let mut out = None;
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(out, None, "nothing before the last fragment");
            out = reassembler.push(1, f, Micros::from_us(i as u64 * 1_000));
        }
        assert_eq!(out, Some(p));
        assert_eq!(reassembler.counters.completed, 1);
        assert_eq!(reassembler.waiting(), 0);
    }

    #[test]
    fn fragments_in_any_order_and_duplicated_still_give_one_packet() {
        let p = packet(1000);
        let mut frames = fragment(&p, 255, 3).unwrap();
        frames.reverse();
        frames.insert(1, frames[0].clone());
        let mut reassembler = Reassembler::new(10_000_000);
        let out: Vec<Vec<u8>> = frames.iter().filter_map(|f| reassembler.push(1, f, Micros::ZERO)).collect();
        assert_eq!(out, vec![p]);
        assert_eq!(reassembler.counters.duplicates, 1);
    }

    #[test]
    fn a_lost_fragment_is_detected_and_nothing_corrupt_is_delivered() {
        let p = packet(2048);
        let frames = fragment(&p, 255, 4).unwrap();
        let mut reassembler = Reassembler::new(5_000_000);
        for (i, f) in frames.iter().enumerate() {
            if i != 5 {
                assert_eq!(reassembler.push(1, f, Micros::ZERO), None);
            }
        }
        assert_eq!(reassembler.next_deadline(), Some(Micros::from_us(5_000_000)));
        reassembler.expire(Micros::from_us(5_000_000));
        assert_eq!((reassembler.counters.timed_out, reassembler.waiting()), (1, 0));
        // The missing fragment arriving late starts a new packet, which
        // never completes: the stale parts are gone.
        assert_eq!(reassembler.push(1, &frames[5], Micros::from_us(5_000_001)), None);
        assert_eq!(reassembler.counters.completed, 0);
    }

    #[test]
    fn an_id_reused_with_another_count_drops_the_old_packet() {
        let old = fragment(&packet(1000), 255, 7).unwrap();
        let new_packet = packet(600);
        let new = fragment(&new_packet, 255, 7).unwrap();
        let mut reassembler = Reassembler::new(10_000_000);
        assert_eq!(reassembler.push(1, &old[0], Micros::ZERO), None);
        let out: Vec<Vec<u8>> = new.iter().filter_map(|f| reassembler.push(1, f, Micros::from_us(1))).collect();
        assert_eq!(out, vec![new_packet]);
        assert_eq!(reassembler.counters.timed_out, 1);
    }

    #[test]
    fn oversized_packets_and_tiny_mtus_are_errors() {
        assert_eq!(max_packet(255), 4032);
        assert!(matches!(fragment(&packet(4033), 255, 0), Err(FragmentError::TooLarge { limit: 4032, .. })));
        assert!(fragment(&packet(4032), 255, 0).is_ok());
        assert_eq!(fragment(&packet(10), 3, 0), Err(FragmentError::MtuTooSmall(3)));
    }

    #[test]
    fn garbage_never_panics_and_never_completes_a_packet_from_nothing() {
        let mut reassembler = Reassembler::new(1_000);
        let mut rng = 0x1234_5678u64;
        for round in 0..20_000u64 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let len = (rng % 12) as usize;
            let mut frame: Vec<u8> = (0..len).map(|i| (rng >> (i * 5)) as u8).collect();
            if let Some(b) = frame.first_mut() {
                *b = 0x20 | (*b & 0x0f); // mostly well-formed headers, random rest
            }
            if let Some(out) = reassembler.push(1, &frame, Micros::from_us(round)) {
                assert!(!out.is_empty());
            }
        }
        assert!(reassembler.counters.malformed > 0);
        assert!(reassembler.waiting() <= MAX_PARTIAL);
    }

    #[test]
    fn senders_reassemble_apart_even_with_the_same_id_and_partials_are_bounded() {
        let (p, q) = (packet(700), packet(900));
        let (fp, fq) = (fragment(&p, 255, 5).unwrap(), fragment(&q, 255, 5).unwrap());
        let mut reassembler = Reassembler::new(10_000_000);
        let mut out = Vec::new();
        for (a, b) in fp.iter().zip(&fq) {
            out.extend(reassembler.push(1, a, Micros::ZERO));
            out.extend(reassembler.push(2, b, Micros::ZERO));
        }
        out.extend(fq[fp.len()..].iter().filter_map(|f| reassembler.push(2, f, Micros::ZERO)));
        assert_eq!(out, vec![p, q]);
        for sender in 0..(MAX_PARTIAL as u32 + 10) {
            reassembler.push(sender, &fp[0], Micros::ZERO);
        }
        assert_eq!(reassembler.waiting(), MAX_PARTIAL);
        assert_eq!(reassembler.counters.refused, 10);
    }
}
