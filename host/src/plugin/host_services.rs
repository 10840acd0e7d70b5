//! The host side of the synchronous host calls.
//!
//! Owns: [`HostServices`] (what the node offers every plugin: identity, known
//! keys, key/value reads, clock) and [`InstanceHostCalls`] (one instance's view,
//! with its namespace and granted permissions enforced). Both bindings answer
//! host calls through [`InstanceHostCalls::answer`], so permission checks exist
//! once.

use crate::crypto::{self, NodeIdentity};
use crate::kv::KvStore;
use ed25519_dalek::VerifyingKey;
use serde_bytes::ByteBuf;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};
use weft_plugin_api::{Address, HostCall, HostError, HostErrorCode, HostReply, Opened, Permission};

/// What the node offers to all plugins.
pub struct HostServices {
    identity: NodeIdentity,
    kv: Arc<dyn KvStore>,
    known_keys: RwLock<HashMap<Address, VerifyingKey>>,
}

impl HostServices {
    /// Services backed by `identity` and `kv`.
    pub fn new(identity: NodeIdentity, kv: Arc<dyn KvStore>) -> Self {
        let mut keys = HashMap::new();
        keys.insert(identity.address(), identity.public_key());
        Self { identity, kv, known_keys: RwLock::new(keys) }
    }

    /// The node identity.
    pub fn identity(&self) -> &NodeIdentity {
        &self.identity
    }

    /// The key/value store.
    pub fn kv(&self) -> &Arc<dyn KvStore> {
        &self.kv
    }

    /// Records another node's public key (learned from an announce), so
    /// plugins can seal to its address. Returns the address.
    pub fn learn_key(&self, key: VerifyingKey) -> Address {
        let address = crypto::address_of(&key);
        if let Ok(mut keys) = self.known_keys.write() {
            keys.insert(address, key);
        }
        address
    }

    fn key_of(&self, address: &Address) -> Option<VerifyingKey> {
        self.known_keys.read().ok()?.get(address).copied()
    }
}

/// One plugin instance's access to [`HostServices`].
#[derive(Clone)]
pub struct InstanceHostCalls {
    services: Arc<HostServices>,
    namespace: Arc<str>,
    permissions: BTreeSet<Permission>,
}

fn denied(permission: Permission) -> HostReply {
    HostReply::Error(HostError::new(
        HostErrorCode::Denied,
        format!("this call needs permission `{permission}`, which the plugin was not granted"),
    ))
}

impl InstanceHostCalls {
    /// The view of plugin `namespace` holding `permissions`.
    pub fn new(services: Arc<HostServices>, namespace: &str, permissions: BTreeSet<Permission>) -> Self {
        Self { services, namespace: namespace.into(), permissions }
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
    }

