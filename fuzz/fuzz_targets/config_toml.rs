//! The node's TOML config (`weft_host::config::parse`, what `weft run` and
//! `weft config check` run on a file's text). The path is fixed and does
//! not exist, so files a config names are "missing" and nothing is read
//! or written.
//!
//! Properties: no panic; an error names the file, and its position (when
//! it has one) is inside the text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("/nonexistent/weft-fuzz/node.toml");
    match weft_host::config::parse(path, text) {
        Ok(config) => {
            assert_eq!(config.file, path);
            assert!(config.data_dir.is_absolute() && config.identity_file.is_absolute());
        }
        Err(e) => {
            assert_eq!(e.file, path);
            if let Some((line, column)) = e.position {
                assert!(line >= 1 && line <= text.matches('\n').count() + 1, "line {line} of {text:?}");
                assert!(column >= 1);
            }
            let _ = e.to_string();
        }
    }
});
