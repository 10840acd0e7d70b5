//! One native plugin instance.

use crate::plugin::binding::BindingInstance;
use crate::plugin::error::Fault;
use crate::plugin::host_services::InstanceHostCalls;
use crate::plugin::wasm::{EPOCH_TICK, Ticks};
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RSlice, RSliceMut, RVec};
use std::sync::atomic::Ordering;
use std::time::Duration;
use weft_plugin_api::guest::native::{NativeHostApi, NativeHostApi_TO, NativeHostBox, NativeInstanceBox};

/// The host vtable given to a native instance.
struct HostVtable {
    host: InstanceHostCalls,
    reply: Vec<u8>,
}

impl NativeHostApi for HostVtable {
    fn now_ms(&mut self) -> u64 {
        self.host.now_ms()
    }

    fn fill_random(&mut self, mut buf: RSliceMut<'_, u8>) {
        self.host.fill_random(buf.as_mut_slice())
    }

    fn call(&mut self, request: RSlice<'_, u8>) -> RVec<u8> {
        self.host.answer_encoded(request.as_slice(), &mut self.reply);
        RVec::from_slice(&self.reply)
    }
}

/// A live native instance.
pub struct NativeBindingInstance {
    inner: NativeInstanceBox,
    /// The last call's outcome, returned by the guest and read in place.
    outcome: RVec<u8>,
    ticks: Ticks,
    /// Calls that ran past their deadline (native code cannot be interrupted).
    pub overruns: u64,
}

impl NativeBindingInstance {
    pub(super) fn new(
        instantiate: extern "C" fn(NativeHostBox) -> NativeInstanceBox,
        host: InstanceHostCalls,
        ticks: Ticks,
    ) -> Self {
        let vtable = NativeHostApi_TO::from_value(HostVtable { host, reply: Vec::new() }, TD_Opaque);
        Self { inner: instantiate(vtable), outcome: RVec::new(), ticks, overruns: 0 }
    }
}

impl BindingInstance for NativeBindingInstance {
    fn call(&mut self, input: &[u8], deadline: Duration) -> Result<&[u8], Fault> {
        // Timed on the coarse clock (one tick of slack): an overrun is a call
        // that took more than the deadline's ticks plus one.
        let started = self.ticks.load(Ordering::Relaxed);
        self.outcome = self.inner.call(RSlice::from_slice(input));
        let took = self.ticks.load(Ordering::Relaxed).wrapping_sub(started);
        if u128::from(took) > deadline.as_millis() / EPOCH_TICK.as_millis() + 1 {
            self.overruns += 1;
        }
        Ok(self.outcome.as_slice())
    }

    fn memory_bytes(&self) -> Option<usize> {
        None
    }

    fn deadline_overruns(&self) -> u64 {
        self.overruns
    }
}
