//! The wasm epoch's unit of time, shared by the runtime (which advances
//! it) and instances (which turn deadlines into epochs).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// How often the epoch advances; deadlines are rounded up to this.
pub const EPOCH_TICK: Duration = Duration::from_millis(2);

/// A coarse monotonic clock: the number of [`EPOCH_TICK`]s since the runtime
/// started, advanced by the same thread as the wasm epoch. Reading it is one
/// atomic load, which is what the native binding's per-call overrun check
/// can afford (a `clock_gettime` pair cost ~10 % of a native dispatch).
pub type Ticks = Arc<AtomicU64>;
