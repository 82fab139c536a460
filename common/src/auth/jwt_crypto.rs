//! The cryptography behind jsonwebtoken: Ed25519 only.
//!
//! Aerie signs and accepts EdDSA tokens and nothing else, so instead of
//! jsonwebtoken's `rust_crypto` feature (which also builds RSA, P-256,
//! P-384 and HMAC: a cost in every cold build for code that never runs)
//! this module gives it a provider with the one algorithm. Any other
//! algorithm is an error, which is also what [`super::ALGORITHM`] demands.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};

use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory,
    verifier_factory,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(ErrorKind::InvalidAlgorithm.into()),
        rsa_pub_components_from_public_key: |_| Err(ErrorKind::InvalidAlgorithm.into()),
        ec_pub_components_from_private_key: |_, _| Err(ErrorKind::InvalidAlgorithm.into()),
        ed_pub_components_from_private_key: |der, _| {
            let key = SigningKey::from_pkcs8_der(der).map_err(|_| ErrorKind::InvalidEddsaKey)?;
            Ok(key.verifying_key().to_bytes().to_vec())
        },
        compute_digest: |_, _| Err(ErrorKind::InvalidAlgorithm.into()),
    },
};

/// Makes the Ed25519 provider jsonwebtoken's process default. Idempotent;
/// call it before the first `encode` or `decode` (the token verifier and
/// the signer do).
pub fn install() {
    // Err means a provider is already installed: this one, by an earlier call.
    let _ = PROVIDER.install_default();
}

fn signer_factory(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    if *algorithm != Algorithm::EdDSA || key.family() != AlgorithmFamily::Ed {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let key = SigningKey::from_pkcs8_der(key.as_bytes()).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(Box::new(EdSigner(key)))
}

fn verifier_factory(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    if *algorithm != Algorithm::EdDSA || key.family() != AlgorithmFamily::Ed {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let bytes: &[u8; 32] = key
        .try_get_as_bytes()?
        .get(..32)
        .and_then(|b| b.try_into().ok())
        .ok_or(ErrorKind::InvalidEddsaKey)?;
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(Box::new(EdVerifier(key)))
}

struct EdSigner(SigningKey);

impl Signer<Vec<u8>> for EdSigner {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        Ok(self.0.sign(msg).to_bytes().to_vec())
    }
}

impl JwtSigner for EdSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

struct EdVerifier(VerifyingKey);

impl Verifier<Vec<u8>> for EdVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        // Strict: rejects the malleable and small-order signatures that
        // plain verification lets through.
        self.0
            .verify_strict(msg, &Signature::from_slice(signature)?)
            .map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for EdVerifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    use jsonwebtoken::{Header, Validation};

    fn keys() -> (EncodingKey, DecodingKey) {
        let signing = SigningKey::from_bytes(&[7u8; 32]);
        let der = signing.to_pkcs8_der().expect("der");
        let public = signing.verifying_key().to_bytes();
        (
            EncodingKey::from_ed_der(der.as_bytes()),
            DecodingKey::from_ed_der(&public),
        )
    }

    #[test]
    fn signs_and_verifies_ed25519_and_refuses_the_rest() {
        install();
        let (encoding, decoding) = keys();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let claims = serde_json::json!({"sub": "u"});
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &encoding).expect("sign");
        let data = jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation)
            .expect("verify");
        assert_eq!(data.claims["sub"], "u");

        // A flipped signature byte fails.
        let mut tampered = token.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        assert!(
            jsonwebtoken::decode::<serde_json::Value>(&tampered, &decoding, &validation).is_err()
        );

        // HMAC is not available at all, so an "alg: HS256" token signed with
        // the public key (the classic confusion attack) cannot verify.
        let hmac = EncodingKey::from_secret(b"secret").expect("hmac key");
        assert!(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &hmac).is_err());
    }
}
