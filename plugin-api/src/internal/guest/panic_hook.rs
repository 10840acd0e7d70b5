//! The SDK's panic hook: a plugin's panic is reported with its message and
//! where it was raised, and nothing else.
//!
//! Owns: the hook (installed once per plugin library, on the first call)
//! and the last panic's text, kept per thread until the runner (native) or
//! the host after the trap (wasm, through `weft_panic_message`) takes it.
//! Must not print a panic raised inside a call: the host logs the fault,
//! with this text, once. A panic outside a call (an author's unit test
//! failing an assertion next to a `ServiceHarness`, say) goes to the hook
//! that was there before, so it prints as usual.
//!
//! Why a hook of our own: on wasm the standard one's message is lost (panics
//! abort, and the host saw only "`unreachable` executed"); natively the
//! standard hook captures a backtrace when `RUST_BACKTRACE` is set, which
//! stalled the node for seconds while the plugin's symbols were resolved.

use std::cell::{Cell, RefCell};
use std::panic::PanicHookInfo;
use std::sync::Once;

/// Longest panic text kept, in bytes (cut on a character boundary).
pub const PANIC_TEXT_MAX: usize = 1024;

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    static IN_CALL: Cell<bool> = const { Cell::new(false) };
}

/// Installs the hook, once for the whole plugin library.
pub fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_CALL.try_with(Cell::get).unwrap_or(false) { record(info) } else { previous(info) }
        }));
    });
}

/// Runs `f` as one call of the plugin: a panic inside is recorded for
/// [`take`], not printed.
pub fn in_call<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = IN_CALL.try_with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(IN_CALL.try_with(|c| c.replace(true)).unwrap_or(false));
    f()
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
    fn a_panic_in_a_call_is_recorded_with_its_location_and_one_outside_goes_to_the_previous_hook() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static PREVIOUS: AtomicUsize = AtomicUsize::new(0);
        std::panic::set_hook(Box::new(|_| {
            PREVIOUS.fetch_add(1, Ordering::SeqCst);
        }));
        install();
        let caught = in_call(|| std::panic::catch_unwind(|| panic!("boom {}", 7)));
        assert!(caught.is_err());
        let text = take().expect("recorded");
        assert!(text.starts_with("boom 7 (at ") && text.contains("panic_hook.rs:"), "{text}");
        assert_eq!(take(), None, "taken once");
        let long = "é".repeat(PANIC_TEXT_MAX);
        let _ = in_call(|| std::panic::catch_unwind(move || panic!("{long}")));
        let text = take().expect("recorded");
        assert!(text.len() <= PANIC_TEXT_MAX && text.starts_with('é'), "{}", text.len());
        assert_eq!(PREVIOUS.load(Ordering::SeqCst), 0, "nothing printed for panics in calls");

        // A test's own assertion, outside any call: printed as usual.
        let _ = std::panic::catch_unwind(|| panic!("an author's failing assert"));
        assert_eq!((PREVIOUS.load(Ordering::SeqCst), take()), (1, None));
    }
}
