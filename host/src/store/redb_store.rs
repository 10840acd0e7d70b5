//! [`Store`]: redb behind the [`KvStore`] trait.

use crate::kv::{KvError, KvStore};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};
use weft_core::routing::pending::HoldChange;

/// Plugin key/value data: (plugin namespace, key) -> value.
const PLUGIN_KV: TableDefinition<(&str, &[u8]), &[u8]> = TableDefinition::new("plugin_kv");
/// Store-and-forward: key -> held packet record (see `routing::pending`).
const HELD: TableDefinition<u64, &[u8]> = TableDefinition::new("held_packets");

/// The store could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("store {path}: {message}")]
pub struct StoreError {
    /// The database file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// The node's database.
pub struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Opens (or creates) `<data_dir>/weft.redb`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join("weft.redb");
        let error = |message: String| StoreError { path: path.clone(), message };
        crate::files::private_dir(data_dir)
            .map_err(|e| error(format!("cannot create the data directory (mode 0700): {e}")))?;
        // Bookings with patients' contact details, held packets: owner only,
        // from the first byte.
        let db = {
            let _private = crate::files::PrivateUmask::set();
            Database::create(&path).map_err(|e| error(e.to_string()))?
        };
        crate::files::make_private(&path).map_err(|e| error(format!("cannot make it private (0600): {e}")))?;
        // Create the tables up front so readers never see "table missing".
        let txn = db.begin_write().map_err(|e| error(e.to_string()))?;
        txn.open_table(PLUGIN_KV).map_err(|e| error(e.to_string()))?;
        txn.open_table(HELD).map_err(|e| error(e.to_string()))?;
        txn.commit().map_err(|e| error(e.to_string()))?;
        Ok(Self { db, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies store-and-forward changes in one transaction.
    pub fn apply_held(&self, changes: &[HoldChange]) -> Result<(), KvError> {
        let txn = self.db.begin_write().map_err(KvError::backend)?;
        {
            let mut table = txn.open_table(HELD).map_err(KvError::backend)?;
            for change in changes {
                match change {
                    HoldChange::Put(held) => table.insert(held.key, held.record().as_slice()).map(|_| ()),
                    HoldChange::Delete(key) => table.remove(*key).map(|_| ()),
                }
                .map_err(KvError::backend)?;
            }
        }
        txn.commit().map_err(KvError::backend)
    }

    /// Every held packet record, by key.
    pub fn held(&self) -> Result<Vec<(u64, Vec<u8>)>, KvError> {
        let txn = self.db.begin_read().map_err(KvError::backend)?;
        let table = txn.open_table(HELD).map_err(KvError::backend)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(KvError::backend)? {
            let (key, value) = entry.map_err(KvError::backend)?;
            out.push((key.value(), value.value().to_vec()));
        }
        Ok(out)
    }
}

impl KvStore for Store {
    fn get(&self, namespace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        let txn = self.db.begin_read().map_err(KvError::backend)?;
        let table = txn.open_table(PLUGIN_KV).map_err(KvError::backend)?;
        let value = table.get((namespace, key)).map_err(KvError::backend)?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn usage(&self, namespace: &str) -> Result<u64, KvError> {
        let txn = self.db.begin_read().map_err(KvError::backend)?;
        let table = txn.open_table(PLUGIN_KV).map_err(KvError::backend)?;
        let mut total = 0u64;
        for entry in table.iter().map_err(KvError::backend)? {
            let (key, value) = entry.map_err(KvError::backend)?;
            let (ns, key) = key.value();
            if ns == namespace {
                total += (key.len() + value.value().len()) as u64;
            }
        }
        Ok(total)
    }

    fn keys(
        &self,
        namespace: &str,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, KvError> {
        let txn = self.db.begin_read().map_err(KvError::backend)?;
        let table = txn.open_table(PLUGIN_KV).map_err(KvError::backend)?;
        let start = after.unwrap_or(prefix);
        let mut out = Vec::new();
        for entry in table.range((namespace, start)..).map_err(KvError::backend)? {
            let (key, _) = entry.map_err(KvError::backend)?;
            let (ns, key) = key.value();
            if ns != namespace || (key > prefix && !key.starts_with(prefix)) {
                break;
            }
            if crate::kv::key_listed(key, prefix, after) {
                out.push(key.to_vec());
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn commit(&self, namespace: &str, writes: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<(), KvError> {
        let txn = self.db.begin_write().map_err(KvError::backend)?;
        {
            let mut table = txn.open_table(PLUGIN_KV).map_err(KvError::backend)?;
            for (key, value) in writes {
                match value {
                    Some(v) => table.insert((namespace, key.as_slice()), v.as_slice()).map(|_| ()),
                    None => table.remove((namespace, key.as_slice())).map(|_| ()),
                }
                .map_err(KvError::backend)?;
            }
        }
        txn.commit().map_err(KvError::backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_survive_reopening_and_namespaces_are_separate() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.commit("counter", &[(b"total".to_vec(), Some(b"42".to_vec())), (b"gone".to_vec(), None)]).unwrap();
            store.commit("echo", &[(b"total".to_vec(), Some(b"1".to_vec()))]).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.get("counter", b"total").unwrap(), Some(b"42".to_vec()));
        assert_eq!(store.get("echo", b"total").unwrap(), Some(b"1".to_vec()));
        store.commit("counter", &[(b"total".to_vec(), None)]).unwrap();
        assert_eq!(store.get("counter", b"total").unwrap(), None);
    }

    #[test]
    fn keys_are_listed_by_prefix_in_pages() {
        let dir = tempfile::tempdir().unwrap();
        crate::kv::tests::check_key_listing(&Store::open(dir.path()).unwrap());
    }

    #[test]
    fn held_packets_survive_reopening() {
        use weft_core::routing::pending::Held;
        let dir = tempfile::tempdir().unwrap();
        let held = |key| Held {
            key,
            destination: weft_plugin_api::Address([key as u8; 16]),
            expires: weft_core::time::UnixMillis::from_unix_ms(9),
            needs_seal: false,
            source: (key % 2 == 0).then_some(weft_plugin_api::Address([7; 16])),
            packet: vec![0x40, key as u8],
        };
        {
            let store = Store::open(dir.path()).unwrap();
            store.apply_held(&[HoldChange::Put(held(1)), HoldChange::Put(held(2)), HoldChange::Delete(1)]).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.held().unwrap(), vec![(2, held(2).record())]);
    }

    #[test]
    fn an_unusable_data_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let err = Store::open(&file).err().unwrap().to_string();
        assert!(err.contains("not-a-dir"), "{err}");
    }
}
