//! The thread a native instance's calls run on, so that a call past its
//! deadline can be abandoned instead of hanging the node.
//!
//! Owns: one instance's own thread and the hand-off of one call at a time
//! between the caller (the node's actor) and that thread, and the count of
//! a library's calls that were abandoned and have not returned yet
//! ([`StuckCalls`]). Must not decode calls or outcomes: bytes in, bytes out.
//!
//! Native code cannot be interrupted. Running it on the caller's thread (as
//! before issue 18) let one looping or deadlocked call wedge the whole node:
//! no admin answers, links dropped, SIGTERM ignored. Here the caller waits
//! at most the deadline; then it gives the call up, the instance is failed
//! (and restarted by its supervisor), and the thread is left to finish on
//! its own. Its host calls are refused from then on, and when it returns it
//! drops the instance and exits.
//!
//! The hand-off is one atomic state word and one buffer pair that the state
//! gives to one side at a time (so no lock on the hot path); each side spins
//! briefly before it sleeps (`park`), and wakes the other only if that one
//! said it sleeps. Back-to-back calls never sleep; an idle instance's thread
//! uses no CPU. Each buffer is allocated and freed on one thread only (the
//! outcome on the instance's, the input on the caller's).

use abi_stable::std_types::{RSlice, RVec};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};
use weft_plugin_api::internal::guest::native::NativeInstanceBox;

/// No call in flight (the last one's outcome, if any, is readable).
const IDLE: u32 = 0;
/// The caller posted a call; the instance's thread runs it.
const CALL: u32 = 1;
/// The caller gave the call up; the thread exits when it returns.
const ABANDONED: u32 = 2;
/// The instance was dropped; the thread exits.
const QUIT: u32 = 3;

/// Spins of the instance's thread waiting for the next call before it
/// sleeps: bursts of calls (a batch of messages) hand off without a wake-up.
const THREAD_SPINS: u32 = 1 << 10;
/// Spins of the caller waiting for an outcome before it sleeps: most calls
/// return within a few microseconds.
const CALLER_SPINS: u32 = 1 << 12;

/// Stack of an instance's thread (virtual memory; pages are touched only
/// as used), as large as a main thread's, where native calls used to run.
const STACK_BYTES: usize = 8 << 20;

/// Calls of one library that were abandoned and have not returned yet.
/// Each holds a thread the node cannot take back.
#[derive(Debug, Clone, Default)]
pub struct StuckCalls(Arc<AtomicUsize>);

