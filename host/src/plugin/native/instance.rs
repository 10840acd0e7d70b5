//! One native plugin instance: its calls run on its own thread
//! ([`CallThread`], abandoned at the deadline) or, if the operator chose
//! [`NativeCalls::Inline`], on the caller's.

use super::call_thread::{CallThread, StuckCalls};
use crate::plugin::NativeCalls;
use crate::plugin::binding::BindingInstance;
use crate::plugin::error::{Fault, InstantiateError};
use crate::plugin::host_services::InstanceHostCalls;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RSlice, RSliceMut, RVec};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use weft_plugin_api::host_call::HostReply;
use weft_plugin_api::internal::codec;
use weft_plugin_api::internal::guest::native::{NativeHostApi, NativeHostApi_TO, NativeHostBox, NativeInstanceBox};
use weft_plugin_api::{HostError, HostErrorCode};

/// The host vtable given to a native instance.
struct HostVtable {
    host: InstanceHostCalls,
    reply: Vec<u8>,
    /// Set once a call of this instance was abandoned: whatever its thread
    /// still does, it does without the node's keys and storage.
    revoked: Arc<AtomicBool>,
}

impl NativeHostApi for HostVtable {
    fn now_ms(&mut self) -> u64 {
        self.host.now_ms()
    }

    fn fill_random(&mut self, mut buf: RSliceMut<'_, u8>) {
        self.host.fill_random(buf.as_mut_slice())
    }

    fn call(&mut self, request: RSlice<'_, u8>) -> RVec<u8> {
        if self.revoked.load(Ordering::Acquire) {
            let refused = HostReply::Error(HostError::new(
                HostErrorCode::Denied,
                "this instance was abandoned after a call past its deadline; it has no host calls any more",
            ));
            return codec::encode(&refused).map(RVec::from).unwrap_or_default();
        }
        self.host.answer_encoded(request.as_slice(), &mut self.reply);
        RVec::from_slice(&self.reply)
    }
}

/// A live native instance.
pub enum NativeBindingInstance {
    /// On a thread of its own.
    Thread(CallThread),
    /// On the caller's thread, with the last outcome.
    Inline(NativeInstanceBox, RVec<u8>),
}

impl NativeBindingInstance {
    /// Creates the instance and moves it to its own thread.
    pub(super) fn new(
        name: &str,
        instantiate: extern "C" fn(NativeHostBox) -> NativeInstanceBox,
        host: InstanceHostCalls,
        stuck: StuckCalls,
        calls: NativeCalls,
    ) -> Result<Self, InstantiateError> {
        let revoked = Arc::new(AtomicBool::new(false));
        let vtable =
            NativeHostApi_TO::from_value(HostVtable { host, reply: Vec::new(), revoked: revoked.clone() }, TD_Opaque);
        let instance = instantiate(vtable);
        Ok(match calls {
            NativeCalls::Thread => {
                Self::Thread(CallThread::spawn(name, instance, revoked, stuck).map_err(InstantiateError::Thread)?)
            }
            NativeCalls::Inline => Self::Inline(instance, RVec::new()),
        })
    }
}

impl BindingInstance for NativeBindingInstance {
    fn call(&mut self, input: &[u8], deadline: Duration) -> Result<&[u8], Fault> {
        match self {
            Self::Thread(thread) => {
                thread.call(input, deadline).map_err(|_| Fault::Abandoned(deadline.as_millis() as u64))
            }
            Self::Inline(instance, outcome) => {
                *outcome = instance.call(RSlice::from_slice(input));
                Ok(outcome.as_slice())
            }
        }
    }

    fn memory_bytes(&self) -> Option<usize> {
        None
    }
}
