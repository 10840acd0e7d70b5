//! State blobs that say whose they are and in which format.
//!
//! Owns: [`StateBlob`], the check every plugin that hands state to its
//! successor needs: the blob decodes, was written by the same plugin (a
//! driver swap may replace one driver with another), and in a format this
//! build reads. A blob that fails any of these is refused with the reason,
//! and the successor starts fresh instead of misreading it.
//!
//! Must not: decide what a refused blob means for the plugin (it decides:
//! the drivers log it and start fresh).

use crate::codec;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A state type carrying its owner's name and its format in its own fields.
pub trait StateBlob: Serialize + DeserializeOwned {
    /// Who writes this kind of blob (the plugin's name, say).
    const OWNER: &'static str;
    /// The format this build writes and reads. Adding optional fields keeps
    /// the format; changing the meaning of one needs a new format.
    const FORMAT: u32;

    /// The owner and format recorded in this value.
    fn stamp(&self) -> (&str, u32);

    /// The blob. A value of plain fields always encodes; should one not,
    /// the blob is empty and the successor starts fresh.
    fn encode(&self) -> Vec<u8> {
        codec::encode(self).unwrap_or_default()
    }

    /// Reads a blob: `Ok(None)` when there is none (absent or empty),
    /// `Err` (why) when it is not usable.
    fn decode(blob: Option<&[u8]>) -> Result<Option<Self>, String> {
        let Some(bytes) = blob.filter(|b| !b.is_empty()) else { return Ok(None) };
        let value: Self = codec::decode(bytes).map_err(|e| format!("not a state blob: {e}"))?;
        let (owner, format) = value.stamp();
        if owner != Self::OWNER {
            return Err(format!("a state blob of {owner:?}, not of {}", Self::OWNER));
        }
        if format != Self::FORMAT {
            return Err(format!("state format {format} (this build reads {})", Self::FORMAT));
        }
        Ok(Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(default)]
    struct Blob {
        owner: String,
        format: u32,
        value: u64,
    }

    impl StateBlob for Blob {
        const OWNER: &'static str = "me";
        const FORMAT: u32 = 2;
        fn stamp(&self) -> (&str, u32) {
            (&self.owner, self.format)
        }
    }

    #[test]
    fn round_trips_and_refuses_other_owners_formats_and_garbage() {
        let mine = Blob { owner: "me".into(), format: 2, value: 7 };
        assert_eq!(Blob::decode(Some(&mine.encode())), Ok(Some(mine)));
        assert_eq!(Blob::decode(None), Ok(None));
        assert_eq!(Blob::decode(Some(&[])), Ok(None));
        let theirs = Blob { owner: "them".into(), format: 2, value: 7 };
        assert!(Blob::decode(Some(&theirs.encode())).unwrap_err().contains("\"them\""));
        let old = Blob { owner: "me".into(), format: 1, value: 7 };
        assert!(Blob::decode(Some(&old.encode())).unwrap_err().contains("state format 1"));
        assert!(Blob::decode(Some(b"garbage")).unwrap_err().contains("not a state blob"));
    }
}
