//! A cursor over a byte slice that names the field it failed on.

/// Why bytes could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended while reading the named field.
    #[error("truncated while reading {0}")]
    Truncated(&'static str),
    /// The named field had an impossible value.
    #[error("bad {0}")]
    Bad(&'static str),
}

/// Reads fixed-width fields and varints from the front of a slice.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    /// `N` bytes.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or(DecodeError::Truncated(what))?;
        self.0 = rest;
        Ok(*head)
    }

    /// `len` bytes, borrowed.
    pub fn slice(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < len {
            return Err(DecodeError::Truncated(what));
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(head)
    }

    /// One byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A big-endian `u16`.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    /// A big-endian `u64`.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    /// A LEB128 varint.
    pub fn varint(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        match super::get_varint(self.0) {
            super::Varint::Value(v, used) => {
                self.0 = &self.0[used..];
                Ok(v)
            }
            super::Varint::Incomplete => Err(DecodeError::Truncated(what)),
            super::Varint::Overflow => Err(DecodeError::Bad(what)),
        }
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }

    /// Fails unless everything was read.
    pub fn end(&self) -> Result<(), DecodeError> {
        if self.0.is_empty() { Ok(()) } else { Err(DecodeError::Bad("trailing bytes")) }
    }
}
