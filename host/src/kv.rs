//! Plugin key/value storage as the plugin runtime sees it.
//!
//! Owns: the [`KvStore`] trait (read for the `kv_get` host call, commit for
//! `Store` actions) and [`MemoryKv`], an in-memory implementation. Each plugin
//! has its own namespace, named after the plugin. The durable store (redb in
//! the data directory) implements the same trait in the node runtime.

use std::collections::BTreeMap;
use std::sync::RwLock;

/// Per-plugin key/value storage.
pub trait KvStore: Send + Sync {
    /// Reads `key` in `namespace`.
    fn get(&self, namespace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, String>;
    /// Applies a batch of writes (`None` deletes) atomically.
    fn commit(&self, namespace: &str, writes: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<(), String>;
    /// Bytes of keys and values stored in `namespace` (a scan; callers cache it).
    fn usage(&self, namespace: &str) -> Result<u64, String>;
}

/// `(namespace, key)`.
type NamespacedKey = (String, Vec<u8>);

/// An in-memory [`KvStore`]; contents are lost when the process exits.
#[derive(Default)]
pub struct MemoryKv {
    data: RwLock<BTreeMap<NamespacedKey, Vec<u8>>>,
}

impl KvStore for MemoryKv {
    fn get(&self, namespace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let data = self.data.read().map_err(|_| "kv lock poisoned".to_string())?;
        Ok(data.get(&(namespace.to_string(), key.to_vec())).cloned())
    }

    fn usage(&self, namespace: &str) -> Result<u64, String> {
        let data = self.data.read().map_err(|_| "kv lock poisoned".to_string())?;
        Ok(data.iter().filter(|((ns, _), _)| ns == namespace).map(|((_, k), v)| (k.len() + v.len()) as u64).sum())
    }

    fn commit(&self, namespace: &str, writes: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<(), String> {
        let mut data = self.data.write().map_err(|_| "kv lock poisoned".to_string())?;
        for (key, value) in writes {
            let k = (namespace.to_string(), key.clone());
            match value {
                Some(v) => data.insert(k, v.clone()),
                None => data.remove(&k),
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_separate_and_deletes_apply() {
        let kv = MemoryKv::default();
        kv.commit("a", &[(b"k".to_vec(), Some(b"1".to_vec()))]).unwrap();
        assert_eq!(kv.get("a", b"k").unwrap(), Some(b"1".to_vec()));
        assert_eq!(kv.get("b", b"k").unwrap(), None);
        kv.commit("a", &[(b"k".to_vec(), None)]).unwrap();
        assert_eq!(kv.get("a", b"k").unwrap(), None);
    }
}
