//! Hashing for keys that are already random: node addresses (hash outputs)
//! and random packet ids. SipHash buys nothing there and shows up in the
//! simulator's profile, so these maps fold the key's bytes instead. Not for
//! keys an attacker can choose freely to collide: addresses cost a key
//! pair each, and ids only ever collide with the sender's own.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Folds written bytes into 64 bits.
#[derive(Debug, Default, Clone, Copy)]
pub struct FoldHasher(u64);

impl Hasher for FoldHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(29) ^ u64::from_le_bytes(word)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0 ^ value).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_usize(&mut self, _length: usize) {
        // Only slice length prefixes come here; they are the same for every key.
    }
}

/// A map keyed by addresses or random ids.
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FoldHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use weft_plugin_api::Address;

    #[test]
    fn distinct_keys_stay_distinct() {
        let mut map: FastMap<Address, u8> = FastMap::default();
        for i in 0..=255u8 {
            map.insert(Address([i; 16]), i);
        }
        assert_eq!(map.len(), 256);
        assert_eq!(map.get(&Address([7; 16])), Some(&7));
        let mut ids: FastMap<u64, ()> = FastMap::default();
        ids.extend((0..1000u64).map(|i| (i << 40, ())));
        assert_eq!(ids.len(), 1000);
    }
}
