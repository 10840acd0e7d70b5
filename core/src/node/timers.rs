//! Plugin timers in virtual time (milliseconds), for the sans-IO core.

use super::plugin_id::PluginId;
use std::collections::{BTreeSet, HashMap};

/// Which plugin owns a timer, and the plugin's id for it.
pub type TimerKey = (PluginId, u64);

/// Armed timers ordered by deadline. Re-arming a timer replaces it.
#[derive(Debug, Default)]
pub struct Timers {
    by_deadline: BTreeSet<(u64, TimerKey)>,
    deadlines: HashMap<TimerKey, u64>,
}

impl Timers {
    /// Arms `key` to fire at `at_ms`.
    pub fn set(&mut self, key: TimerKey, at_ms: u64) {
        self.cancel(key);
        self.by_deadline.insert((at_ms, key));
        self.deadlines.insert(key, at_ms);
    }

    /// Disarms `key`.
    pub fn cancel(&mut self, key: TimerKey) {
        if let Some(at) = self.deadlines.remove(&key) {
            self.by_deadline.remove(&(at, key));
        }
    }

    /// Disarms every timer of `plugin`.
    pub fn cancel_plugin(&mut self, plugin: PluginId) {
        let keys: Vec<TimerKey> = self.deadlines.keys().filter(|(p, _)| *p == plugin).copied().collect();
        for key in keys {
            self.cancel(key);
        }
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<u64> {
        self.by_deadline.first().map(|(at, _)| *at)
    }

    /// Removes and returns the timers due at `now_ms`, earliest first.
    pub fn expire(&mut self, now_ms: u64) -> Vec<TimerKey> {
        let mut due = Vec::new();
        while let Some(&(at, key)) = self.by_deadline.first() {
            if at > now_ms {
                break;
            }
            self.by_deadline.pop_first();
            self.deadlines.remove(&key);
            due.push(key);
        }
        due
    }

    /// Armed timers.
    pub fn len(&self) -> usize {
        self.deadlines.len()
    }

    /// Whether no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.deadlines.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_fire_in_order_and_rearm_or_cancel_replace() {
        let mut t = Timers::default();
        t.set((PluginId::from_index(0), 1), 100);
        t.set((PluginId::from_index(1), 1), 50);
        t.set((PluginId::from_index(0), 2), 75);
        t.set((PluginId::from_index(0), 2), 200); // re-armed later
        t.cancel((PluginId::from_index(1), 1));
        assert_eq!(t.next_deadline(), Some(100));
        assert!(t.expire(99).is_empty());
        assert_eq!(t.expire(150), vec![(PluginId::from_index(0), 1)]);
        t.cancel_plugin(PluginId::from_index(0));
        assert!(t.is_empty());
    }
}