impl StuckCalls {
    /// How many are stuck now.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

/// A value on a cache line of its own, so that the line the two threads
/// hand back and forth carries nothing else.
#[repr(align(128))]
struct Line<T>(T);

impl<T> std::ops::Deref for Line<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

struct Shared {
    state: Line<AtomicU32>,
    /// The two buffers belong to the caller while `state` is `IDLE` and to
    /// the instance's thread while it is `CALL`; after `ABANDONED` only the
    /// thread touches them, after `QUIT` nobody until they are dropped.
    /// Written by the caller, read by the thread.
    input: Line<UnsafeCell<Vec<u8>>>,
    /// Written by the thread, read by the caller.
    outcome: Line<UnsafeCell<RVec<u8>>>,
    /// The instance's thread is (about to be) parked: post, then unpark.
    thread_asleep: AtomicBool,
    /// The caller is (about to be) parked, as `caller`: return, then unpark.
    caller_asleep: AtomicBool,
    caller: Mutex<Option<Thread>>,
    stuck: StuckCalls,
    /// Set when a call is abandoned: the instance's host calls are refused.
    revoked: Arc<AtomicBool>,
}

// SAFETY: `input` and `outcome` are the only fields that are not `Sync`;
// `state` hands them to one thread at a time (see the fields), with Release
// on each hand-over and Acquire before each use, so the two threads never
// access them at once.
unsafe impl Sync for Shared {}

/// A call that ran past its deadline and was given up (or a call after
/// that: the instance's thread is still stuck in the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Abandoned;

/// One native instance running on its own thread.
pub struct CallThread {
    shared: Arc<Shared>,
    thread: Thread,
}

impl CallThread {
    /// Moves `instance` to a new thread named after `name`. `revoked` is set
    /// if a call is ever abandoned (the host vtable refuses host calls
    /// then); `stuck` counts the library's abandoned calls.
    pub fn spawn(
        name: &str,
        instance: NativeInstanceBox,
        revoked: Arc<AtomicBool>,
        stuck: StuckCalls,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Line(AtomicU32::new(IDLE)),
            input: Line(UnsafeCell::new(Vec::new())),
            outcome: Line(UnsafeCell::new(RVec::new())),
            thread_asleep: AtomicBool::new(false),
            caller_asleep: AtomicBool::new(false),
            caller: Mutex::new(None),
            stuck,
            revoked,
        });
        let theirs = shared.clone();
        let handle = thread::Builder::new()
            .name(format!("native {name}"))
            .stack_size(STACK_BYTES)
            .spawn(move || serve(&theirs, instance))?;
        Ok(Self { shared, thread: handle.thread().clone() })
    }

    /// Runs one call; waits at most `deadline` (after a short spin) for its
    /// outcome, which stays readable until the next call.
    pub fn call(&mut self, input: &[u8], deadline: Duration) -> Result<&[u8], Abandoned> {
        let shared = &*self.shared;
        if shared.state.load(Ordering::Acquire) != IDLE {
            return Err(Abandoned);
        }
        {
            // SAFETY: `IDLE`: the buffers are the caller's (`Shared::input`).
            let buffer = unsafe { &mut *shared.input.get() };
            buffer.clear();
            buffer.extend_from_slice(input);
        }
        shared.state.store(CALL, Ordering::SeqCst);
        if shared.thread_asleep.load(Ordering::SeqCst) {
            self.thread.unpark();
        }
        if !self.wait_returned(deadline) {
            // Counted before it is given up, so that the thread's decrement
            // (when it returns) can never come first.
            shared.stuck.0.fetch_add(1, Ordering::AcqRel);
            match shared.state.compare_exchange(CALL, ABANDONED, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    shared.revoked.store(true, Ordering::Release);
                    return Err(Abandoned);
                }
                // It returned after all, just now.
                Err(_) => {
                    shared.stuck.0.fetch_sub(1, Ordering::AcqRel);
                }
            }
        }
        // SAFETY: `IDLE` again (the thread stored it with Release after
        // writing the outcome, and this thread loaded it with Acquire): the
        // buffers are the caller's until the next call, which needs `&mut
        // self` and so ends this borrow first.
        let outcome = unsafe { &*shared.outcome.get() };
        Ok(outcome.as_slice())
    }

    /// Whether the call returned within `deadline` (spin first, then sleep).
    fn wait_returned(&self, deadline: Duration) -> bool {
        let shared = &*self.shared;
        for _ in 0..CALLER_SPINS {
            if shared.state.load(Ordering::Acquire) == IDLE {
                return true;
            }
            std::hint::spin_loop();
        }
        *shared.caller.lock().unwrap_or_else(PoisonError::into_inner) = Some(thread::current());
        shared.caller_asleep.store(true, Ordering::SeqCst);
        // The deadline counts from here: the spin is microseconds.
        let until = Instant::now() + deadline;
        let returned = loop {
            if shared.state.load(Ordering::SeqCst) == IDLE {
                break true;
            }
            let now = Instant::now();
            if now >= until {
                break false;
            }
            thread::park_timeout(until - now);
        };
        shared.caller_asleep.store(false, Ordering::SeqCst);
        returned
    }
}

impl Drop for CallThread {
    fn drop(&mut self) {
        // Idle: the thread exits and drops the instance on its way out. An
        // abandoned call's thread exits when the call returns.
        if self.shared.state.compare_exchange(IDLE, QUIT, Ordering::SeqCst, Ordering::Acquire).is_ok() {
            self.thread.unpark();
        }
    }
}

/// The instance's thread: runs calls until the instance is dropped or a
/// call is abandoned.
fn serve(shared: &Shared, mut instance: NativeInstanceBox) {
    loop {
        let mut spins = 0;
        loop {
            match shared.state.load(Ordering::Acquire) {
                CALL => break,
                QUIT => return,
                _ if spins < THREAD_SPINS => {
                    spins += 1;
                    std::hint::spin_loop();
                }
                _ => {
                    shared.thread_asleep.store(true, Ordering::SeqCst);
                    // A call posted after the store is seen here, or the
                    // caller saw `thread_asleep` and unparks (a token that
                    // makes `park` return at once).
                    if !matches!(shared.state.load(Ordering::SeqCst), CALL | QUIT) {
                        thread::park();
                    }
                    shared.thread_asleep.store(false, Ordering::SeqCst);
                }
            }
        }
        {
            // SAFETY: `CALL` (loaded with Acquire after the caller's store):
            // the buffers are this thread's until it stores `IDLE`, or for
            // good once the caller abandons the call.
            let (input, outcome) = unsafe { (&*shared.input.get(), &mut *shared.outcome.get()) };
            // The previous outcome is freed here, on the thread that made it.
            *outcome = instance.call(RSlice::from_slice(input));
        }
        match shared.state.compare_exchange(CALL, IDLE, Ordering::SeqCst, Ordering::Acquire) {
            Ok(_) => {
                if shared.caller_asleep.load(Ordering::SeqCst)
                    && let Some(caller) = shared.caller.lock().unwrap_or_else(PoisonError::into_inner).as_ref()
                {
                    caller.unpark();
                }
            }
            Err(_) => {
                // Abandoned while it ran: nobody waits; the instance is
                // dropped here, off the node's threads.
                shared.stuck.0.fetch_sub(1, Ordering::AcqRel);
                return;
            }
        }
    }
}
