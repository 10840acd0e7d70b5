//! The receiver's replay window over one session's message counters.
//!
//! Owns: which counters a session has already opened. A counter is taken
//! once; one more than [`WINDOW`] below the highest seen is refused as too
//! old (it may be a replay nobody can tell apart). Reordering within the
//! window is fine, so lossy and multi-path delivery still open.
//! Must not: decrypt or decide anything else about a packet.

/// How far below the highest counter seen a late packet is still taken.
pub const WINDOW: u64 = 1024;
const WORDS: usize = (WINDOW / 64) as usize;

/// Counters seen, as a bitmap below the highest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayWindow {
    /// One more than the highest counter taken (0: none yet).
    top: u64,
    /// Bit `i` set: counter `top - 1 - i` was taken.
    bits: [u64; WORDS],
}

impl Default for ReplayWindow {
    fn default() -> Self {
        ReplayWindow { top: 0, bits: [0; WORDS] }
    }
}

impl ReplayWindow {
    /// Whether `counter` would be taken (not seen, not too old).
    pub fn fresh(&self, counter: u64) -> bool {
        if counter >= self.top {
            return true;
        }
        let age = self.top - 1 - counter;
        age < WINDOW && self.bits[(age / 64) as usize] & (1 << (age % 64)) == 0
    }

    /// Marks `counter` as taken. Call only after the packet opened (a
    /// forged counter must not move the window).
    pub fn take(&mut self, counter: u64) {
        if counter >= self.top {
            let shift = counter + 1 - self.top;
            self.shift_older(shift);
            self.top = counter.saturating_add(1);
            self.bits[0] |= 1;
        } else {
            let age = self.top - 1 - counter;
            if age < WINDOW {
                self.bits[(age / 64) as usize] |= 1 << (age % 64);
            }
        }
    }

    /// What an acknowledgement tells the sender: one more than the highest
    /// counter taken, and the window as 64-bit words (bit `i` of word `w`:
    /// counter `top - 1 - 64 * w - i` was taken), trailing words that are all
    /// taken left out. Counters that do not exist yet (below zero) count as
    /// taken, so an early window is short too.
    pub fn recent(&self) -> (u64, Vec<u64>) {
        let mut words: Vec<u64> = self
            .bits
            .iter()
            .enumerate()
            .map(|(w, &word)| {
                let first_age = w as u64 * 64;
                // Ages at or past `top` are counters below zero.
                let valid = self.top.saturating_sub(first_age).min(64);
                let missing = if valid == 64 { 0 } else { u64::MAX << valid };
                word | missing
            })
            .collect();
        while words.last() == Some(&u64::MAX) {
            words.pop();
        }
        (self.top, words)
    }

    fn shift_older(&mut self, by: u64) {
        if by >= WINDOW {
            self.bits = [0; WORDS];
            return;
        }
        let words = (by / 64) as usize;
        let bits = (by % 64) as u32;
        for j in (0..WORDS).rev() {
            let from = j.checked_sub(words).map_or(0, |i| self.bits[i]);
            let carry = match j.checked_sub(words + 1) {
                Some(i) if bits > 0 => self.bits[i] >> (64 - bits),
                _ => 0,
            };
            self.bits[j] = (from << bits) | carry;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_counter_is_taken_once_in_any_order_within_the_window() {
        let mut window = ReplayWindow::default();
        for counter in [5u64, 1, 3, 0, 2, 4, 700, 6, 699] {
            assert!(window.fresh(counter), "{counter} is new");
            window.take(counter);
            assert!(!window.fresh(counter), "{counter} is a replay now");
        }
        for counter in [0u64, 1, 2, 3, 4, 5, 6, 699, 700] {
            assert!(!window.fresh(counter), "{counter} stays refused");
        }
        assert!(window.fresh(698) && window.fresh(7));
    }

    #[test]
    fn counters_older_than_the_window_are_refused_and_a_big_jump_forgets_the_rest() {
        let mut window = ReplayWindow::default();
        window.take(10);
        window.take(10 + WINDOW);
        assert!(!window.fresh(10), "exactly WINDOW old");
        assert!(window.fresh(11), "inside the window, never seen");
        window.take(10 + 5 * WINDOW);
        assert!(!window.fresh(10 + WINDOW), "fell out of the window");
        assert!(window.fresh(10 + 5 * WINDOW - 1));
    }

    #[test]
    fn shifting_by_word_and_bit_keeps_every_seen_counter() {
        let mut window = ReplayWindow::default();
        let seen: Vec<u64> = (0..600).filter(|c| c % 7 == 0 || c % 13 == 0).collect();
        for &c in &seen {
            window.take(c);
        }
        for c in 0..600 {
            assert_eq!(window.fresh(c), !seen.contains(&c), "counter {c}");
        }
    }

    #[test]
    fn recent_leaves_out_what_is_all_taken_and_shows_the_holes() {
        let mut window = ReplayWindow::default();
        assert_eq!(window.recent(), (0, vec![]));
        for counter in 0..100 {
            window.take(counter);
        }
        assert_eq!(window.recent(), (100, vec![]), "nothing missing: no words");
        window.take(105);
        // 100..=104 missing: ages 1..=5 of top 106.
        assert_eq!(window.recent(), (106, vec![!0b11_1110]));
        window.take(102);
        assert_eq!(window.recent(), (106, vec![!0b11_0110]));
        for counter in 106..300 {
            window.take(counter);
        }
        let (top, words) = window.recent();
        assert_eq!(top, 300);
        assert_eq!(words.len(), 4, "the hole at age 195..199 is in the fourth word");
    }
}
