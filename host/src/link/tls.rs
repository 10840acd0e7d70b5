//! TLS for QUIC links, derived from the node key.
//!
//! Owns: the self-signed certificate made from the node's Ed25519 key, the
//! certificate verifiers on both sides, and the rustls/quinn configs. A
//! certificate proves nothing by its issuer here; what counts is that the
//! TLS 1.3 handshake is signed by the Ed25519 key inside it, and that key
//! hashes to the address we expect. Both checks use the same key, extracted
//! by one function ([`peer_key`]).
//!
//! Must not: decide which peers to dial or keep; that is the link manager's.

use ed25519_dalek::{Signature, VerifyingKey};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use std::sync::Arc;
use weft_core::crypto::{NodeIdentity, address_of};
use weft_plugin_api::Address;

/// ALPN protocol id of Weft links.
pub const ALPN: &[u8] = b"weft/1";
/// The server name used on the wire (certificates are not checked by name).
pub const SERVER_NAME: &str = "weft";

/// Ed25519 SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (32 bytes) }.
const ED25519_SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
/// PKCS#8 v1 wrapper of an Ed25519 seed.
const ED25519_PKCS8_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

/// TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("TLS setup: {0}")]
pub struct TlsError(String);

/// Why a peer's certificate names no usable node key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerCertError {
    /// webpki could not parse it.
    #[error("unparsable certificate: {0}")]
    Unparsable(String),
    /// Its key is of another algorithm.
    #[error("the certificate key is not Ed25519")]
    NotEd25519,
    /// Its key is not a valid Ed25519 point.
    #[error("the certificate holds an invalid Ed25519 key")]
    InvalidKey,
    /// The connection carries no certificate.
    #[error("the peer presented no certificate")]
    None,
    /// The connection's identity is not a rustls certificate chain.
    #[error("unexpected peer identity type")]
    UnexpectedType,
    /// The chain is empty.
    #[error("the peer presented an empty certificate chain")]
    EmptyChain,
}

/// The Ed25519 key inside a peer certificate (parsed with webpki, so it is
/// the key the certificate really carries, not bytes that look like one).
pub fn peer_key(cert: &CertificateDer<'_>) -> Result<VerifyingKey, PeerCertError> {
    let parsed = webpki::EndEntityCert::try_from(cert).map_err(|e| PeerCertError::Unparsable(format!("{e:?}")))?;
    let spki = parsed.subject_public_key_info();
    let bytes: &[u8] = spki.as_ref();
    let key = bytes
        .strip_prefix(&ED25519_SPKI_PREFIX[..])
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .ok_or(PeerCertError::NotEd25519)?;
    VerifyingKey::from_bytes(&key).map_err(|_| PeerCertError::InvalidKey)
}

/// The address of the node that presented `cert`.
pub fn peer_address(cert: &CertificateDer<'_>) -> Result<Address, PeerCertError> {
    peer_key(cert).map(|k| address_of(&k))
}

fn certificate(identity: &NodeIdentity) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TlsError> {
    let mut pkcs8 = ED25519_PKCS8_PREFIX.to_vec();
    pkcs8.extend_from_slice(&identity.secret_seed());
    let der = PrivatePkcs8KeyDer::from(pkcs8);
    let key_pair = rcgen::KeyPair::try_from(&der).map_err(|e| TlsError(format!("node key: {e}")))?;
    let mut params =
        rcgen::CertificateParams::new(vec![SERVER_NAME.to_string()]).map_err(|e| TlsError(e.to_string()))?;
    params.distinguished_name.push(rcgen::DnType::CommonName, identity.address().to_string());
    let cert = params.self_signed(&key_pair).map_err(|e| TlsError(format!("certificate: {e}")))?;
    Ok((cert.der().clone(), PrivateKeyDer::Pkcs8(der)))
}

/// Checks the peer's certificate: Ed25519, and (when dialing) hashing to the
/// expected address.
#[derive(Debug)]
struct PeerVerifier {
    expected: Option<Address>,
}

impl PeerVerifier {
    fn check(&self, cert: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        let address = peer_address(cert).map_err(|e| rustls::Error::General(e.to_string()))?;
        match self.expected {
            Some(expected) if expected != address => Err(rustls::Error::General(format!(
                "peer key mismatch: its key hashes to {address}, expected {expected}"
            ))),
            _ => Ok(()),
        }
    }

