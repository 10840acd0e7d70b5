//! [`Runner`]: one plugin instance's state machine on the guest side.
//!
//! Owns: the instance state (`NotStarted` -> `Running` -> `Stopped`, or
//! `Poisoned` after a panic), decoding calls, catching panics and encoding
//! outcomes. Knows nothing about how the bytes travel.

use crate::call::{Call, Failure, FailureKind, Outcome};
use crate::codec;
use crate::ctx::Ctx;
use crate::guest::GuestPlugin;
use crate::internal::Host;
use std::panic::{AssertUnwindSafe, catch_unwind};

enum State<P> {
    NotStarted,
    Running(P),
    Stopped,
    Poisoned(String),
}

/// Drives one instance of `P` through its lifecycle, one call at a time.
pub struct Runner<P> {
    state: State<P>,
}

impl<P: GuestPlugin> Default for Runner<P> {
    fn default() -> Self {
        Self::new()
    }
}

fn failure(kind: FailureKind, message: impl Into<String>) -> Outcome {
    Outcome { failure: Some(Failure { kind, message: message.into() }), ..Outcome::default() }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

impl<P: GuestPlugin> Runner<P> {
    /// A runner whose instance has not been initialised yet.
    pub const fn new() -> Self {
        Self { state: State::NotStarted }
    }

    /// Handles one encoded [`Call`], writing the encoded [`Outcome`] to `out`
    /// (which is cleared first). Never panics across this function.
    pub fn handle(&mut self, input: &[u8], host: &mut dyn Host, out: &mut Vec<u8>) {
        crate::guest::panic_hook::install();
        out.clear();
        let outcome = match Call::decode(input) {
            Ok(call) => self.run(call, host),
            Err(e) => failure(FailureKind::BadCall, format!("undecodable call: {e}")),
        };
        // A handed-over state is the bulk of a shutdown's outcome: room for
        // it up front, instead of regrowing (and copying) the buffer.
        if let Some(state) = &outcome.state {
            out.reserve(state.len() + 64);
        }
        if let Err(e) = outcome.encode_into(out) {
            out.clear();
            let fallback = failure(FailureKind::Panicked, format!("outcome not encodable: {e}"));
            // A failure with a short message always encodes.
            let _ = codec::encode_into(&fallback, out);
        }
    }

    fn run(&mut self, call: Call, host: &mut dyn Host) -> Outcome {
        let mut ctx = Ctx::<P::Role>::new(host);
        let state = &mut self.state;
        let result =
            crate::guest::panic_hook::in_call(|| catch_unwind(AssertUnwindSafe(|| dispatch(state, call, &mut ctx))));
        match result {
            Ok(mut outcome) => {
                if outcome.failure.is_none() {
                    outcome.actions = ctx.take_actions();
                }
                outcome
            }
            Err(payload) => {
                // The hook's text has the location; the payload is the fallback
                // (a plugin that replaced the hook).
                let message = crate::guest::panic_hook::take().unwrap_or_else(|| panic_message(payload.as_ref()));
                self.state = State::Poisoned(message.clone());
                failure(FailureKind::Panicked, format!("plugin panicked: {message}"))
            }
        }
    }
}

fn dispatch<P: GuestPlugin>(state: &mut State<P>, call: Call, ctx: &mut Ctx<'_, P::Role>) -> Outcome {
    match (call, &mut *state) {
        (Call::Init(args), State::NotStarted) => match P::init(ctx, args) {
            Ok(plugin) => {
                *state = State::Running(plugin);
                Outcome::default()
            }
            Err(message) => failure(FailureKind::InitRefused, message),
        },
        (Call::Event(event), State::Running(plugin)) => {
            plugin.event(ctx, event);
            Outcome::default()
        }
        (Call::Shutdown(args), State::Running(plugin)) => {
            let blob = plugin.shutdown(ctx, args);
            *state = State::Stopped;
            Outcome { state: Some(blob), ..Outcome::default() }
        }
        (_, State::Poisoned(message)) => {
            failure(FailureKind::NotRunning, format!("instance poisoned by an earlier panic: {message}"))
        }
        (Call::Init(_), _) => failure(FailureKind::BadCall, "init called twice"),
        (Call::Unknown(tag), _) => failure(FailureKind::BadCall, format!("unknown call tag {tag}")),
        (_, State::NotStarted) => failure(FailureKind::NotRunning, "called before init"),
        (_, State::Stopped) => failure(FailureKind::NotRunning, "called after shutdown"),
    }
}
