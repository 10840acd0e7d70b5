//! The action gate: which of a plugin's actions the host will execute.
//!
//! Owns: [`ActionGate::check`]. An action is refused when this host does not
//! know it (a later ABI minor), when it does not fit the plugin's kind, or when
//! it needs a permission the plugin does not hold. Refused actions become
//! `ActionRefused` events; the rest of the batch runs.

use std::collections::BTreeSet;
use weft_plugin_api::{ABI_VERSION, Action, Manifest, Permission, PluginKind};

/// Why the gate refused an action (the text goes to the plugin in
/// `ActionRefused`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The action needs a permission the manifest does not hold.
    #[error("needs permission `{0}`, which the plugin does not hold")]
    Permission(Permission),
    /// The action belongs to the other plugin kind.
    #[error("{action} is a {needs} action, but this plugin is a {is}")]
    WrongKind {
        /// The action's name.
        action: &'static str,
        /// The kind the action belongs to.
        needs: PluginKind,
        /// The plugin's kind.
        is: PluginKind,
    },
    /// A flood with a hop limit of 0.
    #[error("a flood needs a hop limit of at least 1")]
    NoFloodHops,
    /// A flood beyond the hops the operator granted.
    #[error("a flood of {hops} hops exceeds the {max} this plugin is granted")]
    FloodTooFar {
        /// Hops asked for.
        hops: u8,
        /// Hops granted.
        max: u8,
    },
    /// An action tag this host does not implement (a later ABI minor).
    #[error("unknown action tag {0}: this host implements ABI {ABI_VERSION}")]
    Unknown(u32),
}

/// Checks actions against one plugin's kind and permissions.
#[derive(Debug, Clone)]
pub struct ActionGate {
    kind: PluginKind,
    permissions: BTreeSet<Permission>,
    max_flood_hops: Option<u8>,
}

impl ActionGate {
    /// A gate for a plugin with this manifest (its permissions were granted
    /// at load) whose floods may reach at most `max_flood_hops`.
    pub fn new(manifest: &Manifest, max_flood_hops: Option<u8>) -> Self {
        Self { kind: manifest.kind, permissions: manifest.permissions.iter().copied().collect(), max_flood_hops }
    }

    fn need(&self, permission: Permission) -> Result<(), Refusal> {
        if self.permissions.contains(&permission) { Ok(()) } else { Err(Refusal::Permission(permission)) }
    }

    fn kind_is(&self, kind: PluginKind, action: &Action) -> Result<(), Refusal> {
        if self.kind == kind {
            Ok(())
        } else {
            Err(Refusal::WrongKind { action: action.kind_name(), needs: kind, is: self.kind })
        }
    }

    /// `Ok` if the host may execute `action`, else the reason it is refused.
    pub fn check(&self, action: &Action) -> Result<(), Refusal> {
        use PluginKind::{Driver, Service};
        match action {
            Action::Send(send) => {
                self.kind_is(Service, action)?;
                self.need(Permission::Send)?;
                if send.sealed {
                    self.need(Permission::Seal)?;
                }
                Ok(())
            }
            Action::Flood(flood) => {
                self.kind_is(Service, action)?;
                self.need(Permission::Flood)?;
                match self.max_flood_hops {
                    _ if flood.hops == 0 => Err(Refusal::NoFloodHops),
                    Some(max) if flood.hops > max => Err(Refusal::FloodTooFar { hops: flood.hops, max }),
                    _ => Ok(()),
                }
            }
            Action::Reply(_) => self.kind_is(Service, action),
            Action::Store(_) => self.need(Permission::Storage),
            Action::SetTimer(_)
            | Action::CancelTimer(_)
            | Action::Log(_)
            | Action::Metric(_)
            | Action::CommandReply(_) => Ok(()),
            Action::SerialWrite(_) => {
                self.kind_is(Driver, action)?;
                self.need(Permission::Serial)
            }
            Action::FrameReceived(_) | Action::TransmitDone(_) | Action::LinkState(_) | Action::RadioInfo(_) => {
                self.kind_is(Driver, action)
            }
            Action::Unknown(tag) => Err(Refusal::Unknown(*tag)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_plugin_api::actions::{Flood, Reply, Send, SerialWrite};
    use weft_plugin_api::{AbiVersion, Address};

    fn manifest(kind: PluginKind, permissions: &[Permission]) -> Manifest {
        Manifest {
            name: "t".into(),
            version: "0".into(),
            description: String::new(),
            kind,
            abi: AbiVersion::new(1, 0),
            ports: vec![],
            permissions: permissions.to_vec(),
            commands: vec![],
        }
    }

    #[test]
    fn permissions_kinds_and_unknown_tags() {
        let send = Action::Send(Send {
            to: Address([0; 16]),
            port: 1,
            payload: vec![],
            sealed: false,
            tag: 0,
            anonymous: false,
        });
        let sealed = Action::Send(Send {
            to: Address([0; 16]),
            port: 1,
            payload: vec![],
            sealed: true,
            tag: 0,
            anonymous: false,
        });
        let reply = Action::Reply(Reply { message: 1, payload: vec![] });
        let serial = Action::SerialWrite(SerialWrite { bytes: vec![] });
        let flood0 = Action::Flood(Flood { port: 1, payload: vec![], hops: 0, anonymous: false });

        let bare = ActionGate::new(&manifest(PluginKind::Service, &[]), None);
        assert!(bare.check(&send).is_err());
        assert!(bare.check(&reply).is_ok());
        assert!(bare.check(&serial).is_err());
        assert!(bare.check(&Action::Unknown(77)).unwrap_err().to_string().contains("unknown action tag 77"));

        let sender = ActionGate::new(&manifest(PluginKind::Service, &[Permission::Send, Permission::Flood]), Some(3));
        assert!(sender.check(&send).is_ok());
        assert!(sender.check(&sealed).is_err());
        assert!(sender.check(&flood0).is_err());
        let flood = |hops| Action::Flood(Flood { port: 1, payload: vec![], hops, anonymous: false });
        assert!(sender.check(&flood(3)).is_ok(), "up to the granted hops");
        assert!(sender.check(&flood(4)).unwrap_err().to_string().contains("exceeds the 3"), "beyond them refused");

        let driver = ActionGate::new(&manifest(PluginKind::Driver, &[Permission::Serial, Permission::Send]), None);
        assert!(driver.check(&serial).is_ok());
        assert!(driver.check(&send).unwrap_err().to_string().contains("service action"));
    }
}
