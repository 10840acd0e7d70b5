//! The nodes one radio hears: a bounded table of verified neighbours.
//!
//! Owns: who is a neighbour on this radio (adopted only from a hello whose
//! signature held; used only once confirmed: a tagged frame from it proves
//! it heard our hello too, so links are two-way), each one's link key, short id, number (the router's
//! link id for it), the newest hello time taken from it (older or equal
//! ones are replays), when it was last heard (hellos and tagged unicasts
//! only: anyone can put a short id on a broadcast), signal and frame
//! counts. Must not: touch the air or the router; the link turns verdicts
//! into outputs.
//!
//! Bounds: at most `capacity` neighbours up at once (a further one is
//! refused, counted); neighbours that went quiet are kept, down, so their
//! last hello time still refuses replays, until room is needed (the one
//! heard longest ago goes first), at most `capacity` of them.

use super::super::frame::{NeighbourFilter, ShortId, VerifiedHello};
use crate::time::Micros;
use weft_plugin_api::Address;

/// The first confirm to a neighbour that has not confirmed us is repeated
/// after this long, µs; each later one waits twice as long.
pub const CONFIRM_FIRST_GAP_US: u64 = 2_000_000;

/// One node heard on this radio.
#[derive(Debug, Clone)]
pub(super) struct Neighbour {
    /// Its number on this radio (stable for its address while known).
    pub number: u32,
    pub address: Address,
    pub short: ShortId,
    /// The key tagging unicast frames between it and this node.
    pub key: [u8; 32],
    /// The newest hello time taken from it, Unix seconds.
    pub last_hello_s: u32,
    pub last_heard: Micros,
    /// Adopted and not timed out.
    pub up: bool,
    /// It proved it holds our hello (a tagged frame from it): the router
    /// knows it as reachable while it is up.
    pub confirmed: bool,
    /// When our confirm goes (again) while it has not confirmed us.
    pub confirm_at: Option<Micros>,
    /// Confirms sent since it was adopted.
    pub confirms_sent: u32,
    pub rssi_dbm: Option<i16>,
    pub snr_db: Option<f32>,
    pub frames_in: u64,
    pub frames_out: u64,
    /// The nodes it said it hears, in its last hello.
    pub hears: NeighbourFilter,
}

/// What a verified hello did to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Adopted {
    /// A neighbour was adopted (or came back) under this number: it is
    /// used once it confirms.
    Up(u32),
    /// A neighbour that was up is fresh again.
    Refreshed,
    /// Not newer than a hello taken before: a replay (or a copy).
    Replayed,
    /// A first hello whose time is too far from this node's clock.
    Skewed,
    /// Every place is taken by a neighbour that is up.
    Full,
    /// Another neighbour has the same short id (the first keeps it).
    ShortIdTaken,
    /// No link key with this node (a degenerate key).
    NoKey,
}

/// A neighbour as `weft ctl links` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NeighbourRow {
    /// Its number on this radio (the router's link is `radio#R.N`).
    pub number: u32,
    /// Its address (verified by its hello's signature).
    pub address: Address,
    /// Whether it counts as reachable (heard, and it confirmed it hears us).
    pub up: bool,
    /// Heard, but it has not yet shown that it hears us.
    pub unconfirmed: bool,
    /// Signal strength of its last frame, dBm.
    pub rssi_dbm: Option<i16>,
    /// Signal-to-noise ratio of its last frame, dB.
    pub snr_db: Option<f32>,
    /// Milliseconds since it was last heard (hello or tagged frame).
    pub last_heard_ms_ago: u64,
    /// Frames taken from it.
    pub frames_in: u64,
    /// Unicast frames sent to it.
    pub frames_out: u64,
}

/// The neighbour table of one radio.
#[derive(Debug)]
pub(super) struct Neighbours {
    list: Vec<Neighbour>,
    capacity: usize,
    next_number: u32,
}

impl Neighbours {
    /// An empty table for at most `capacity` neighbours up at once.
    pub fn new(capacity: usize) -> Neighbours {
        Neighbours { list: Vec::new(), capacity: capacity.max(1), next_number: 1 }
    }

    /// The neighbour that is up with short id `short`.
    pub fn up_by_short(&mut self, short: ShortId) -> Option<&mut Neighbour> {
        self.list.iter_mut().find(|n| n.up && n.short == short)
    }

    /// The neighbour that is up and confirmed with number `number`.
    pub fn usable_by_number(&mut self, number: u32) -> Option<&mut Neighbour> {
        self.list.iter_mut().find(|n| n.up && n.confirmed && n.number == number)
    }

    /// The neighbours that are up (confirmed or not).
    pub fn up(&self) -> impl Iterator<Item = &Neighbour> {
        self.list.iter().filter(|n| n.up)
    }

    /// The neighbours the router may use: up and confirmed.
    pub fn usable(&self) -> impl Iterator<Item = &Neighbour> {
        self.list.iter().filter(|n| n.up && n.confirmed)
    }

