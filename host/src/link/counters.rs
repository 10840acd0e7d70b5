//! Per-link counters, shared between a link's tasks and `weft ctl peers`.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters of one link. Updated lock-free by the link's reader and writer.
#[derive(Debug, Default)]
pub struct LinkCounters {
    /// Frames received and accepted.
    pub frames_in: AtomicU64,
    /// Frames written.
    pub frames_out: AtomicU64,
    /// Bytes received (stream and datagram payload, framing included).
    pub bytes_in: AtomicU64,
    /// Bytes written.
    pub bytes_out: AtomicU64,
    /// Frames over the size limit, skipped.
    pub dropped_oversize: AtomicU64,
    /// Frames that did not decode, dropped.
    pub dropped_undecodable: AtomicU64,
    /// Frames not queued because the link's send queue was full.
    pub dropped_congested: AtomicU64,
}

/// A point-in-time copy of [`LinkCounters`], for display.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[allow(missing_docs)]
pub struct CounterSnapshot {
    pub frames_in: u64,
    pub frames_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub dropped_oversize: u64,
    pub dropped_undecodable: u64,
    pub dropped_congested: u64,
}

impl LinkCounters {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// Reads all counters.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            frames_in: self.frames_in.load(Relaxed),
            frames_out: self.frames_out.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            dropped_oversize: self.dropped_oversize.load(Relaxed),
            dropped_undecodable: self.dropped_undecodable.load(Relaxed),
            dropped_congested: self.dropped_congested.load(Relaxed),
        }
    }
}
