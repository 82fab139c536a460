//! Secret values at rest: AES-256-GCM under the instance's master key, a
//! random nonce per value, and the value's address as associated data (the
//! tenant, namespace and key of a namespace secret; the tenant, flow and
//! input of a SECRET input), so that a ciphertext copied to another
//! tenant's row, or to another address, does not open.

use crate::TenantId;
use aes_gcm::aead::{Aead, AeadCore, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;

/// The first byte of every sealed value: which scheme sealed it.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// Seals and opens secret values.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

/// The master key is unusable or a stored value does not open.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the secrets master key must be base64 of exactly 32 bytes")]
    BadKey,
    #[error("a stored secret does not open with this master key")]
    Unreadable,
}

impl SecretBox {
    /// A box for a base64 master key of 32 bytes.
    pub fn new(master_key_base64: &str) -> Result<SecretBox, CryptoError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(master_key_base64.trim())
            .map_err(|_| CryptoError::BadKey)?;
        let key = Key::<Aes256Gcm>::try_from(bytes.as_slice()).map_err(|_| CryptoError::BadKey)?;
        Ok(SecretBox {
            cipher: Aes256Gcm::new(&key),
        })
    }

    /// Encrypts `value` for one tenant, namespace and key.
    pub fn seal(&self, tenant: &TenantId, namespace: &str, key: &str, value: &str) -> Vec<u8> {
        self.seal_at(
            &associated_data(&[tenant.storage_key(), namespace, key]),
            value,
        )
    }

    /// Decrypts what [`SecretBox::seal`] produced for the same address.
    pub fn open(
        &self,
        tenant: &TenantId,
        namespace: &str,
        key: &str,
        sealed: &[u8],
    ) -> Result<String, CryptoError> {
        self.open_at(
            &associated_data(&[tenant.storage_key(), namespace, key]),
            sealed,
        )
    }

    /// Encrypts the value of a SECRET input of one flow for its execution
    /// row, as base64 text (what the API shows, as Kestra shows it).
    pub fn seal_input(&self, tenant: &TenantId, input: &InputAddress<'_>, value: &str) -> String {
        let sealed = self.seal_at(&input.associated_data(tenant), value);
        base64::engine::general_purpose::STANDARD.encode(sealed)
    }

    /// Decrypts what [`SecretBox::seal_input`] produced for the same flow
    /// and input of the same tenant.
    pub fn open_input(
        &self,
        tenant: &TenantId,
        input: &InputAddress<'_>,
        sealed: &str,
    ) -> Result<String, CryptoError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| CryptoError::Unreadable)?;
        self.open_at(&input.associated_data(tenant), &bytes)
    }

    fn seal_at(&self, aad: &[u8], value: &str) -> Vec<u8> {
        let nonce = Nonce::generate();
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: value.as_bytes(),
                    aad,
                },
            )
            .expect("AES-GCM encryption cannot fail for inputs under 64 GiB");
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    fn open_at(&self, aad: &[u8], sealed: &[u8]) -> Result<String, CryptoError> {
        let (&version, rest) = sealed.split_first().ok_or(CryptoError::Unreadable)?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return Err(CryptoError::Unreadable);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| CryptoError::Unreadable)?;
        let plain = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Unreadable)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Unreadable)
    }
}

/// Where a SECRET input's value belongs: its flow revision and input id.
/// The revision is part of it, so a replay of an old execution with a
/// newer (edited) revision of the flow cannot open what users typed in.
pub struct InputAddress<'a> {
    pub namespace: &'a str,
    pub flow_id: &'a str,
    pub revision: i32,
    pub input: &'a str,
}

impl InputAddress<'_> {
    /// Six parts, the second one a phrase no namespace can be (namespaces
    /// hold no space), so no input's address is a namespace secret's.
    fn associated_data(&self, tenant: &TenantId) -> Vec<u8> {
        associated_data(&[
            tenant.storage_key(),
            "SECRET input",
            self.namespace,
            self.flow_id,
            &self.revision.to_string(),
            self.input,
        ])
    }
}

/// Unambiguous: every part is length-prefixed.
fn associated_data(parts: &[&str]) -> Vec<u8> {
    let mut aad = Vec::new();
    for part in parts {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

// `AeadCore` is needed for `Nonce::generate` on the cipher's nonce size.
const _: fn() = || {
    fn assert_core<T: AeadCore>() {}
    assert_core::<Aes256Gcm>();
};

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> String {
        base64::engine::general_purpose::STANDARD.encode([7u8; 32])
    }

    #[test]
    fn a_sealed_value_opens_only_at_its_own_address() {
        let secrets = SecretBox::new(&key()).expect("key");
        let acme = TenantId::parse("acme").expect("tenant");
        let other = TenantId::parse("other").expect("tenant");
        let sealed = secrets.seal(&acme, "prod", "DB_PASSWORD", "hunter2");
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(
            secrets
                .open(&acme, "prod", "DB_PASSWORD", &sealed)
                .expect("opens"),
            "hunter2"
        );
        assert!(
            secrets
                .open(&other, "prod", "DB_PASSWORD", &sealed)
                .is_err()
        );
        assert!(secrets.open(&acme, "dev", "DB_PASSWORD", &sealed).is_err());
        let again = secrets.seal(&acme, "prod", "DB_PASSWORD", "hunter2");
        assert_ne!(sealed, again, "a fresh nonce per value");
        let wrong = SecretBox::new(&base64::engine::general_purpose::STANDARD.encode([8u8; 32]))
            .expect("key");
        assert!(wrong.open(&acme, "prod", "DB_PASSWORD", &sealed).is_err());
        assert!(SecretBox::new("c2hvcnQ=").is_err());
    }

    #[test]
    fn a_secret_input_opens_only_for_its_own_tenant_flow_and_input() {
        let secrets = SecretBox::new(&key()).expect("key");
        let acme = TenantId::parse("acme").expect("tenant");
        let at = |flow_id, input| InputAddress {
            namespace: "prod",
            flow_id,
            revision: 1,
            input,
        };
        let sealed = secrets.seal_input(&acme, &at("deploy", "token"), "s3cr3t-value");
        assert!(!sealed.contains("s3cr3t"));
        assert_eq!(
            secrets
                .open_input(&acme, &at("deploy", "token"), &sealed)
                .expect("opens"),
            "s3cr3t-value"
        );
        let other = TenantId::parse("other").expect("tenant");
        assert!(
            secrets
                .open_input(&other, &at("deploy", "token"), &sealed)
                .is_err()
        );
        assert!(
            secrets
                .open_input(&acme, &at("deploy", "other"), &sealed)
                .is_err()
        );
        assert!(
            secrets
                .open_input(&acme, &at("build", "token"), &sealed)
                .is_err()
        );
        let next_revision = InputAddress {
            revision: 2,
            ..at("deploy", "token")
        };
        assert!(secrets.open_input(&acme, &next_revision, &sealed).is_err());
        assert!(
            secrets
                .open_input(&acme, &at("deploy", "token"), "not base64!")
                .is_err()
        );
        // Nor does a namespace secret's ciphertext pass for an input's.
        let namespace_secret = base64::engine::general_purpose::STANDARD
            .encode(secrets.seal(&acme, "prod", "token", "x"));
        assert!(
            secrets
                .open_input(&acme, &at("deploy", "token"), &namespace_secret)
                .is_err()
        );
    }
}