    /// Whether any neighbour is up and confirmed.
    pub fn any_usable(&self) -> bool {
        self.usable().next().is_some()
    }

    /// Neighbours whose confirm is due at `now`: their number, short id
    /// and key. Each next one waits twice as long, up to `max_gap_us`.
    pub fn confirms_due(&mut self, now: Micros, max_gap_us: u64) -> Vec<(ShortId, [u8; 32])> {
        let mut due = Vec::new();
        for n in self.list.iter_mut().filter(|n| n.up && !n.confirmed && n.confirm_at.is_some_and(|t| t <= now)) {
            due.push((n.short, n.key));
            let gap = CONFIRM_FIRST_GAP_US.saturating_mul(1 << n.confirms_sent.min(16)).min(max_gap_us);
            n.confirms_sent = n.confirms_sent.saturating_add(1);
            n.confirm_at = Some(now.after_us(gap));
        }
        due
    }

    /// A tagged frame from `short` proved it holds our hello: returns its
    /// number and address if that makes it usable just now.
    pub fn confirmed_by(&mut self, short: ShortId) -> Option<(u32, Address)> {
        let n = self.up_by_short(short)?;
        n.confirm_at = None;
        if std::mem::replace(&mut n.confirmed, true) {
            return None;
        }
        Some((n.number, n.address))
    }

    /// When the next confirm is due, if any.
    pub fn next_confirm(&self) -> Option<Micros> {
        self.up().filter(|n| !n.confirmed).filter_map(|n| n.confirm_at).min()
    }

    /// Takes a verified hello heard at `now` (this node's clock reading
    /// `wall_s`); `key` computes the link key for a node met for the first
    /// time.
    pub fn hello(
        &mut self,
        hello: &VerifiedHello,
        now: Micros,
        wall_s: u32,
        max_skew_s: u32,
        key: impl FnOnce() -> Option<[u8; 32]>,
    ) -> Adopted {
        if let Some(n) = self.list.iter_mut().find(|n| n.address == hello.address) {
            if hello.time_s <= n.last_hello_s {
                return Adopted::Replayed;
            }
            n.last_hello_s = hello.time_s;
            n.last_heard = now;
            n.hears = hello.neighbours;
            if n.up {
                if !n.confirmed {
                    // It may have missed our confirm: send it again now.
                    n.confirm_at = Some(now);
                }
                return Adopted::Refreshed;
            }
            let number = n.number;
            return self.bring_up(number);
        }
        if hello.time_s.abs_diff(wall_s) > max_skew_s {
            return Adopted::Skewed;
        }
        let short = ShortId::of(&hello.address);
        if self.list.iter().any(|n| n.short == short) {
            return Adopted::ShortIdTaken;
        }
        let Some(key) = key() else { return Adopted::NoKey };
        if self.up().count() >= self.capacity {
            return Adopted::Full;
        }
        self.make_room();
        let number = self.next_number;
        self.next_number = self.next_number.wrapping_add(1).max(1);
        self.list.push(Neighbour {
            number,
            address: hello.address,
            short,
            key,
            last_hello_s: hello.time_s,
            last_heard: now,
            up: true,
            confirmed: false,
            confirm_at: Some(now),
            confirms_sent: 0,
            rssi_dbm: None,
            snr_db: None,
            frames_in: 0,
            frames_out: 0,
            hears: hello.neighbours,
        });
        Adopted::Up(number)
    }

    fn bring_up(&mut self, number: u32) -> Adopted {
        if self.up().count() >= self.capacity {
            return Adopted::Full;
        }
        if let Some(n) = self.list.iter_mut().find(|n| n.number == number) {
            n.up = true;
            n.confirmed = false;
            n.confirm_at = Some(n.last_heard);
            n.confirms_sent = 0;
        }
        Adopted::Up(number)
    }

    /// Forgets the quiet neighbour heard longest ago while the table holds
    /// as many down as it may.
    fn make_room(&mut self) {
        while self.list.iter().filter(|n| !n.up).count() >= self.capacity {
            let Some(oldest) =
                self.list.iter().enumerate().filter(|(_, n)| !n.up).min_by_key(|(_, n)| n.last_heard).map(|(i, _)| i)
            else {
                return;
            };
            self.list.swap_remove(oldest);
        }
    }

    /// Neighbours not heard for `timeout_us` go down; returns those the
    /// router knew (confirmed ones).
    pub fn expire(&mut self, now: Micros, timeout_us: u64) -> Vec<(u32, Address)> {
        let mut gone = Vec::new();
        for n in self.list.iter_mut().filter(|n| n.up) {
            if now.us_since(n.last_heard) >= timeout_us {
                n.up = false;
                n.confirm_at = None;
                if std::mem::take(&mut n.confirmed) {
                    gone.push((n.number, n.address));
                }
            }
        }
        gone
    }

    /// When the next neighbour times out, if any is up.
    pub fn next_timeout(&self, timeout_us: u64) -> Option<Micros> {
        self.up().map(|n| n.last_heard.after_us(timeout_us)).min()
    }

