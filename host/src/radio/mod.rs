//! Radio links, sans-IO parts: what the host does for every LoRa link
//! whatever the modem.
//!
//! Owns: the duty-cycle ledger per sub-band ([`duty_cycle`]), fragmentation
//! and reassembly of routed packets over radio frames ([`fragment`]) and the
//! prioritised, duty-cycle-gated transmit queue ([`tx_queue`]). Airtime
//! itself is computed by `weft_plugin_api::radio`, shared with driver
//! plugins and the virtual modem. Must not: open serial ports or speak a
//! modem's protocol (that is the driver plugin's job), or read a clock.

pub mod duty_cycle;
pub mod fragment;
pub mod link;
pub mod serial;
pub mod tx_queue;

#[cfg(test)]
mod link_timing_tests;
