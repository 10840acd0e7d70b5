//! Synchronous host calls: the few questions a plugin needs answered at once.
//!
//! Owns: [`HostCall`], [`HostReply`] and [`HostError`]. Time and randomness
//! are separate, cheaper entry points (see `docs/ABI.md`); everything else goes
//! through these CBOR-encoded request/reply pairs. Keys never leave the host:
//! plugins ask it to sign, verify, seal and open.

use crate::address::Address;
use crate::tagged::tagged_enum;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// Ask the host to sign bytes with the node's Ed25519 key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignRequest {
    /// Bytes to sign.
    #[serde(with = "serde_bytes")]
    pub message: Vec<u8>,
}

/// Ask the host to verify an Ed25519 signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyRequest {
    /// The signer's 32-byte Ed25519 public key.
    #[serde(with = "serde_bytes")]
    pub public_key: Vec<u8>,
    /// The signed bytes.
    #[serde(with = "serde_bytes")]
    pub message: Vec<u8>,
    /// The 64-byte signature.
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

/// Ask the host to seal bytes so only `to` can open them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealRequest {
    /// Recipient node.
    pub to: Address,
    /// Bytes to seal.
    #[serde(with = "serde_bytes")]
    pub plaintext: Vec<u8>,
}

/// Ask the host to open bytes sealed to this node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenRequest {
    /// Sealed bytes as produced by a seal call.
    #[serde(with = "serde_bytes")]
    pub sealed: Vec<u8>,
}

/// Read a key from the plugin's own key/value namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvGetRequest {
    /// Key bytes.
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
}

/// Ask for the Ed25519 public key of a node this node knows (since 1.3):
/// from its signed announce, or this node's own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownKeyRequest {
    /// The node.
    pub address: Address,
}

/// List keys of the plugin's own key/value namespace (since 1.3), in byte
/// order, one page at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvKeysRequest {
    /// Only keys starting with these bytes (empty: all keys).
    #[serde(with = "serde_bytes")]
    pub prefix: Vec<u8>,
    /// Only keys after this one (the last key of the previous page).
    #[serde(default)]
    pub after: Option<serde_bytes::ByteBuf>,
    /// At most this many keys; the host caps it at [`KV_KEYS_PAGE_MAX`].
    pub limit: u32,
}

/// The most keys one [`KvKeysRequest`] answers.
pub const KV_KEYS_PAGE_MAX: u32 = 1024;

/// The result of opening sealed bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opened {
    /// The plaintext.
    #[serde(with = "serde_bytes")]
    pub plaintext: Vec<u8>,
    /// The sealing node's Ed25519 public key hash, when it revealed itself.
    pub sender: Option<Address>,
}

/// Machine-readable class of a [`HostError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostErrorCode {
    /// The plugin lacks the permission this call needs.
    Denied,
    /// This host does not implement the call (newer minor, or not configured).
    Unsupported,
    /// The thing asked about does not exist (e.g. no key known for an address).
    NotFound,
    /// The request was malformed (wrong key length, undecodable request...).
    BadRequest,
    /// The operation failed (e.g. sealed bytes do not authenticate).
    Failed,
    /// A code added by a later ABI minor.
    #[serde(other)]
    Other,
}

/// A host call that could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostError {
    /// Class of error.
    pub code: HostErrorCode,
    /// Detail.
    pub message: String,
}

impl HostError {
    /// Creates an error.
    pub fn new(code: HostErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl core::fmt::Display for HostError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl std::error::Error for HostError {}

/// Unit payload for calls without arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NoArgs {}

tagged_enum! {
    /// A synchronous question from a plugin to the host.
    #[derive(Debug, Clone, PartialEq)]
    pub enum HostCall {
        /// This node's address.
        OwnAddress(NoArgs) = 1,
        /// This node's Ed25519 public key.
        PublicKey(NoArgs) = 2,
        /// Sign with the node key (permission `sign`).
        Sign(SignRequest) = 3,
        /// Verify a signature.
        Verify(VerifyRequest) = 4,
        /// Seal to a node (permission `seal`).
        Seal(SealRequest) = 5,
        /// Open bytes sealed to this node (permission `seal`).
        Open(OpenRequest) = 6,
        /// Read a stored value (permission `storage`).
        KvGet(KvGetRequest) = 7,
        /// A known node's public key (since 1.3).
        KnownKey(KnownKeyRequest) = 8,
        /// List stored keys (permission `storage`, since 1.3).
        KvKeys(KvKeysRequest) = 9,
    }
}

tagged_enum! {
    /// The host's answer to a [`HostCall`].
    #[derive(Debug, Clone, PartialEq)]
    pub enum HostReply {
        /// Answer to `OwnAddress`.
        Address(Address) = 1,
        /// Answer to `PublicKey` (32 bytes).
        PublicKey(ByteBuf) = 2,
        /// Answer to `Sign` (64 bytes).
        Signature(ByteBuf) = 3,
        /// Answer to `Verify`.
        Verified(bool) = 4,
        /// Answer to `Seal`.
        Sealed(ByteBuf) = 5,
        /// Answer to `Open`.
        Opened(Opened) = 6,
        /// Answer to `KvGet`.
        Value(Option<ByteBuf>) = 7,
        /// Answer to `KvKeys`: keys in byte order.
        Keys(Vec<ByteBuf>) = 8,
        /// The call failed.
        Error(HostError) = 255,
    }
}
