//! The host side of the synchronous host calls.
//!
//! Owns: [`HostServices`] (what the node offers every plugin: identity, known
//! keys, key/value reads, clock) and [`InstanceHostCalls`] (one instance's view,
//! with its namespace and granted permissions enforced). Both bindings answer
//! host calls through [`InstanceHostCalls::answer`], so permission checks exist
//! once.

use crate::kv::KvStore;
use ed25519_dalek::VerifyingKey;
use serde_bytes::ByteBuf;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};
use weft_core::crypto::{self, NodeIdentity};
use weft_plugin_api::host_call::{HostCall, HostReply, KV_KEYS_PAGE_MAX};
use weft_plugin_api::{Address, HostError, HostErrorCode, Opened, Permission};

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

    /// Forgets the key of `address` (the routing table let the node go).
    pub fn forget_key(&self, address: &Address) {
        if let Ok(mut keys) = self.known_keys.write() {
            keys.remove(address);
        }
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
                        match crypto::seal(&mut rand::rngs::OsRng, &x, &req.plaintext) {
                            Some(sealed) => HostReply::Sealed(ByteBuf::from(sealed)),
                            None => HostReply::Error(HostError::new(
                                HostErrorCode::Failed,
                                format!("nothing can be sealed to the key of {}", req.to),
                            )),
                        }
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
                match services.identity.open_sealed(&req.sealed) {
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
                    Err(e) => HostReply::Error(HostError::new(HostErrorCode::Failed, e.to_string())),
                }
            }
            HostCall::KnownKey(req) => match services.key_of(&req.address) {
                Some(key) => HostReply::PublicKey(ByteBuf::from(key.to_bytes().to_vec())),
                None => HostReply::Error(HostError::new(
                    HostErrorCode::NotFound,
                    format!("no public key known for {} (it has not announced itself to this node)", req.address),
                )),
            },
            HostCall::KvKeys(req) => {
                if !self.permissions.contains(&Permission::Storage) {
                    return denied(Permission::Storage);
                }
                let limit = req.limit.min(KV_KEYS_PAGE_MAX) as usize;
                let after = req.after.as_ref().map(|a| a.as_slice());
                match services.kv.keys(&self.namespace, &req.prefix, after, limit) {
                    Ok(keys) => HostReply::Keys(keys.into_iter().map(ByteBuf::from).collect()),
                    Err(e) => HostReply::Error(HostError::new(HostErrorCode::Failed, e.to_string())),
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
        let reply = match weft_plugin_api::internal::codec::decode::<HostCall>(request) {
            Ok(call) => self.answer(&call),
            Err(e) => {
                HostReply::Error(HostError::new(HostErrorCode::BadRequest, format!("undecodable host call: {e}")))
            }
        };
        out.clear();
        if weft_plugin_api::internal::codec::encode_into(&reply, out).is_err() {
            out.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::MemoryKv;
    use weft_plugin_api::host_call::{KvGetRequest, NoArgs, OpenRequest, SealRequest, SignRequest};

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
    fn known_keys_are_answered_and_keys_listed_with_storage_only() {
        use weft_plugin_api::host_call::{KnownKeyRequest, KvKeysRequest};
        let c = calls(&[Permission::Storage]);
        let own = c.services.identity().address();
        let other = NodeIdentity::from_secret([2; 32]);
        let ask = |address| c.answer(&HostCall::KnownKey(KnownKeyRequest { address }));
        assert_eq!(
            ask(own),
            HostReply::PublicKey(ByteBuf::from(c.services.identity().public_key().to_bytes().to_vec()))
        );
        assert!(matches!(ask(other.address()), HostReply::Error(HostError { code: HostErrorCode::NotFound, .. })));
        assert_eq!(c.services.learn_key(other.public_key()), other.address());
        assert_eq!(ask(other.address()), HostReply::PublicKey(ByteBuf::from(other.public_key().to_bytes().to_vec())));

        let writes: Vec<_> = (0..1500u32).map(|i| (format!("k/{i:05}").into_bytes(), Some(vec![1]))).collect();
        c.services.kv().commit("p", &writes).unwrap();
        let list = |after: Option<&str>, limit| {
            let call = HostCall::KvKeys(KvKeysRequest {
                prefix: b"k/".to_vec(),
                after: after.map(|a| ByteBuf::from(a.as_bytes().to_vec())),
                limit,
            });
            match c.answer(&call) {
                HostReply::Keys(keys) => keys.into_iter().map(|k| String::from_utf8(k.into_vec()).unwrap()).collect(),
                other => panic!("{other:?}"),
            }
        };
        let first: Vec<String> = list(None, u32::MAX);
        assert_eq!(first.len(), KV_KEYS_PAGE_MAX as usize, "a page is capped");
        assert_eq!(first[0], "k/00000");
        let rest = list(Some(first.last().unwrap()), u32::MAX);
        assert_eq!((rest.len(), rest[0].as_str()), (1500 - KV_KEYS_PAGE_MAX as usize, "k/01024"));
        let denied = calls(&[]).answer(&HostCall::KvKeys(KvKeysRequest { prefix: vec![], after: None, limit: 1 }));
        assert!(matches!(denied, HostReply::Error(HostError { code: HostErrorCode::Denied, .. })));
    }

    /// The SDK's `TestHost` answers crypto calls with its own code; it must
    /// stay byte-compatible with the host's, in both directions.
    #[test]
    fn the_sdk_test_host_s_crypto_matches_the_host_s() {
        use weft_plugin_api::testing::{KeyDirectory, TestIdentity};
        let host = calls(&[Permission::Seal, Permission::Sign]);
        let directory = KeyDirectory::new();
        let sdk = TestIdentity::new([7; 32], "p", &directory);
        directory.learn(host.services.identity().public_key().to_bytes());
        let sdk_key = VerifyingKey::from_bytes(&sdk.public_key()).unwrap();
        assert_eq!(host.services.learn_key(sdk_key), sdk.address(), "the same address from the same key");
        let reply = |r: Option<HostReply>| r.expect("answered");

        // SDK seals, host opens; host seals, SDK opens.
        let to_host = SealRequest { to: host.services.identity().address(), plaintext: b"to the host".to_vec() };
        let HostReply::Sealed(sealed) = reply(sdk.answer(&HostCall::Seal(to_host), || [9; 32])) else { panic!() };
        let opened = host.answer(&HostCall::Open(OpenRequest { sealed: sealed.into_vec() }));
        assert_eq!(opened, HostReply::Opened(Opened { plaintext: b"to the host".to_vec(), sender: None }));
        let to_sdk = SealRequest { to: sdk.address(), plaintext: b"to the sdk".to_vec() };
        let HostReply::Sealed(sealed) = host.answer(&HostCall::Seal(to_sdk)) else { panic!() };
        let opened = reply(sdk.answer(&HostCall::Open(OpenRequest { sealed: sealed.into_vec() }), || [0; 32]));
        assert_eq!(opened, HostReply::Opened(Opened { plaintext: b"to the sdk".to_vec(), sender: None }));

        // Signatures in the same per-plugin context, both ways.
        let sign = HostCall::Sign(SignRequest { message: b"m".to_vec() });
        let HostReply::Signature(by_sdk) = reply(sdk.answer(&sign, || [0; 32])) else { panic!() };
        let HostReply::Signature(by_host) = host.answer(&sign) else { panic!() };
        let verify = |key: &[u8], signature: &[u8]| {
            HostCall::Verify(weft_plugin_api::host_call::VerifyRequest {
                public_key: key.to_vec(),
                message: b"m".to_vec(),
                signature: signature.to_vec(),
            })
        };
        assert_eq!(host.answer(&verify(&sdk.public_key(), &by_sdk)), HostReply::Verified(true));
        let host_key = host.services.identity().public_key().to_bytes();
        assert_eq!(reply(sdk.answer(&verify(&host_key, &by_host), || [0; 32])), HostReply::Verified(true));
        let other_plugin = TestIdentity::new([8; 32], "q", &directory);
        assert_eq!(reply(other_plugin.answer(&verify(&host_key, &by_host), || [0; 32])), HostReply::Verified(false));
    }

    #[test]
    fn garbage_requests_get_an_error_reply() {
        let c = calls(&[]);
        let mut out = Vec::new();
        c.answer_encoded(&[0xff, 0x00], &mut out);
        let reply: HostReply = weft_plugin_api::internal::codec::decode(&out).unwrap();
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
            HostCall::Verify(weft_plugin_api::host_call::VerifyRequest {
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