    /// Rows for `weft ctl links`, by number.
    pub fn rows(&self, now: Micros) -> Vec<NeighbourRow> {
        let mut rows: Vec<NeighbourRow> = self
            .list
            .iter()
            .map(|n| NeighbourRow {
                number: n.number,
                address: n.address,
                up: n.up && n.confirmed,
                unconfirmed: n.up && !n.confirmed,
                rssi_dbm: n.rssi_dbm,
                snr_db: n.snr_db,
                last_heard_ms_ago: now.us_since(n.last_heard) / 1000,
                frames_in: n.frames_in,
                frames_out: n.frames_out,
            })
            .collect();
        rows.sort_by_key(|r| r.number);
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(n: u8, time_s: u32) -> VerifiedHello {
        let identity = crate::crypto::NodeIdentity::from_secret([n; 32]);
        let neighbours = NeighbourFilter::default();
        VerifiedHello { address: identity.address(), key: identity.public_key(), ask: false, time_s, neighbours }
    }

    const NOW_S: u32 = 1_800_000_000;

    #[test]
    fn confirms_repeat_with_backoff_until_the_neighbour_confirms() {
        let mut table = Neighbours::new(4);
        table.hello(&hello(1, NOW_S), Micros::ZERO, NOW_S, 60, || Some([1; 32]));
        let mut sent_at = Vec::new();
        for ms in (0..20_000).step_by(100) {
            let now = Micros::from_us(ms * 1000);
            if !table.confirms_due(now, 8_000_000).is_empty() {
                sent_at.push(ms);
            }
        }
        assert_eq!(sent_at, vec![0, 2_000, 6_000, 14_000], "at once, then 2, 4, 8 s later (capped)");
        table.confirmed_by(ShortId::of(&hello(1, 0).address));
        assert_eq!(table.next_confirm(), None);
    }

    #[test]
    fn a_neighbour_is_adopted_once_and_replays_are_refused() {
        let mut table = Neighbours::new(4);
        let t = Micros::ZERO;
        assert_eq!(table.hello(&hello(1, NOW_S), t, NOW_S, 60, || Some([1; 32])), Adopted::Up(1));
        assert_eq!(table.hello(&hello(1, NOW_S), t, NOW_S, 60, || Some([1; 32])), Adopted::Replayed);
        assert_eq!(table.hello(&hello(1, NOW_S - 5), t, NOW_S, 60, || Some([1; 32])), Adopted::Replayed);
        assert_eq!(table.hello(&hello(1, NOW_S + 1), t, NOW_S, 60, || Some([1; 32])), Adopted::Refreshed);
        assert_eq!(table.hello(&hello(2, NOW_S + 61), t, NOW_S, 60, || Some([2; 32])), Adopted::Skewed);
        assert_eq!(table.hello(&hello(2, NOW_S - 61), t, NOW_S, 60, || Some([2; 32])), Adopted::Skewed);
        assert_eq!(table.hello(&hello(2, NOW_S), t, NOW_S, 60, || None), Adopted::NoKey);
    }

    #[test]
    fn the_table_is_bounded_and_a_quiet_neighbour_keeps_its_number_and_its_replay_guard() {
        let mut table = Neighbours::new(2);
        let at = |s: u64| Micros::from_us(s * 1_000_000);
        assert_eq!(table.hello(&hello(1, NOW_S), at(0), NOW_S, 60, || Some([1; 32])), Adopted::Up(1));
        assert_eq!(table.hello(&hello(2, NOW_S), at(1), NOW_S, 60, || Some([2; 32])), Adopted::Up(2));
        assert_eq!(table.hello(&hello(3, NOW_S), at(2), NOW_S, 60, || Some([3; 32])), Adopted::Full);
        // Usable only once confirmed (a tagged frame from it).
        assert_eq!(table.usable().count(), 0);
        let one = ShortId::of(&hello(1, 0).address);
        assert_eq!(table.confirmed_by(one), Some((1, hello(1, 0).address)));
        assert_eq!(table.confirmed_by(one), None, "once");
        assert_eq!(table.usable().count(), 1);
        assert_eq!(table.expire(at(100), 100_000_000), vec![(1, hello(1, 0).address)]);
        assert_eq!(table.hello(&hello(1, NOW_S), at(101), NOW_S, 60, || Some([1; 32])), Adopted::Replayed);
        assert_eq!(table.hello(&hello(3, NOW_S), at(102), NOW_S, 60, || Some([3; 32])), Adopted::Up(3));
        assert_eq!(table.hello(&hello(1, NOW_S + 9), at(103), NOW_S, 60, || Some([1; 32])), Adopted::Full);
        table.expire(at(1000), 100_000_000);
        assert_eq!(table.hello(&hello(1, NOW_S + 10), at(1001), NOW_S, 60, || Some([1; 32])), Adopted::Up(1));
        assert!(table.list.len() <= 4, "at most capacity up and capacity down");
    }
}