    fn signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_handshake(message, cert, dss.scheme, dss.signature())
            .map(|_| HandshakeSignatureValid::assertion())
            .map_err(rustls::Error::General)
    }
}

/// Checks that `signature` over the handshake `message` was made, with
/// Ed25519, by the key inside `cert` (the key the address check used).
fn verify_handshake(
    message: &[u8],
    cert: &CertificateDer<'_>,
    scheme: SignatureScheme,
    signature: &[u8],
) -> Result<(), String> {
    if scheme != SignatureScheme::ED25519 {
        return Err(format!("handshake signed with {scheme:?}, expected Ed25519"));
    }
    let key = peer_key(cert).map_err(|e| e.to_string())?;
    let signature = Signature::from_slice(signature).map_err(|_| "malformed handshake signature".to_string())?;
    key.verify_strict(message, &signature).map_err(|_| "handshake signature does not verify".to_string())
}

fn no_tls12() -> Result<HandshakeSignatureValid, rustls::Error> {
    Err(rustls::Error::General("TLS 1.2 is not used by Weft links".into()))
}

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity).map(|_| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        no_tls12()
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

impl ClientCertVerifier for PeerVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity).map(|_| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        no_tls12()
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server side: presents the node certificate, requires a client
/// certificate from any valid Ed25519 key (its address is the peer's identity).
pub fn server_crypto(identity: &NodeIdentity) -> Result<quinn::crypto::rustls::QuicServerConfig, TlsError> {
    let (cert, key) = certificate(identity)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsError(e.to_string()))?
        .with_client_cert_verifier(Arc::new(PeerVerifier { expected: None }))
        .with_single_cert(vec![cert], key)
        .map_err(|e| TlsError(e.to_string()))?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.max_early_data_size = 0;
    quinn::crypto::rustls::QuicServerConfig::try_from(config).map_err(|e| TlsError(e.to_string()))
}

/// The client side for dialing a node that must have address `expected`.
pub fn client_crypto(
    identity: &NodeIdentity,
    expected: Address,
) -> Result<quinn::crypto::rustls::QuicClientConfig, TlsError> {
    let (cert, key) = certificate(identity)?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsError(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PeerVerifier { expected: Some(expected) }))
        .with_client_auth_cert(vec![cert], key)
        .map_err(|e| TlsError(e.to_string()))?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    quinn::crypto::rustls::QuicClientConfig::try_from(config).map_err(|e| TlsError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_carries_the_node_key_and_address() {
        let identity = NodeIdentity::from_secret([5; 32]);
        let (cert, _) = certificate(&identity).unwrap();
        assert_eq!(peer_key(&cert).unwrap(), identity.public_key());
        assert_eq!(peer_address(&cert).unwrap(), identity.address());
    }

    #[test]
    fn a_certificate_for_another_key_is_refused_with_both_addresses() {
        let (cert, _) = certificate(&NodeIdentity::from_secret([5; 32])).unwrap();
        let expected = NodeIdentity::from_secret([6; 32]).address();
        let err = PeerVerifier { expected: Some(expected) }.check(&cert).unwrap_err().to_string();
        assert!(err.contains("mismatch") && err.contains(&expected.to_string()), "{err}");
        assert!(peer_key(&CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00])).is_err());
    }

    #[test]
    fn a_handshake_signature_must_come_from_the_certificate_key() {
        let holder = NodeIdentity::from_secret([5; 32]);
        let other = NodeIdentity::from_secret([6; 32]);
        let (cert, _) = certificate(&holder).unwrap();
        let message = b"transcript";
        let sig = |id: &NodeIdentity| id.sign(message).to_bytes().to_vec();
        let ed = SignatureScheme::ED25519;
        assert!(verify_handshake(message, &cert, ed, &sig(&holder)).is_ok());
        assert!(verify_handshake(message, &cert, ed, &sig(&other)).is_err(), "a stolen certificate is useless");
        assert!(verify_handshake(b"other transcript", &cert, ed, &sig(&holder)).is_err());
        let ecdsa = SignatureScheme::ECDSA_NISTP256_SHA256;
        assert!(verify_handshake(message, &cert, ecdsa, &sig(&holder)).is_err());
    }
}
