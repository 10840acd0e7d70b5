//! Held packets on their way to the store, written in batches.
//!
//! Owns: the store-and-forward changes one input caused, coalesced and
//! committed in one transaction when the input is done (at the top of the
//! event loop, and before a send is answered), instead of one synchronous
//! commit per held packet on the actor (issue 17, finding 6: 100,000 sends
//! to an unknown node held the actor for a minute). A packet held and then
//! pushed out by a cap within the same batch never reaches the disk.
//! Must not: decide what is held (the router's), or commit elsewhere than
//! through [`Store::apply_held`].

use crate::store::Store;
use std::collections::HashMap;
use weft_core::routing::pending::HoldChange;

/// The changes waiting for the next commit.
#[derive(Debug, Default)]
pub(super) struct HoldBatch {
    changes: Vec<Option<HoldChange>>,
    /// Key -> index in `changes` of a put not committed yet.
    puts: HashMap<u64, usize>,
}

impl HoldBatch {
    /// Adds one change; a delete of a put in the same batch cancels both.
    pub(super) fn push(&mut self, change: HoldChange) {
        match change {
            HoldChange::Put(held) => {
                self.puts.insert(held.key, self.changes.len());
                self.changes.push(Some(HoldChange::Put(held)));
            }
            HoldChange::Delete(key) => match self.puts.remove(&key) {
                Some(index) => self.changes[index] = None,
                None => self.changes.push(Some(HoldChange::Delete(key))),
            },
        }
    }

    /// Commits what is waiting, in one transaction. Returns how many changes
    /// reached the store.
    pub(super) fn flush(&mut self, store: &Store) -> usize {
        if self.changes.is_empty() {
            return 0;
        }
        let batch: Vec<HoldChange> = self.changes.drain(..).flatten().collect();
        self.puts.clear();
        if batch.is_empty() {
            return 0;
        }
        if let Err(e) = store.apply_held(&batch) {
            tracing::error!("store-and-forward write of {} changes failed: {e}", batch.len());
        }
        batch.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_core::routing::pending::Held;
    use weft_core::time::UnixMillis;
    use weft_plugin_api::Address;

    fn held(key: u64) -> Held {
        Held {
            key,
            destination: Address([1; 16]),
            expires: UnixMillis::from_unix_ms(9),
            needs_seal: false,
            source: None,
            packet: vec![0x40, key as u8],
        }
    }

    #[test]
    fn one_commit_per_batch_and_a_put_deleted_in_the_batch_never_reaches_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.apply_held(&[HoldChange::Put(held(1))]).unwrap();
        let mut batch = HoldBatch::default();
        batch.push(HoldChange::Put(held(2)));
        batch.push(HoldChange::Put(held(3)));
        batch.push(HoldChange::Delete(2)); // pushed out by a cap before the commit
        batch.push(HoldChange::Delete(1)); // committed earlier: deleted on disk
        assert_eq!(batch.flush(&store), 2, "put 3 and delete 1; put 2 and its delete cancel out");
        assert_eq!(store.held().unwrap(), vec![(3, held(3).record())]);
        assert_eq!(batch.flush(&store), 0, "nothing left");
    }
}
