//! The node's embedded, transactional store (redb) in the data directory.
//!
//! Owns: the database file `<data_dir>/weft.redb` and its tables. Today it
//! holds per-plugin key/value data ([`crate::kv::KvStore`]); store-and-forward,
//! routing snapshots and MLS state join it as further tables, so everything
//! that must survive a restart commits through one transactional engine.

mod redb_store;

pub use redb_store::{Store, StoreError};
