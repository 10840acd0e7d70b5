//! Plugin manifests as the loader reads them from a plugin file:
//! `weft_host::plugin::wasm::manifest_section::read_manifest_section` on a
//! wasm file, then `weft_host::plugin::decode_manifest` on the section it
//! found (and on the input itself, as the bytes a native plugin's manifest
//! export returns).
//!
//! Properties: no panic; the section is a slice of the input; an accepted
//! manifest encodes to CBOR that decodes to the same manifest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use weft_host::plugin::decode_manifest;
use weft_host::plugin::wasm::manifest_section::read_manifest_section;
use weft_plugin_api::Manifest;
use weft_plugin_api::internal::codec;

fn check_manifest(bytes: &[u8]) {
    let Ok(manifest) = decode_manifest(Path::new("fuzz.wasm"), bytes) else { return };
    let encoded = codec::encode(&manifest).expect("an accepted manifest encodes");
    assert_eq!(codec::decode::<Manifest>(&encoded).as_ref(), Ok(&manifest));
    assert!(decode_manifest(Path::new("fuzz.wasm"), &encoded).is_ok(), "the re-encoded manifest is refused");
}

fuzz_target!(|data: &[u8]| {
    check_manifest(data);
    if let Ok(section) = read_manifest_section(data) {
        let range = data.as_ptr_range();
        assert!(range.start <= section.as_ptr() && section.as_ptr_range().end <= range.end);
        check_manifest(section);
    }
});
