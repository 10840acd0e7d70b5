//! Plugin key/value storage as the plugin runtime sees it.
//!
//! Owns: the [`KvStore`] trait (read for the `kv_get` host call, commit for
//! `Store` actions) and [`MemoryKv`], an in-memory implementation. Each plugin
//! has its own namespace, named after the plugin. The durable store (redb in
//! the data directory) implements the same trait in the node runtime.

use std::collections::BTreeMap;
use std::sync::RwLock;

/// Why a storage operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// A thread panicked while it held the in-memory store.
    #[error("the in-memory store is unusable: a writer panicked")]
    Poisoned,
    /// The durable store reported an error (disk, database).
    #[error("storage: {0}")]
    Backend(String),
}

impl KvError {
    /// A durable store's error.
    pub fn backend(error: impl std::fmt::Display) -> Self {
        KvError::Backend(error.to_string())
    }
}

/// Per-plugin key/value storage.
pub trait KvStore: Send + Sync {
    /// Reads `key` in `namespace`.
    fn get(&self, namespace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, KvError>;
    /// Applies a batch of writes (`None` deletes) atomically.
    fn commit(&self, namespace: &str, writes: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<(), KvError>;
    /// Bytes of keys and values stored in `namespace` (a scan; callers cache it).
    fn usage(&self, namespace: &str) -> Result<u64, KvError>;
    /// Up to `limit` keys of `namespace` that start with `prefix` and sort
    /// after `after` (when given), in byte order.
    fn keys(&self, namespace: &str, prefix: &[u8], after: Option<&[u8]>, limit: usize)
    -> Result<Vec<Vec<u8>>, KvError>;
}

/// Whether `key` is one [`KvStore::keys`] should list (shared by the stores).
pub fn key_listed(key: &[u8], prefix: &[u8], after: Option<&[u8]>) -> bool {
    key.starts_with(prefix) && after.is_none_or(|after| key > after)
}

/// `(namespace, key)`.
type NamespacedKey = (String, Vec<u8>);

/// An in-memory [`KvStore`]; contents are lost when the process exits.
#[derive(Default)]
pub struct MemoryKv {
    data: RwLock<BTreeMap<NamespacedKey, Vec<u8>>>,
}

impl KvStore for MemoryKv {
    fn get(&self, namespace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        let data = self.data.read().map_err(|_| KvError::Poisoned)?;
        Ok(data.get(&(namespace.to_string(), key.to_vec())).cloned())
    }

    fn usage(&self, namespace: &str) -> Result<u64, KvError> {
        let data = self.data.read().map_err(|_| KvError::Poisoned)?;
        Ok(data.iter().filter(|((ns, _), _)| ns == namespace).map(|((_, k), v)| (k.len() + v.len()) as u64).sum())
    }

    fn keys(
        &self,
        namespace: &str,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, KvError> {
        let data = self.data.read().map_err(|_| KvError::Poisoned)?;
        let start = (namespace.to_string(), after.map_or_else(|| prefix.to_vec(), <[u8]>::to_vec));
        Ok(data
            .range(start..)
            .take_while(|((ns, _), _)| ns == namespace)
            .map(|((_, key), _)| key)
            .skip_while(|key| !key_listed(key, prefix, after))
            .take_while(|key| key.starts_with(prefix))
            .take(limit)
            .cloned()
            .collect())
    }

    fn commit(&self, namespace: &str, writes: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<(), KvError> {
        let mut data = self.data.write().map_err(|_| KvError::Poisoned)?;
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
pub(crate) mod tests {
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

    /// The listing contract every store keeps (the redb store runs it too).
    pub(crate) fn check_key_listing(kv: &dyn KvStore) {
        let keys: Vec<&[u8]> = vec![b"n/1", b"n/2", b"n/3", b"m/1", b"n", b"o/1"];
        let writes: Vec<_> = keys.iter().map(|k| (k.to_vec(), Some(b"v".to_vec()))).collect();
        kv.commit("list", &writes).unwrap();
        kv.commit("other", &[(b"n/0".to_vec(), Some(b"v".to_vec()))]).unwrap();
        let list = |prefix: &[u8], after: Option<&[u8]>, limit| kv.keys("list", prefix, after, limit).unwrap();
        assert_eq!(list(b"n/", None, 10), vec![b"n/1".to_vec(), b"n/2".to_vec(), b"n/3".to_vec()]);
        assert_eq!(list(b"n/", None, 2), vec![b"n/1".to_vec(), b"n/2".to_vec()]);
        assert_eq!(list(b"n/", Some(b"n/2"), 10), vec![b"n/3".to_vec()]);
        assert_eq!(list(b"n/", Some(b"n/3"), 10), Vec::<Vec<u8>>::new());
        assert_eq!(list(b"", None, 100).len(), 6, "all of this namespace and none of another");
        assert_eq!(list(b"", Some(b"n/3"), 100), vec![b"o/1".to_vec()]);
        assert_eq!(list(b"p", None, 10), Vec::<Vec<u8>>::new());
        assert_eq!(kv.keys("none", b"", None, 10).unwrap(), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn keys_are_listed_by_prefix_in_pages() {
        check_key_listing(&MemoryKv::default());
    }
}
