//! Session messages on their last hop: the compact session frame
//! (`frame::session`, 0x34..0x37).
//!
//! Owns: when a routed packet goes as a compact frame (a session message,
//! routed kind 6, sent to the neighbour that is its destination, fitting
//! one frame) and putting the routed packet back together when one arrives
//! for this node. Must not: open or judge the sealed part (the router's
//! sessions do: a forged or replayed compact frame fails there and is
//! counted as unopenable or replayed).
//!
//! What it saves: the 16-byte destination (it is the frame's `to`), the
//! three routed header bytes, the 4-byte link tag (the session's AEAD
//! already proves the message end to end) and the counter's unused high
//! bytes: 35 bytes beyond the payload on air (with the RNode's header byte)
//! where the general unicast frame takes 61.

use super::super::frame::{self, ShortId};
use super::*;
use crate::routing::wire::{Body, Hops, Packet};

impl RadioLink {
    /// The compact frame carrying `packet` to the neighbour `to` (address
    /// `address`), or `None` when it must go as a general unicast: it is
    /// not a session message for that neighbour, or the compact frame would
    /// not fit one frame of `mtu` bytes.
    pub(super) fn last_hop_frame(&self, to: ShortId, address: &Address, packet: &[u8], mtu: usize) -> Option<Vec<u8>> {
        let Ok(Packet { body: Body::Session { destination, index, counter, sealed }, .. }) = Packet::decode(packet)
        else {
            return None;
        };
        if destination != *address {
            return None;
        }
        frame::session(to, self.short, index, counter, sealed).filter(|f| f.len() <= mtu)
    }

    /// A compact session frame arrived: if it is for this node from a
    /// confirmed neighbour, the routed packet it stands for, with this
    /// node as its destination, goes to the router as that neighbour's.
    /// It does not show the neighbour is still there (nothing on it proves
    /// who sent it until the session opens it).
    pub(super) fn last_hop_in(
        &mut self,
        received: LastHop<'_>,
        signal: Signal,
        now: Micros,
        out: &mut Vec<RadioOutput>,
    ) {
        if received.to != self.short {
            self.counters.overheard += 1;
            return;
        }
        if !self.confirmed_sender(received.from, now, out) {
            return;
        }
        let Some(number) = self.frame_from(received.from, signal) else { return };
        // One hop travelled, and it goes no further: it is for this node.
        let body = Body::Session {
            destination: self.own,
            index: received.index,
            counter: received.counter,
            sealed: received.sealed,
        };
        let packet = Packet { hops: Hops { count: 1, limit: 1 }, body }.encode();
        self.counters.packets_in += 1;
        self.counters.last_hop_in += 1;
        out.push(RadioOutput::Packet { neighbour: number, packet });
    }
}

/// The fields of a compact session frame as it arrived.
#[derive(Debug, Clone, Copy)]
pub(super) struct LastHop<'a> {
    pub to: ShortId,
    pub from: ShortId,
    pub index: u32,
    pub counter: u64,
    pub sealed: &'a [u8],
}
