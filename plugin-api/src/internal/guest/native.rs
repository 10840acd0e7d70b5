//! The native binding (abi_stable), shared by guest and host.
//!
//! Owns: the root module every native plugin exports ([`NativePlugin`]), the
//! host vtable passed to each instance ([`NativeHostApi`]), the instance
//! object ([`NativeInstance`]) and the guest-side glue behind them.
//!
//! Memory ownership: call input is borrowed from the host for the duration of
//! the call (`RSlice`); the outcome is returned as an `RVec` owned by the host
//! from then on (abi_stable frees it through the plugin's allocator vtable).
//! Host-call requests are borrowed by the host; replies are owned by the guest.
//!
//! These layouts are frozen for ABI major 1. abi_stable lets a *newer
//! library* extend a prefix type or trait vtable, but refuses a host whose
//! layout has more fields than the library's, which is the opposite of our
//! rule (a host loads plugins of its own or an older minor). Adding a method
//! here would therefore lock out every native plugin built before it; new
//! capabilities travel in the CBOR call instead.

// abi_stable's `#[sabi_trait]` expands to impls of its own generated types
// inside const blocks, which trips this lint; the code is abi_stable's.
#![allow(non_local_definitions)]

use crate::codec;
use crate::guest::{GuestPlugin, Runner};
use crate::host_call::{HostCall, HostError, HostErrorCode, HostReply};
use crate::internal::Host;
use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RBox, RSlice, RSliceMut, RStr, RVec};
use abi_stable::{StableAbi, declare_root_module_statics, sabi_trait};

/// The host side of the synchronous host calls, as a stable trait object.
#[sabi_trait]
pub trait NativeHostApi: Send {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&mut self) -> u64;
    /// Fills `buf` with secure random bytes.
    fn fill_random(&mut self, buf: RSliceMut<'_, u8>);
    /// Answers a CBOR-encoded [`HostCall`] with a CBOR-encoded [`HostReply`].
    #[sabi(last_prefix_field)]
    fn call(&mut self, request: RSlice<'_, u8>) -> RVec<u8>;
}

/// Owned host vtable handed to each native instance.
pub type NativeHostBox = NativeHostApi_TO<'static, RBox<()>>;

/// One native plugin instance, as a stable trait object.
#[sabi_trait]
pub trait NativeInstance: Send {
    /// Runs one CBOR-encoded call and returns the CBOR-encoded outcome.
    /// Never unwinds: panics are caught inside and reported in the outcome.
    #[sabi(last_prefix_field)]
    fn call(&mut self, input: RSlice<'_, u8>) -> RVec<u8>;
}

/// Owned instance handle returned by [`NativePlugin::instantiate`].
pub type NativeInstanceBox = NativeInstance_TO<'static, RBox<()>>;

/// The root module of a native plugin library. Later ABI minors may append
/// fields after the last prefix field; abi_stable's prefix types let a host
/// read older libraries that lack them.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = NativePluginRef)))]
#[sabi(missing_field(panic))]
pub struct NativePlugin {
    /// The CBOR manifest, the same bytes as the wasm custom section.
    pub manifest: extern "C" fn() -> RSlice<'static, u8>,
    /// Creates a new, uninitialised instance bound to `host`.
    #[sabi(last_prefix_field)]
    pub instantiate: extern "C" fn(host: NativeHostBox) -> NativeInstanceBox,
}

impl RootModule for NativePluginRef {
    declare_root_module_statics! {NativePluginRef}
    const BASE_NAME: &'static str = "weft_plugin";
    const NAME: &'static str = "weft_plugin";
    /// Layout generation of the root module. Tied to the ABI major; the
    /// minor is negotiated through the manifest instead, because abi_stable's
    /// minor rule (library >= user) is the opposite of ours.
    const VERSION_STRINGS: VersionStrings = VersionStrings { version: RStr::from_str("1.0.0") };
}

/// Adapts the host vtable to the guest's [`Host`] trait.
struct HostAdapter<'a>(&'a mut NativeHostBox);

impl Host for HostAdapter<'_> {
    fn now_ms(&mut self) -> u64 {
        self.0.now_ms()
    }

    fn fill_random(&mut self, buf: &mut [u8]) {
        self.0.fill_random(RSliceMut::from_mut_slice(buf))
    }

    fn call(&mut self, call: &HostCall) -> HostReply {
        let request = match codec::encode(call) {
            Ok(r) => r,
            Err(e) => return HostReply::Error(HostError::new(HostErrorCode::BadRequest, e.to_string())),
        };
        let reply = self.0.call(RSlice::from_slice(&request));
        codec::decode(reply.as_slice())
            .unwrap_or_else(|e| HostReply::Error(HostError::new(HostErrorCode::BadRequest, e.to_string())))
    }
}

/// Initial capacity of the buffer an outcome is encoded into.
const OUTCOME_CAPACITY: usize = 256;

struct NativeGuest<P> {
    runner: Runner<P>,
    host: NativeHostBox,
}

impl<P: GuestPlugin + Send> NativeInstance for NativeGuest<P> {
    fn call(&mut self, input: RSlice<'_, u8>) -> RVec<u8> {
        // Sized so a typical outcome is encoded without regrowing the buffer;
        // the buffer itself becomes the returned RVec (no copy).
        let mut out = Vec::with_capacity(OUTCOME_CAPACITY);
        self.runner.handle(input.as_slice(), &mut HostAdapter(&mut self.host), &mut out);
        RVec::from(out)
    }
}

extern "C" fn instantiate<P: GuestPlugin + Send>(host: NativeHostBox) -> NativeInstanceBox {
    let guest = NativeGuest::<P> { runner: Runner::new(), host };
    NativeInstance_TO::from_value(guest, abi_stable::sabi_trait::TD_Opaque)
}

/// Builds the root module for plugin `P`. Called by the export macro.
pub fn root_module<P: GuestPlugin + Send>(manifest: extern "C" fn() -> RSlice<'static, u8>) -> NativePluginRef {
    use abi_stable::prefix_type::PrefixTypeTrait;
    NativePlugin { manifest, instantiate: instantiate::<P> }.leak_into_prefix()
}
