//! Radio links: what the host does for every LoRa link whatever the modem.
//!
//! Owns, sans-IO: the duty-cycle ledger per sub-band ([`duty_cycle`]),
//! fragmentation and reassembly of routed packets over radio frames
//! ([`fragment`]), the frames on the air (hellos, unicast and broadcast
//! frames, [`frame`]), the prioritised, duty-cycle-gated transmit queue
//! ([`tx_queue`]), and one link tying them together between the router and
//! the driver plugin ([`link`]: hellos, neighbours, health, the driver's
//! timers and swaps). Nothing here opens a port or reads a clock: the
//! serial port is `weft-host`'s (`serial`). Airtime itself is computed by
//! `weft_plugin_api::radio`, shared with driver plugins and the virtual
//! modem. Must not: speak a modem's protocol (that is the driver plugin's
//! job).

pub mod duty_cycle;
pub mod fragment;
pub mod frame;
pub mod link;
pub mod tx_queue;

#[cfg(test)]
mod link_timing_tests;
#[cfg(test)]
mod test_support;
