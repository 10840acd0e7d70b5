//! Reads the `weft.manifest` custom section of a wasm file without compiling
//! or running anything.

use wasmparser::{Parser, Payload};
use weft_plugin_api::internal::MANIFEST_SECTION;

/// Why the manifest bytes could not be extracted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionError {
    /// Not a wasm core module at all.
    NotWasm(String),
    /// A wasm module without (or with several) manifest sections.
    Manifest(String),
}

/// Returns the bytes of the module's `weft.manifest` custom section.
pub fn read_manifest_section(bytes: &[u8]) -> Result<&[u8], SectionError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(SectionError::NotWasm("the file does not start with the \\0asm magic".into()));
    }
    if bytes[4..8] != [1, 0, 0, 0] {
        return Err(SectionError::NotWasm(
            "unsupported wasm encoding (a component or another version; Weft plugins are core modules)".into(),
        ));
    }
    let mut found: Option<&[u8]> = None;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| SectionError::NotWasm(e.to_string()))?;
        if let Payload::CustomSection(section) = payload
            && section.name() == MANIFEST_SECTION
        {
            if found.is_some() {
                return Err(SectionError::Manifest(format!("more than one `{MANIFEST_SECTION}` custom section")));
            }
            found = Some(section.data());
        }
    }
    found.ok_or_else(|| {
        SectionError::Manifest(format!(
            "no `{MANIFEST_SECTION}` custom section: not built with weft-plugin-api's export macro"
        ))
    })
}
