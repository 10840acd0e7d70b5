//! Plugin timers in virtual time (milliseconds), for the sans-IO core.

use super::plugin_id::PluginId;
use crate::time::Millis;
use std::collections::{BTreeSet, HashMap};

/// A plugin timer: the plugin that owns it and the plugin's id for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerKey {
    /// The owner.
    pub plugin: PluginId,
    /// The plugin's own id for the timer.
    pub id: u64,
}

/// Armed timers ordered by deadline. Re-arming a timer replaces it.
#[derive(Debug, Default)]
pub struct Timers {
    by_deadline: BTreeSet<(Millis, TimerKey)>,
    deadlines: HashMap<TimerKey, Millis>,
}

impl Timers {
    /// Arms `key` to fire at `at`.
    pub fn set(&mut self, key: TimerKey, at: Millis) {
        self.cancel(key);
        self.by_deadline.insert((at, key));
        self.deadlines.insert(key, at);
    }

    /// Disarms `key`.
    pub fn cancel(&mut self, key: TimerKey) {
        if let Some(at) = self.deadlines.remove(&key) {
            self.by_deadline.remove(&(at, key));
        }
    }

    /// Disarms every timer of `plugin`.
    pub fn cancel_plugin(&mut self, plugin: PluginId) {
        let keys: Vec<TimerKey> = self.deadlines.keys().filter(|k| k.plugin == plugin).copied().collect();
        for key in keys {
            self.cancel(key);
        }
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.by_deadline.first().map(|(at, _)| *at)
    }

    /// Removes and returns the timers due at `now`, earliest first.
    pub fn expire(&mut self, now: Millis) -> Vec<TimerKey> {
        let mut due = Vec::new();
        while let Some(&(at, key)) = self.by_deadline.first() {
            if at > now {
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
        t.set(TimerKey { plugin: PluginId::from_index(0), id: 1 }, Millis::from_ms(100));
        t.set(TimerKey { plugin: PluginId::from_index(1), id: 1 }, Millis::from_ms(50));
        t.set(TimerKey { plugin: PluginId::from_index(0), id: 2 }, Millis::from_ms(75));
        t.set(TimerKey { plugin: PluginId::from_index(0), id: 2 }, Millis::from_ms(200)); // re-armed later
        t.cancel(TimerKey { plugin: PluginId::from_index(1), id: 1 });
        assert_eq!(t.next_deadline(), Some(Millis::from_ms(100)));
        assert!(t.expire(Millis::from_ms(99)).is_empty());
        assert_eq!(t.expire(Millis::from_ms(150)), vec![TimerKey { plugin: PluginId::from_index(0), id: 1 }]);
        t.cancel_plugin(PluginId::from_index(0));
        assert!(t.is_empty());
    }
}
