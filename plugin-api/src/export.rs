//! The export macros: one plugin source, two bindings.
//!
//! Owns: [`export_service!`](crate::export_service) and
//! [`export_driver!`](crate::export_driver). Built for `wasm32`, they emit the
//! `weft.manifest` custom section and the `weft_alloc`/`weft_call`/`weft_panic_message` exports;
//! built natively, they emit the abi_stable root module. Nothing else differs.

/// Exports a [`Service`](crate::Service) type as a Weft plugin. Use it once
/// per crate, at the top level.
///
/// ```
/// use weft_plugin_api::prelude::*;
/// # pub struct Echo;
/// # impl Service for Echo {
/// #     const MANIFEST: ManifestDef = ManifestDef {
/// #         name: "echo", version: "0.1.0", description: "", ports: &[7], permissions: &[], commands: &[],
/// #     };
/// #     fn init(_: &mut ServiceCtx<'_>, _: InitArgs) -> Result<Self, String> { Ok(Echo) }
/// # }
/// weft_plugin_api::export_service!(Echo);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! export_service {
    ($plugin:ty) => {
        $crate::__export_plugin!($crate::internal::guest::AsService<$plugin>, $crate::ABI_VERSION);
    };
}

/// Exports a [`Driver`](crate::Driver) type as a Weft plugin.
#[macro_export]
macro_rules! export_driver {
    ($plugin:ty) => {
        $crate::__export_plugin!($crate::internal::guest::AsDriver<$plugin>, $crate::ABI_VERSION);
    };
}

/// Implementation of the export macros. The ABI version argument exists so
/// the test suite can build plugins that claim another version; plugins use
/// the public macros, which always pass [`crate::ABI_VERSION`].
#[doc(hidden)]
#[macro_export]
macro_rules! __export_plugin {
    ($adapter:ty, $abi:expr) => {
        const _: () = {
            type WeftPlugin = $adapter;
            const WEFT_ABI: $crate::AbiVersion = $abi;
            const WEFT_MANIFEST_LEN: usize = $crate::internal::manifest_encoding::encoded_len(
                &<WeftPlugin as $crate::internal::guest::GuestPlugin>::MANIFEST,
                <WeftPlugin as $crate::internal::guest::GuestPlugin>::KIND,
                WEFT_ABI,
            );
            const WEFT_MANIFEST: [u8; WEFT_MANIFEST_LEN] = $crate::internal::manifest_encoding::encode::<WEFT_MANIFEST_LEN>(
                &<WeftPlugin as $crate::internal::guest::GuestPlugin>::MANIFEST,
                <WeftPlugin as $crate::internal::guest::GuestPlugin>::KIND,
                WEFT_ABI,
            );

            #[cfg(target_arch = "wasm32")]
            #[unsafe(link_section = "weft.manifest")]
            #[used]
            static WEFT_MANIFEST_SECTION: [u8; WEFT_MANIFEST_LEN] = WEFT_MANIFEST;

            // One guest state per thread (proxy-wasm's pattern): sound without
            // `unsafe`, whether or not wasm threads are ever enabled.
            #[cfg(target_arch = "wasm32")]
            ::std::thread_local! {
                static WEFT_GUEST: $crate::internal::guest::wasm::WasmGuest<WeftPlugin> =
                    const { $crate::internal::guest::wasm::WasmGuest::new() };
            }

            #[cfg(target_arch = "wasm32")]
            #[unsafe(no_mangle)]
            extern "C" fn weft_alloc(len: u32) -> u32 {
                WEFT_GUEST.with(|guest| guest.alloc(len))
            }

            #[cfg(target_arch = "wasm32")]
            #[unsafe(no_mangle)]
            extern "C" fn weft_call(len: u32) -> u64 {
                WEFT_GUEST.with(|guest| guest.call(len))
            }

            #[cfg(target_arch = "wasm32")]
            #[unsafe(no_mangle)]
            extern "C" fn weft_panic_message() -> u64 {
                $crate::internal::guest::wasm::panic_message()
            }

            #[cfg(not(target_arch = "wasm32"))]
            static WEFT_MANIFEST_STATIC: [u8; WEFT_MANIFEST_LEN] = WEFT_MANIFEST;

            #[cfg(not(target_arch = "wasm32"))]
            extern "C" fn weft_manifest() -> $crate::__private::abi_stable::std_types::RSlice<'static, u8> {
                $crate::__private::abi_stable::std_types::RSlice::from_slice(&WEFT_MANIFEST_STATIC)
            }

            #[cfg(not(target_arch = "wasm32"))]
            fn weft_root_module() -> $crate::internal::guest::native::NativePluginRef {
                $crate::internal::guest::native::root_module::<WeftPlugin>(weft_manifest)
            }

            #[cfg(not(target_arch = "wasm32"))]
            extern "C" fn weft_erased_root_module() -> $crate::__private::abi_stable::library::RootModuleResult {
                $crate::__private::abi_stable::library::__call_root_module_loader(weft_root_module)
            }

            /// The abi_stable library header (what `#[export_root_module]` would generate;
            /// spelled out so plugin crates need no direct abi_stable dependency).
            #[cfg(not(target_arch = "wasm32"))]
            #[unsafe(no_mangle)]
            pub static _1as_0lib_1header_0root_bmodule_bloader: $crate::__private::abi_stable::library::LibHeader = unsafe {
                $crate::__private::abi_stable::library::LibHeader::from_constructor::<$crate::internal::guest::native::NativePluginRef>(
                    weft_erased_root_module,
                    $crate::__private::abi_stable::library::CheckTypeLayout::Yes,
                )
            };
        };
    };
}
