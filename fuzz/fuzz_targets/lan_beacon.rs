//! LAN discovery beacons (`weft_host::discovery::beacon::Beacon::decode`):
//! any datagram on the multicast group reaches it.
//!
//! Properties: no panic; a decoded beacon encodes to exactly the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_host::discovery::beacon::Beacon;

fuzz_target!(|data: &[u8]| {
    if let Ok(beacon) = Beacon::decode(data) {
        assert_eq!(&beacon.encode()[..], data);
    }
});