    /// Fills `buf` from the OS random source.
    pub fn fill_random(&self, buf: &mut [u8]) {
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, buf)
    }

    /// Answers one host call, enforcing permissions. Never panics.
    pub fn answer(&self, call: &HostCall) -> HostReply {
        let services = &self.services;
        match call {
            HostCall::OwnAddress(_) => HostReply::Address(services.identity.address()),
            HostCall::PublicKey(_) => {
                HostReply::PublicKey(ByteBuf::from(services.identity.public_key().to_bytes().to_vec()))
            }
            HostCall::Sign(req) => {
                if !self.permissions.contains(&Permission::Sign) {
                    return denied(Permission::Sign);
                }
                let signature = services.identity.sign_for_plugin(&self.namespace, &req.message);
                HostReply::Signature(ByteBuf::from(signature.to_bytes().to_vec()))
            }
            HostCall::Verify(req) => HostReply::Verified(crypto::verify_plugin_signature(
                &self.namespace,
                &req.public_key,
                &req.message,
                &req.signature,
            )),
            HostCall::Seal(req) => {
                if !self.permissions.contains(&Permission::Seal) {
                    return denied(Permission::Seal);
                }
                match services.key_of(&req.to) {
                    Some(key) => {
                        let x = x25519_dalek::PublicKey::from(key.to_montgomery().to_bytes());
                        HostReply::Sealed(ByteBuf::from(crypto::seal(&x, &req.plaintext)))
                    }
                    None => HostReply::Error(HostError::new(
                        HostErrorCode::NotFound,
                        format!("no public key known for {}", req.to),
                    )),
                }
            }
            HostCall::Open(req) => {
                if !self.permissions.contains(&Permission::Seal) {
                    return denied(Permission::Seal);
                }
                match crypto::open(&services.identity.x25519_secret(), &req.sealed) {
                    Ok(plaintext) => HostReply::Opened(Opened { plaintext, sender: None }),
                    Err(e) => HostReply::Error(HostError::new(HostErrorCode::Failed, e.to_string())),
                }
            }
            HostCall::KvGet(req) => {
                if !self.permissions.contains(&Permission::Storage) {
                    return denied(Permission::Storage);
                }
                match services.kv.get(&self.namespace, &req.key) {
                    Ok(value) => HostReply::Value(value.map(ByteBuf::from)),
                    Err(e) => HostReply::Error(HostError::new(HostErrorCode::Failed, e)),
                }
            }
            HostCall::Unknown(tag) => HostReply::Error(HostError::new(
                HostErrorCode::Unsupported,
                format!("host call {tag} is not implemented by this host (ABI {})", weft_plugin_api::ABI_VERSION),
            )),
        }
    }

    /// Answers an encoded host call with an encoded reply (the bindings' entry point).
    pub fn answer_encoded(&self, request: &[u8], out: &mut Vec<u8>) {
        let reply = match weft_plugin_api::codec::decode::<HostCall>(request) {
            Ok(call) => self.answer(&call),
            Err(e) => {
                HostReply::Error(HostError::new(HostErrorCode::BadRequest, format!("undecodable host call: {e}")))
            }
        };
        out.clear();
        if weft_plugin_api::codec::encode_into(&reply, out).is_err() {
            out.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::MemoryKv;
    use weft_plugin_api::{KvGetRequest, NoArgs, OpenRequest, SealRequest, SignRequest};

    fn calls(perms: &[Permission]) -> InstanceHostCalls {
        let services = Arc::new(HostServices::new(NodeIdentity::from_secret([1; 32]), Arc::new(MemoryKv::default())));
        InstanceHostCalls::new(services, "p", perms.iter().copied().collect())
    }

    #[test]
    fn permissions_are_enforced() {
        let c = calls(&[]);
        for call in [
            HostCall::Sign(SignRequest { message: vec![1] }),
            HostCall::Seal(SealRequest { to: Address([0; 16]), plaintext: vec![] }),
            HostCall::KvGet(KvGetRequest { key: vec![] }),
        ] {
            assert!(matches!(c.answer(&call), HostReply::Error(HostError { code: HostErrorCode::Denied, .. })));
        }
        assert!(matches!(c.answer(&HostCall::OwnAddress(NoArgs {})), HostReply::Address(_)));
    }

    #[test]
    fn seal_to_self_then_open() {
        let c = calls(&[Permission::Seal]);
        let own = match c.answer(&HostCall::OwnAddress(NoArgs {})) {
            HostReply::Address(a) => a,
            other => panic!("{other:?}"),
        };
        let sealed = match c.answer(&HostCall::Seal(SealRequest { to: own, plaintext: b"x".to_vec() })) {
            HostReply::Sealed(s) => s.into_vec(),
            other => panic!("{other:?}"),
        };
        match c.answer(&HostCall::Open(OpenRequest { sealed })) {
            HostReply::Opened(o) => assert_eq!(o.plaintext, b"x"),
            other => panic!("{other:?}"),
        }
        let unknown = c.answer(&HostCall::Seal(SealRequest { to: Address([9; 16]), plaintext: vec![] }));
        assert!(matches!(unknown, HostReply::Error(HostError { code: HostErrorCode::NotFound, .. })));
    }

    #[test]
    fn garbage_requests_get_an_error_reply() {
        let c = calls(&[]);
        let mut out = Vec::new();
        c.answer_encoded(&[0xff, 0x00], &mut out);
        let reply: HostReply = weft_plugin_api::codec::decode(&out).unwrap();
        assert!(matches!(reply, HostReply::Error(HostError { code: HostErrorCode::BadRequest, .. })));
    }

    #[test]
    fn plugin_signatures_are_domain_separated_from_the_node_key_s_other_uses() {
        let c = calls(&[Permission::Sign]);
        let signature = match c.answer(&HostCall::Sign(SignRequest { message: b"m".to_vec() })) {
            HostReply::Signature(s) => s.into_vec(),
            other => panic!("{other:?}"),
        };
        let key = c.services.identity().public_key().to_bytes();
        let verify = |message: &[u8]| {
            HostCall::Verify(weft_plugin_api::VerifyRequest {
                public_key: key.to_vec(),
                message: message.to_vec(),
                signature: signature.clone(),
            })
        };
        assert_eq!(c.answer(&verify(b"m")), HostReply::Verified(true));
        assert_eq!(c.answer(&verify(b"n")), HostReply::Verified(false));
        // Not a plain signature over the message: it could not pass as a TLS handshake signature.
        assert!(!crypto::verify(&key, b"m", &signature));
        // Finding 4 of issue 18: every plugin with `sign` signed in one shared
        // context, so any of them could forge another's signed objects. A
        // signature made for plugin `p` does not verify in plugin `fapp`
        // (on this node or any other), and `fapp`'s own signatures do.
        let fapp = InstanceHostCalls::new(c.services.clone(), "fapp", [Permission::Sign].into_iter().collect());
        assert_eq!(fapp.answer(&verify(b"m")), HostReply::Verified(false), "p's signature passed as fapp's");
        assert!(!crypto::verify_plugin_signature("fapp", &key, b"m", &signature));
        assert!(crypto::verify_plugin_signature("p", &key, b"m", &signature));
        let own = match fapp.answer(&HostCall::Sign(SignRequest { message: b"m".to_vec() })) {
            HostReply::Signature(s) => s.into_vec(),
            other => panic!("{other:?}"),
        };
        assert!(crypto::verify_plugin_signature("fapp", &key, b"m", &own));
    }
}
