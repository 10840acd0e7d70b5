//! The node's embedded, transactional store (redb) in the data directory.
//!
//! Owns: the database file `<data_dir>/weft.redb` and its two tables, both
//! created when the store is opened:
//!
//! - `plugin_kv`: key (namespace, key bytes), value bytes. [`Store`]
//!   implements [`crate::kv::KvStore`] over it: one transaction per batch of
//!   writes, and the bytes used per namespace (for storage quotas). A
//!   plugin's namespace is its manifest name. The node keeps its own data
//!   there under two namespaces of its own: `weft:state` (key: plugin name;
//!   value: the state blob a plugin returned when it was stopped, cleared
//!   once a later start restored it) and `weft:routing` (key `announces`:
//!   the known nodes' announces, written when the node stops).
//! - `held_packets`: store-and-forward. Key: the held packet's `u64` key;
//!   value: its record, `expires (unix ms) u64 BE | flags u8 | destination
//!   (16) | packet` (format in `routing::pending`). Changes are applied in
//!   one transaction ([`Store::apply_held`]) and read back at start
//!   ([`Store::held`]).

mod redb_store;

pub use redb_store::{Store, StoreError};
