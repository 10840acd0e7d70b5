//! The SDK's panic hook: a plugin's panic is reported with its message and
//! where it was raised, and nothing else.
//!
//! Owns: the hook (installed once per plugin library, on the first call)
//! and the last panic's text, kept per thread until the runner (native) or
//! the host after the trap (wasm, through `weft_panic_message`) takes it.
//! Must not print: the host logs the fault, with this text, once.
//!
//! Why a hook of our own: on wasm the standard one's message is lost (panics
//! abort, and the host saw only "`unreachable` executed"); natively the
//! standard hook captures a backtrace when `RUST_BACKTRACE` is set, which
//! stalled the node for seconds while the plugin's symbols were resolved.

use std::cell::RefCell;
use std::panic::PanicHookInfo;
use std::sync::Once;

/// Longest panic text kept, in bytes (cut on a character boundary).
pub const PANIC_TEXT_MAX: usize = 1024;

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs the hook, once for the whole plugin library.
pub fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| std::panic::set_hook(Box::new(record)));
}

fn record(info: &PanicHookInfo<'_>) {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload");
    let mut text = match info.location() {
        Some(at) => format!("{message} (at {}:{}:{})", at.file(), at.line(), at.column()),
        None => message.to_string(),
    };
    if text.len() > PANIC_TEXT_MAX {
        let mut end = PANIC_TEXT_MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    // During thread teardown the slot may be gone; the text is then lost,
    // never a second panic.
    let _ = LAST_PANIC.try_with(|last| last.replace(Some(text)));
}

/// Takes the text of this thread's last panic, if one was recorded since
/// the last take.
pub fn take() -> Option<String> {
    LAST_PANIC.try_with(|last| last.borrow_mut().take()).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_recorded_with_its_location_and_taken_once() {
        install();
        let caught = std::panic::catch_unwind(|| panic!("boom {}", 7));
        assert!(caught.is_err());
        let text = take().expect("recorded");
        assert!(text.starts_with("boom 7 (at ") && text.contains("panic_hook.rs:"), "{text}");
        assert_eq!(take(), None, "taken once");
        let long = "é".repeat(PANIC_TEXT_MAX);
        let _ = std::panic::catch_unwind(move || panic!("{long}"));
        let text = take().expect("recorded");
        assert!(text.len() <= PANIC_TEXT_MAX && text.starts_with('é'), "{}", text.len());
    }
}
