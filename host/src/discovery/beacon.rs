//! The LAN discovery beacon: "node X accepts QUIC on port P at my address".
//!
//! ```text
//! "WEFT" | version u8 (1) | node address (16) | QUIC port u16 BE     = 23 bytes
//! ```
//! A beacon is a hint, not a proof: the dialer still checks the node's key
//! in the TLS handshake, so a forged beacon only costs a failed dial.

use weft_plugin_api::Address;

const MAGIC: &[u8; 4] = b"WEFT";
const VERSION: u8 = 1;
/// Encoded size.
pub const BEACON_LEN: usize = 23;

/// A decoded beacon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beacon {
    /// The announcing node.
    pub node: Address,
    /// Its QUIC port (the IP is the datagram's source).
    pub quic_port: u16,
}

/// Why a datagram is not a beacon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BeaconError {
    /// Wrong size.
    #[error("beacon of {0} bytes, expected {BEACON_LEN}")]
    Length(usize),
    /// Not starting with "WEFT".
    #[error("not a Weft beacon")]
    Magic,
    /// A beacon version this node does not know.
    #[error("beacon version {0} is not supported")]
    Version(u8),
    /// Port 0.
    #[error("beacon with port 0")]
    Port,
}

impl Beacon {
    /// The wire form.
    pub fn encode(&self) -> [u8; BEACON_LEN] {
        let mut out = [0u8; BEACON_LEN];
        out[..4].copy_from_slice(MAGIC);
        out[4] = VERSION;
        out[5..21].copy_from_slice(self.node.as_bytes());
        out[21..].copy_from_slice(&self.quic_port.to_be_bytes());
        out
    }

    /// Parses a received datagram.
    pub fn decode(bytes: &[u8]) -> Result<Beacon, BeaconError> {
        let bytes: &[u8; BEACON_LEN] = bytes.try_into().map_err(|_| BeaconError::Length(bytes.len()))?;
        if &bytes[..4] != MAGIC {
            return Err(BeaconError::Magic);
        }
        if bytes[4] != VERSION {
            return Err(BeaconError::Version(bytes[4]));
        }
        let mut node = [0u8; 16];
        node.copy_from_slice(&bytes[5..21]);
        let quic_port = u16::from_be_bytes([bytes[21], bytes[22]]);
        if quic_port == 0 {
            return Err(BeaconError::Port);
        }
        Ok(Beacon { node: Address(node), quic_port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beacons_round_trip_and_anything_else_is_rejected() {
        let beacon = Beacon { node: Address([7; 16]), quic_port: 4433 };
        assert_eq!(Beacon::decode(&beacon.encode()), Ok(beacon));
        let mut bytes = beacon.encode();
        assert_eq!(Beacon::decode(&bytes[..22]), Err(BeaconError::Length(22)));
        bytes[4] = 2;
        assert_eq!(Beacon::decode(&bytes), Err(BeaconError::Version(2)));
        bytes[0] = b'X';
        assert_eq!(Beacon::decode(&bytes), Err(BeaconError::Magic));
        let zero = Beacon { node: Address([7; 16]), quic_port: 0 }.encode();
        assert_eq!(Beacon::decode(&zero), Err(BeaconError::Port));
    }
}
