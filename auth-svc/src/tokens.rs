//! Signing keys and access tokens: Ed25519 keys generated here, JWTs with
//! `kid`, `iss`, `aud`, `exp`, `iat`, `nbf`; public keys as JWKs.

use aerie_common::auth::token::now_secs;
use aerie_common::auth::{ALGORITHM, AUDIENCE, Claims, ISSUER};
use aerie_proto::auth::v1 as pb;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{EncodingKey, Header};
use sha2::{Digest, Sha256};

use crate::repo::{now, signing_keys};

/// A fresh signing key; the kid is derived from the public key.
pub fn generate_key() -> Result<signing_keys::Model, String> {
    key_from_seed(&rand::random())
}

/// The signing key configured as `aerie.security.jwt-signing-key`: base64
/// of a 32-byte Ed25519 seed (`openssl rand -base64 32`).
pub fn configured_key(base64_seed: &str) -> Result<signing_keys::Model, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64_seed.trim())
        .map_err(|_| "security.jwt-signing-key is not base64".to_owned())?;
    let seed: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
        format!(
            "security.jwt-signing-key must be 32 bytes (base64 of `openssl rand 32`), not {}",
            b.len()
        )
    })?;
    key_from_seed(&seed)
}

fn key_from_seed(seed: &[u8; 32]) -> Result<signing_keys::Model, String> {
    let key = ed25519_dalek::SigningKey::from_bytes(seed);
    let der = key
        .to_pkcs8_der()
        .map_err(|e| format!("cannot encode signing key: {e}"))?;
    let public = key.verifying_key().to_bytes();
    let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(public)[..12]);
    Ok(signing_keys::Model {
        kid,
        private_der: der.as_bytes().to_vec(),
        public_key: public.to_vec(),
        create_time: now(),
        retire_time: None,
    })
}

/// Signs an access token for a user.
pub fn issue(
    key: &signing_keys::Model,
    user_id: &str,
    username: &str,
    ttl_secs: u64,
) -> Result<String, String> {
    let now = now_secs();
    let claims = Claims {
        iss: ISSUER.to_owned(),
        aud: AUDIENCE.to_owned(),
        sub: user_id.to_owned(),
        name: username.to_owned(),
        iat: now,
        nbf: now,
        exp: now + ttl_secs,
        jti: uuid::Uuid::new_v4().to_string(),
    };
    aerie_common::auth::jwt_crypto::install();
    let mut header = Header::new(ALGORITHM);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_ed_der(&key.private_der),
    )
    .map_err(|e| format!("cannot sign token: {e}"))
}

/// A new service-account API token: the prefix, then 256 random bits.
/// The claims of an access token that the auth layer verified for this
/// very call (signature, expiry, audience); read here without checking the
/// signature again. `None` for anything that is not such a JWT.
pub fn verified_claims(authorization: &str) -> Option<Claims> {
    let token = authorization
        .strip_prefix("Bearer ")
        .or_else(|| authorization.strip_prefix("bearer "))?
        .trim();
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub fn new_api_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "{}{}",
        aerie_common::auth::API_TOKEN_PREFIX,
        URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// How an API token is stored: SHA-256, hex. The token has 256 random bits,
/// so a fast hash is enough (no password-style stretching needed).
pub fn api_token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The public half of a key, as a JWK.
pub fn jwk(key: &signing_keys::Model) -> pb::Jwk {
    pb::Jwk {
        kty: "OKP".to_owned(),
        crv: "Ed25519".to_owned(),
        x: URL_SAFE_NO_PAD.encode(&key.public_key),
        kid: key.kid.clone(),
        alg: "EdDSA".to_owned(),
        r#use: "sig".to_owned(),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_configured_key_is_a_base64_ed25519_seed() {
        use base64::engine::general_purpose::STANDARD;
        let key = configured_key(&STANDARD.encode([7u8; 32])).expect("valid seed");
        let again = configured_key(&format!(" {}\n", STANDARD.encode([7u8; 32]))).expect("trimmed");
        assert_eq!(key.kid, again.kid, "the kid follows from the key");
        assert_eq!(key.private_der, again.private_der);
        let err = configured_key(&STANDARD.encode([7u8; 16])).expect_err("short");
        assert!(err.contains("32 bytes") && err.contains("16"), "{err}");
        let err = configured_key("not base64!").expect_err("garbage");
        assert!(err.contains("not base64"), "{err}");
    }

    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    #[test]
    fn issued_tokens_verify_with_the_published_key() {
        let key = generate_key().expect("key");
        let token = issue(&key, "user-1", "alice", 60).expect("token");
        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));
        assert_eq!(header.alg, ALGORITHM);
        let jwk = jwk(&key);
        let decoding = DecodingKey::from_ed_components(&jwk.x).expect("jwk");
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        let data = jsonwebtoken::decode::<Claims>(&token, &decoding, &validation).expect("valid");
        assert_eq!(data.claims.sub, "user-1");
        assert_eq!(data.claims.exp - data.claims.iat, 60);
        let other = generate_key().expect("key");
        let wrong = DecodingKey::from_ed_components(&super::jwk(&other).x).expect("jwk");
        assert!(jsonwebtoken::decode::<Claims>(&token, &wrong, &validation).is_err());
    }
}
