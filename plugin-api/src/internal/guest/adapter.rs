//! Adapters from the author-facing traits to the one lifecycle the runner drives.
//!
//! Owns: [`GuestPlugin`] and its two implementations, [`AsService`] and
//! [`AsDriver`], which route each [`Event`] to the matching typed callback and
//! ignore events that do not concern that kind (including unknown ones).

use crate::call::{InitArgs, ShutdownArgs};
use crate::ctx::{Ctx, DriverRole, Role, ServiceRole};
use crate::event::Event;
use crate::manifest::{ManifestDef, PluginKind};
use crate::{Driver, Service};

/// The lifecycle every exported plugin has, whatever its kind.
pub trait GuestPlugin: Sized + 'static {
    /// Service or driver.
    const KIND: PluginKind;
    /// The context the plugin's callbacks receive.
    type Role: Role;
    /// The author's manifest definition.
    const MANIFEST: ManifestDef;
    /// Creates the instance.
    fn init(ctx: &mut Ctx<'_, Self::Role>, init: InitArgs) -> Result<Self, String>;
    /// Handles one event.
    fn event(&mut self, ctx: &mut Ctx<'_, Self::Role>, event: Event);
    /// Stops, returning the state blob.
    fn shutdown(&mut self, ctx: &mut Ctx<'_, Self::Role>, shutdown: ShutdownArgs) -> Vec<u8>;
}

/// Exports a [`Service`] through the guest runtime.
pub struct AsService<T>(T);

impl<T: Service> GuestPlugin for AsService<T> {
    const KIND: PluginKind = PluginKind::Service;
    type Role = ServiceRole;
    const MANIFEST: ManifestDef = T::MANIFEST;

    fn init(ctx: &mut Ctx<'_, ServiceRole>, init: InitArgs) -> Result<Self, String> {
        T::init(ctx, init).map(AsService)
    }

    fn event(&mut self, ctx: &mut Ctx<'_, ServiceRole>, event: Event) {
        let s = &mut self.0;
        match event {
            Event::Message(m) => s.on_message(ctx, m),
            Event::Timer(t) => s.on_timer(ctx, t.id),
            Event::PeerUp(p) => s.on_peer_up(ctx, p.peer),
            Event::PeerDown(p) => s.on_peer_down(ctx, p.peer),
            Event::Command(c) => s.on_command(ctx, c),
            Event::ActionRefused(r) => s.on_action_refused(ctx, r),
            Event::SerialRx(_) | Event::Transmit(_) | Event::SerialStatus(_) | Event::Unknown(_) => {}
        }
    }

    fn shutdown(&mut self, ctx: &mut Ctx<'_, ServiceRole>, shutdown: ShutdownArgs) -> Vec<u8> {
        self.0.on_shutdown(ctx, shutdown)
    }
}

/// Exports a [`Driver`] through the guest runtime.
pub struct AsDriver<T>(T);

impl<T: Driver> GuestPlugin for AsDriver<T> {
    const KIND: PluginKind = PluginKind::Driver;
    type Role = DriverRole;
    const MANIFEST: ManifestDef = T::MANIFEST;

    fn init(ctx: &mut Ctx<'_, DriverRole>, init: InitArgs) -> Result<Self, String> {
        T::init(ctx, init).map(AsDriver)
    }

    fn event(&mut self, ctx: &mut Ctx<'_, DriverRole>, event: Event) {
        let d = &mut self.0;
        match event {
            Event::SerialRx(rx) => d.on_serial(ctx, &rx.bytes),
            Event::Transmit(t) => d.on_transmit(ctx, t.id, t.frame),
            Event::Timer(t) => d.on_timer(ctx, t.id),
            Event::SerialStatus(s) => d.on_serial_status(ctx, s),
            Event::Command(c) => d.on_command(ctx, c),
            Event::ActionRefused(r) => d.on_action_refused(ctx, r),
            Event::Message(_) | Event::PeerUp(_) | Event::PeerDown(_) | Event::Unknown(_) => {}
        }
    }

    fn shutdown(&mut self, ctx: &mut Ctx<'_, DriverRole>, shutdown: ShutdownArgs) -> Vec<u8> {
        self.0.on_shutdown(ctx, shutdown)
    }
}
