//! Records the exact wasmtime version (from Cargo.lock) for the module cache key.

fn main() {
    let lock = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let version = std::fs::read_to_string(&lock)
        .ok()
        .and_then(|text| {
            let mut lines = text.lines();
            while let Some(line) = lines.next() {
                if line == "name = \"wasmtime\"" {
                    return lines
                        .next()
                        .and_then(|v| v.strip_prefix("version = \""))
                        .map(|v| v.trim_end_matches('"').to_string());
                }
            }
            None
        })
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=WEFT_WASMTIME_VERSION={version}");
}
