//! The wasm binding, guest side (wasm32 only).
//!
//! Owns: the imports from module `weft` and the state behind the exports the
//! export macro generates (`weft_alloc`, `weft_call`, and the optional
//! `weft_panic_message` the host reads after a trap).
//!
//! Memory ownership (also in `docs/ABI.md`): the guest owns one input and one
//! output buffer in its linear memory. The host calls `weft_alloc(len)`, which
//! returns a pointer to `len` writable bytes of the input buffer, writes the
//! encoded call there and calls `weft_call(len)`. The result is `ptr << 32 |
//! len` of the output buffer, valid until the next export call; the host
//! copies it out. For host calls the host keeps the encoded reply and the
//! guest copies it into its own memory with `host_take`.

use crate::codec;
use crate::guest::{GuestPlugin, Runner};
use crate::host_call::{HostCall, HostError, HostErrorCode, HostReply};
use crate::internal::Host;
use core::cell::RefCell;

#[link(wasm_import_module = "weft")]
unsafe extern "C" {
    #[link_name = "now_ms"]
    fn import_now_ms() -> u64;
    #[link_name = "random"]
    fn import_random(ptr: *mut u8, len: u32);
    #[link_name = "host_call"]
    fn import_host_call(ptr: *const u8, len: u32) -> u32;
    #[link_name = "host_take"]
    fn import_host_take(ptr: *mut u8);
}

/// The host, as reached through wasm imports.
pub struct WasmHost;

impl Host for WasmHost {
    fn now_ms(&mut self) -> u64 {
        // SAFETY: a plain import without pointers.
        unsafe { import_now_ms() }
    }

    fn fill_random(&mut self, buf: &mut [u8]) {
        // SAFETY: the host writes exactly `len` bytes at `ptr`, inside our memory.
        unsafe { import_random(buf.as_mut_ptr(), buf.len() as u32) }
    }

    fn call(&mut self, call: &HostCall) -> HostReply {
        let request = match codec::encode(call) {
            Ok(r) => r,
            Err(e) => return HostReply::Error(HostError::new(HostErrorCode::BadRequest, e.to_string())),
        };
        // SAFETY: the host reads `len` bytes at `ptr`, then writes exactly the
        // announced reply length into the buffer we allocated for it.
        let reply = unsafe {
            let len = import_host_call(request.as_ptr(), request.len() as u32) as usize;
            let mut reply = Vec::<u8>::with_capacity(len);
            import_host_take(reply.as_mut_ptr());
            reply.set_len(len);
            reply
        };
        codec::decode(&reply)
            .unwrap_or_else(|e| HostReply::Error(HostError::new(HostErrorCode::BadRequest, e.to_string())))
    }
}

struct Buffers<P> {
    runner: Runner<P>,
    input: Vec<u8>,
    output: Vec<u8>,
}

/// The guest side of one wasm instance, kept in a `thread_local!` by the
/// export macro. Export calls never overlap (the host calls one at a time),
/// so the `RefCell` is never contended; were it re-entered, the borrow
/// would panic, which traps the call instead of aliasing the buffers.
pub struct WasmGuest<P> {
    cell: RefCell<Buffers<P>>,
}

impl<P: GuestPlugin> WasmGuest<P> {
    /// An instance that has not been initialised yet.
    pub const fn new() -> Self {
        Self { cell: RefCell::new(Buffers { runner: Runner::new(), input: Vec::new(), output: Vec::new() }) }
    }

    /// `weft_alloc(len)`: makes room for an input of `len` bytes.
    ///
    /// `weft_alloc(0)` gives the buffer's memory back to the allocator
    /// (since ABI 1.2). The host uses the pair `weft_alloc(n)`,
    /// `weft_alloc(0)` before a hot swap's `init` to fault `n` bytes in off
    /// the node's thread; the freed pages are then what `init` allocates
    /// from (docs/ABI.md §6).
    pub fn alloc(&self, len: u32) -> u32 {
        let b = &mut *self.cell.borrow_mut();
        if len == 0 {
            b.input = Vec::new();
            return b.input.as_mut_ptr() as u32;
        }
        // Room only, not zeroes: the host overwrites all `len` bytes before
        // `weft_call`, and a handed-over state can be megabytes.
        b.input.clear();
        b.input.reserve(len as usize);
        b.input.as_mut_ptr() as u32
    }

    /// `weft_call(len)`: runs the call in the first `len` input bytes.
    pub fn call(&self, len: u32) -> u64 {
        let b = &mut *self.cell.borrow_mut();
        let len = (len as usize).min(b.input.capacity());
        // SAFETY: `weft_alloc(len)` reserved at least `len` bytes and the
        // host wrote the call's `len` bytes there before this export (the
        // call protocol); `u8` has no invalid values.
        unsafe { b.input.set_len(len) };
        b.runner.handle(&b.input, &mut WasmHost, &mut b.output);
        ((b.output.as_ptr() as u64) << 32) | b.output.len() as u64
    }
}

/// `weft_panic_message()`: the text of the panic that just aborted a call
/// (message and location, from the SDK's panic hook), as `ptr << 32 | len`
/// of a buffer valid until the next call of this export; `0` when there was
/// none. Panics abort on wasm, so the host reads this after the trap
/// (docs/ABI.md §8). An optional export: hosts that do not know it report
/// the trap alone.
pub fn panic_message() -> u64 {
    thread_local! {
        static TEXT: core::cell::RefCell<String> = const { core::cell::RefCell::new(String::new()) };
    }
    TEXT.with(|text| {
        let mut text = text.borrow_mut();
        *text = crate::guest::panic_hook::take().unwrap_or_default();
        if text.is_empty() { 0 } else { ((text.as_ptr() as u64) << 32) | text.len() as u64 }
    })
}
