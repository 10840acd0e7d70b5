//! Timer ids: one `u64` carries the kind (top 16 bits) and a value.
//!
//! Owns: the kinds and [`id`] / [`split`]. Plugins choose their own timer
//! ids; packing a kind and a number into one keeps every timer of the plugin
//! distinct without a table.

/// Re-sign the therapist's announce (value 0).
pub const REPUBLISH: u64 = 1;
/// Purge lapsed relay entries (value 0).
pub const SWEEP: u64 = 2;
/// A query's collection window closed (value: query id).
pub const QUERY: u64 = 3;
/// A reservation's command waited long enough (value: local number).
pub const RESERVE_WAIT: u64 = 4;
/// A reservation's answer can no longer come (value: local number).
pub const RESERVE_GIVE_UP: u64 = 5;
/// A manual reservation waited too long for the operator (value: number).
pub const PENDING: u64 = 6;

/// The id of timer `kind` for `value` (< 2^48).
pub fn id(kind: u64, value: u64) -> u64 {
    (kind << 48) | (value & ((1 << 48) - 1))
}

/// (kind, value) of a timer id.
pub fn split(id: u64) -> (u64, u64) {
    (id >> 48, id & ((1 << 48) - 1))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_round_trip() {
        assert_eq!(super::split(super::id(super::QUERY, 0xdead_beef)), (3, 0xdead_beef));
        assert_eq!(super::split(super::id(super::REPUBLISH, 0)), (1, 0));
    }
}
