//! Splitting the serial byte stream into lines.
//!
//! Owns: [`LineReader`]. Lines end with `\r\n` (a bare `\n` is accepted);
//! empty lines are skipped; a line longer than [`MAX_LINE`] bytes is counted
//! and discarded up to its end, so noise without line ends cannot grow a
//! buffer without bound. Bytes that are not UTF-8 are replaced, not fatal.

/// Longest line kept, bytes (a received 255-byte packet in hex is about 530).
pub const MAX_LINE: usize = 600;

/// Accumulates serial bytes into lines.
#[derive(Debug, Default)]
pub struct LineReader {
    buffer: Vec<u8>,
    /// Inside a line that was too long: skip to its end.
    discarding: bool,
    /// Lines discarded for their length.
    pub overlong: u64,
}

impl LineReader {
    /// Feeds bytes; returns the lines they completed, without line ends.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                if !self.discarding {
                    let line = String::from_utf8_lossy(&self.buffer);
                    let line = line.trim();
                    if !line.is_empty() {
                        lines.push(line.to_string());
                    }
                }
                self.buffer.clear();
                self.discarding = false;
            } else if self.discarding {
                // skipping the rest of an overlong line
            } else if self.buffer.len() >= MAX_LINE {
                self.overlong += 1;
                self.discarding = true;
                self.buffer.clear();
            } else {
                self.buffer.push(b);
            }
        }
        lines
    }

    /// Drops a partial line (the port closed: what follows is a new stream).
    pub fn reset(&mut self) {
        self.buffer.clear();
        self.discarding = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_crlf_and_lf_skips_empty_and_caps_length() {
        let mut r = LineReader::default();
        assert_eq!(r.push(b"OK\r\n\r\nAT_ERR"), vec!["OK"]);
        assert_eq!(r.push(b"OR\nx"), vec!["AT_ERROR"]);
        let mut long = vec![b'A'; MAX_LINE + 10];
        long.extend_from_slice(b"\r\nOK\r\n");
        assert_eq!(r.push(&long), vec!["OK"], "the partial 'x' went with the overlong line");
        assert_eq!(r.overlong, 1);
        assert_eq!(r.push(&[0xFF, b'O', b'K', b'\n']), vec!["\u{FFFD}OK"]);
    }
}
