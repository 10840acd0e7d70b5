//! `weft plugin inspect FILE [--trust]`: what a plugin is. A wasm module's
//! manifest is read from its custom section: no code runs. A native
//! library's manifest can only be read by loading the library, which runs
//! its constructors with the caller's privileges, so that needs `--trust`
//! (without it the command says so and refuses).

use crate::plugin::{Binding, PluginInfo, PluginRuntime, RuntimeOptions};
use std::path::Path;
use weft_plugin_api::ABI_VERSION;

fn list<T: ToString>(items: &[T]) -> String {
    if items.is_empty() { "(none)".into() } else { items.iter().map(T::to_string).collect::<Vec<_>>().join(", ") }
}

/// Renders the text form.
pub fn render_text(info: &PluginInfo) -> String {
    let m = &info.manifest;
    let binding = match info.binding {
        Binding::Wasm => "wasm (sandboxed)",
        Binding::Native => "native (trusted: runs with the node's full privileges)",
    };
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<12} {v}\n"));
    line("file", info.path.display().to_string());
    line("name", m.name.clone());
    line("version", m.version.clone());
    line("description", m.description.clone());
    line("kind", m.kind.to_string());
    line("binding", binding.into());
    line("abi", format!("{} (this host: {ABI_VERSION}, compatible)", m.abi));
    line("ports", list(&m.ports));
    line("permissions", list(&m.permissions));
    let commands: Vec<String> = m.commands.iter().map(|c| format!("{} ({})", c.name, c.help)).collect();
    line("commands", list(&commands));
    line("size", format!("{} bytes", info.file_size));
    line("sha256", info.sha256.clone());
    out
}

/// Renders the JSON form.
pub fn render_json(info: &PluginInfo) -> String {
    let m = &info.manifest;
    let value = serde_json::json!({
        "file": info.path.display().to_string(),
        "name": m.name,
        "version": m.version,
        "description": m.description,
        "kind": m.kind.as_str(),
        "binding": match info.binding { Binding::Wasm => "wasm", Binding::Native => "native" },
        "trusted": info.binding == Binding::Native,
        "abi": m.abi.to_string(),
        "host_abi": ABI_VERSION.to_string(),
        "ports": m.ports,
        "permissions": m.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        "commands": m.commands.iter().map(|c| serde_json::json!({"name": c.name, "help": c.help})).collect::<Vec<_>>(),
        "size": info.file_size,
        "sha256": info.sha256,
    });
    value.to_string()
}

/// Runs the command.
pub fn run(file: &Path, json: bool, trust: bool) -> Result<(), String> {
    if crate::plugin::binding_for(file).map_err(|e| e.to_string())? == Binding::Native && !trust {
        return Err(format!(
            "{}: a native library's manifest can only be read by loading it, which runs its code with your \
             privileges; pass --trust if you trust this file (wasm plugins are inspected without running anything)",
            file.display()
        ));
    }
    let scratch = std::env::temp_dir().join(format!("weft-inspect-{}", std::process::id()));
    let runtime = PluginRuntime::new(RuntimeOptions { module_cache: None, native_copies: scratch.clone() })
        .map_err(|e| e.to_string())?;
    let result = runtime.inspect(file);
    let _ = std::fs::remove_dir_all(&scratch);
    let info = result.map_err(|e| e.to_string())?;
    if json {
        println!("{}", render_json(&info));
    } else {
        print!("{}", render_text(&info));
    }
    Ok(())
}
