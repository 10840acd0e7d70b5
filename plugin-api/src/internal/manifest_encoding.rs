//! Compile-time CBOR encoding of a [`ManifestDef`].
//!
//! Owns: [`encoded_len`] and [`encode`], `const fn`s that produce exactly the
//! CBOR map ciborium produces for the equivalent [`crate::Manifest`] (same key
//! order, same minimal-length integers). The export macro places the bytes in
//! the `weft.manifest` wasm custom section and returns them from the native
//! root module, so the host reads the manifest of either binding without
//! running plugin code (wasm) or with one call (native).

use crate::manifest::{ManifestDef, PluginKind};
use crate::version::AbiVersion;

const MAJOR_UINT: u8 = 0;
const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
const MAJOR_MAP: u8 = 5;

/// A writer that either counts (`buf` empty) or writes.
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
    counting: bool,
}

impl Writer<'_> {
    const fn byte(&mut self, b: u8) {
        if !self.counting {
            self.buf[self.pos] = b;
        }
        self.pos += 1;
    }

    const fn head(&mut self, major: u8, value: u64) {
        let m = major << 5;
        if value < 24 {
            self.byte(m | value as u8);
        } else if value <= 0xff {
            self.byte(m | 24);
            self.byte(value as u8);
        } else if value <= 0xffff {
            self.byte(m | 25);
            self.byte((value >> 8) as u8);
            self.byte(value as u8);
        } else if value <= 0xffff_ffff {
            self.byte(m | 26);
            let mut shift = 24;
            loop {
                self.byte((value >> shift) as u8);
                if shift == 0 {
                    break;
                }
                shift -= 8;
            }
        } else {
            self.byte(m | 27);
            let mut shift = 56;
            loop {
                self.byte((value >> shift) as u8);
                if shift == 0 {
                    break;
                }
                shift -= 8;
            }
        }
    }

    const fn text(&mut self, s: &str) {
        let bytes = s.as_bytes();
        self.head(MAJOR_TEXT, bytes.len() as u64);
        let mut i = 0;
        while i < bytes.len() {
            self.byte(bytes[i]);
            i += 1;
        }
    }

    const fn uint(&mut self, v: u64) {
        self.head(MAJOR_UINT, v);
    }
}

const fn write_manifest(w: &mut Writer<'_>, def: &ManifestDef, kind: PluginKind, abi: AbiVersion) {
    w.head(MAJOR_MAP, 8);
    w.text("name");
    w.text(def.name);
    w.text("version");
    w.text(def.version);
    w.text("description");
    w.text(def.description);
    w.text("kind");
    w.text(kind.as_str());
    w.text("abi");
    w.head(MAJOR_MAP, 2);
    w.text("major");
    w.uint(abi.major as u64);
    w.text("minor");
    w.uint(abi.minor as u64);
    w.text("ports");
    w.head(MAJOR_ARRAY, def.ports.len() as u64);
    let mut i = 0;
    while i < def.ports.len() {
        w.uint(def.ports[i] as u64);
        i += 1;
    }
    w.text("permissions");
    w.head(MAJOR_ARRAY, def.permissions.len() as u64);
    let mut i = 0;
    while i < def.permissions.len() {
        w.text(def.permissions[i].as_str());
        i += 1;
    }
    w.text("commands");
    w.head(MAJOR_ARRAY, def.commands.len() as u64);
    let mut i = 0;
    while i < def.commands.len() {
        w.head(MAJOR_MAP, 2);
        w.text("name");
        w.text(def.commands[i].name);
        w.text("help");
        w.text(def.commands[i].help);
        i += 1;
    }
}

/// Number of bytes [`encode`] produces for these arguments.
pub const fn encoded_len(def: &ManifestDef, kind: PluginKind, abi: AbiVersion) -> usize {
    let mut w = Writer { buf: &mut [], pos: 0, counting: true };
    write_manifest(&mut w, def, kind, abi);
    w.pos
}

/// Encodes the manifest as CBOR. `N` must equal [`encoded_len`] for the same
/// arguments (a mismatch fails the build when used in a `const`/`static`).
pub const fn encode<const N: usize>(def: &ManifestDef, kind: PluginKind, abi: AbiVersion) -> [u8; N] {
    let mut buf = [0u8; N];
    let mut w = Writer { buf: &mut buf, pos: 0, counting: false };
    write_manifest(&mut w, def, kind, abi);
    assert!(w.pos == N, "manifest length mismatch");
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{CommandDef, Manifest};
    use crate::{Permission, codec};

    const DEF: ManifestDef = ManifestDef {
        name: "a-plugin-with-a-name-longer-than-twenty-four-bytes",
        version: "1.2.3",
        description: "test",
        ports: &[7, 300, 65535],
        permissions: &[Permission::Send, Permission::Storage],
        commands: &[CommandDef { name: "stats", help: "show counters" }],
    };
    const ABI: AbiVersion = AbiVersion::new(1, 300);
    const LEN: usize = encoded_len(&DEF, PluginKind::Service, ABI);
    static BYTES: [u8; LEN] = encode::<LEN>(&DEF, PluginKind::Service, ABI);

    #[test]
    fn const_encoding_equals_ciborium_encoding() {
        let manifest = DEF.to_manifest(PluginKind::Service, ABI);
        let via_serde = codec::encode(&manifest).unwrap();
        assert_eq!(&BYTES[..], &via_serde[..]);
        let decoded: Manifest = codec::decode(&BYTES).unwrap();
        assert_eq!(decoded, manifest);
    }

    #[test]
    fn large_integers_use_minimal_heads() {
        let mut buf = [0u8; 9];
        let mut w = Writer { buf: &mut buf, pos: 0, counting: false };
        w.uint(0x1_0000_0000);
        assert_eq!(buf, [0x1b, 0, 0, 0, 1, 0, 0, 0, 0]);
        let mut buf = [0u8; 5];
        let mut w = Writer { buf: &mut buf, pos: 0, counting: false };
        w.uint(70_000);
        assert_eq!(buf, [0x1a, 0, 1, 0x11, 0x70]);
    }
}
