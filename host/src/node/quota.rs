//! Storage quotas: how many bytes each plugin keeps in its key/value
//! namespace, and refusing a batch of writes that would exceed its grant.
//!
//! Owns: the per-namespace byte count (read from the store once, then kept
//! current from each committed batch; the node's actor is the only writer,
//! so the count stays exact). Must not: commit anything (the runtime does,
//! after [`QuotaBook::admit`] said yes).

use crate::kv::KvStore;
use std::collections::HashMap;

/// Bytes used per namespace.
#[derive(Debug, Default)]
pub struct QuotaBook {
    used: HashMap<String, u64>,
}

impl QuotaBook {
    /// Whether `writes` fit `namespace`'s `quota` (bytes of keys plus
    /// values). On yes the book counts them as committed.
    pub fn admit(
        &mut self,
        kv: &dyn KvStore,
        namespace: &str,
        quota: u64,
        writes: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> Result<(), String> {
        let used = match self.used.get(namespace) {
            Some(used) => *used,
            None => kv.usage(namespace).map_err(|e| e.to_string())?,
        };
        let mut projected = used as i128;
        for (key, value) in writes {
            if let Some(old) = kv.get(namespace, key).map_err(|e| e.to_string())? {
                projected -= (key.len() + old.len()) as i128;
            }
            if let Some(new) = value {
                projected += (key.len() + new.len()) as i128;
            }
        }
        let projected = projected.max(0) as u64;
        if projected > quota && projected > used {
            self.used.insert(namespace.to_string(), used);
            return Err(format!(
                "storage quota of {quota} bytes exceeded ({used} used, this batch would make {projected})"
            ));
        }
        self.used.insert(namespace.to_string(), projected);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::MemoryKv;

    #[test]
    fn a_batch_that_would_exceed_the_quota_is_refused_and_deletes_make_room() {
        let kv = MemoryKv::default();
        let mut book = QuotaBook::default();
        let write = |k: &str, v: usize| (k.as_bytes().to_vec(), Some(vec![0u8; v]));
        let batch = [write("a", 40), write("b", 40)];
        book.admit(&kv, "p", 100, &batch).expect("82 bytes fit 100");
        kv.commit("p", &batch).unwrap();
        let err = book.admit(&kv, "p", 100, &[write("c", 30)]).unwrap_err();
        assert!(err.contains("quota of 100 bytes"), "{err}");
        // Overwriting a key counts the difference; deleting frees its bytes.
        book.admit(&kv, "p", 100, &[write("a", 50)]).expect("92 bytes fit");
        kv.commit("p", &[write("a", 50)]).unwrap();
        let delete = [(b"b".to_vec(), None)];
        book.admit(&kv, "p", 100, &delete).expect("deleting always fits");
        kv.commit("p", &delete).unwrap();
        book.admit(&kv, "p", 100, &[write("c", 30)]).expect("room again");
    }
}
