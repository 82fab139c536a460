//! Verifying bearer credentials: Ed25519 JWTs checked locally against the
//! published keys (algorithm pinned, `exp`/`iss`/`aud`/`nbf` required, small
//! leeway) and, once per token and process, against auth-svc's list of
//! tokens ended by signing out; verified tokens are cached until expiry or
//! until auth-svc announces that their user changed. Service-account API
//! tokens are resolved by auth-svc (cached until auth-svc announces that the
//! account changed). Either way a revoked token stops working within a
//! second or so.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::cache::Cache;
use crate::grpc::Channel;
use aerie_proto::auth::internal::v1::auth_internal_service_client::AuthInternalServiceClient;
use aerie_proto::auth::internal::v1::{AuthenticateApiTokenRequest, CheckTokenRevokedRequest};
use aerie_proto::auth::v1::GetJwksRequest;
use aerie_proto::auth::v1::auth_service_client::AuthServiceClient;
use jsonwebtoken::{DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use tonic::{Code, Status};

use super::{ALGORITHM, API_TOKEN_PREFIX, AUDIENCE, Caller, ISSUER, PrincipalKind};
use crate::changes::{Change, ChangeWatch, WATCHED_TTL};

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 30;
/// At most one JWKS refresh per this interval, so that tokens with made-up
/// key ids cannot turn into a flood of key fetches. A token of a key just
/// rotated in waits at most this long for the refresh.
const JWKS_REFRESH_INTERVAL: Duration = Duration::from_millis(500);

/// The claims of an Aerie access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// The username, for logs and `/me`.
    pub name: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    /// Unique token id.
    pub jti: String,
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A JWT verified here and not revoked.
#[derive(Clone)]
struct VerifiedToken {
    caller: Caller,
    /// Its `exp` (seconds since the epoch).
    expires: u64,
    /// When it was checked, for [`ChangeWatch::trusts`].
    at: Instant,
}

/// An API token resolved by auth-svc.
#[derive(Clone)]
struct ResolvedToken {
    caller: Caller,
    /// When it was resolved, for [`ChangeWatch::trusts`].
    at: Instant,
    /// The token's own expiry (seconds since the epoch), if any.
    expires: Option<u64>,
}

/// Verifies bearer credentials for one process.
pub struct TokenVerifier {
    /// For the published keys.
    auth: AuthServiceClient<Channel>,
    /// For API tokens and revocations.
    internal: AuthInternalServiceClient<Channel>,
    keys: RwLock<HashMap<String, Arc<DecodingKey>>>,
    last_refresh: Mutex<Option<Instant>>,
    refresh_lock: tokio::sync::Mutex<()>,
    validation: Validation,
    /// Verified JWTs.
    verified: Cache<Arc<str>, VerifiedToken>,
    /// Resolved API tokens (successes only).
    api_tokens: Cache<Arc<str>, ResolvedToken>,
    watch: ChangeWatch,
}

fn unauthenticated(reason: &str) -> Status {
    Status::unauthenticated(format!("invalid credentials: {reason}"))
}

impl TokenVerifier {
    /// A verifier that fetches keys from the auth service behind `channel`;
    /// `watch` says which service accounts changed.
    pub fn new(channel: Channel, watch: &ChangeWatch) -> TokenVerifier {
        super::jwt_crypto::install();
        let mut validation = Validation::new(ALGORITHM);
        validation.algorithms = vec![ALGORITHM];
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "nbf"]);
        TokenVerifier {
            auth: AuthServiceClient::new(channel.clone()),
            internal: AuthInternalServiceClient::new(channel),
            keys: RwLock::new(HashMap::new()),
            last_refresh: Mutex::new(None),
            refresh_lock: tokio::sync::Mutex::new(()),
            validation,
            verified: Self::verified_cache(watch),
            api_tokens: Self::api_token_cache(watch),
            watch: watch.clone(),
        }
    }

    fn verified_cache(watch: &ChangeWatch) -> Cache<Arc<str>, VerifiedToken> {
        let cache: Cache<Arc<str>, VerifiedToken> = Cache::new(100_000, Duration::from_secs(300));
        let tokens = cache.clone();
        watch.on_change(move |change| match change {
            Change::Everything => tokens.invalidate_all(),
            Change::Principal(PrincipalKind::User, id) => {
                tokens.invalidate_if(|_, verified| verified.caller.id == *id);
            }
            Change::Principal(PrincipalKind::ServiceAccount, _) | Change::Tenant(_) => {}
        });
        cache
    }

    fn api_token_cache(watch: &ChangeWatch) -> Cache<Arc<str>, ResolvedToken> {
        let cache: Cache<Arc<str>, ResolvedToken> = Cache::new(100_000, WATCHED_TTL);
        let tokens = cache.clone();
        watch.on_change(move |change| match change {
            Change::Everything => tokens.invalidate_all(),
            Change::Principal(PrincipalKind::ServiceAccount, id) => {
                tokens.invalidate_if(|_, resolved| {
                    resolved.caller.kind == PrincipalKind::ServiceAccount
                        && resolved.caller.id == *id
                });
            }
            Change::Principal(PrincipalKind::User, _) | Change::Tenant(_) => {}
        });
        cache
    }

    /// Verifies an `authorization` header value (`Bearer <token>`).
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, Status> {
        let header = authorization.ok_or_else(|| {
            Status::unauthenticated("authentication required: send authorization: Bearer <token>")
        })?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthenticated("expected 'Bearer <token>'"))?;
        if token.starts_with(API_TOKEN_PREFIX) {
            self.authenticate_api_token(token, header).await
        } else {
            self.authenticate_jwt(token, header).await
        }
    }

    async fn authenticate_api_token(&self, token: &str, header: &str) -> Result<Caller, Status> {
        if let Some(resolved) = self.api_tokens.get(token)
            && self.watch.trusts(resolved.at)
            && resolved.expires.is_none_or(|at| now_secs() < at)
        {
            return Ok(resolved.caller);
        }
        let epoch = self.watch.epoch();
        let principal = self
            .internal
            .clone()
            .authenticate_api_token(AuthenticateApiTokenRequest {
                token: token.to_owned(),
            })
            .await
            .map_err(|status| match status.code() {
                Code::Unauthenticated | Code::NotFound => {
                    unauthenticated("unknown, expired or revoked API token")
                }
                _ => status,
            })?
            .into_inner();
        let caller = Caller::new(
            PrincipalKind::ServiceAccount,
            &principal.id,
            &principal.name,
            header,
        );
        let expires = principal
            .expire_time
            .map(|t| u64::try_from(t.seconds).unwrap_or(0));
        let resolved = ResolvedToken {
            caller: caller.clone(),
            at: Instant::now(),
            expires,
        };
        self.api_tokens
            .insert_if(Arc::from(token), resolved, || self.watch.epoch() == epoch);
        Ok(caller)
    }

    async fn authenticate_jwt(&self, token: &str, header: &str) -> Result<Caller, Status> {
        if let Some(verified) = self.verified.get(token)
            && verified.expires + LEEWAY_SECS > now_secs()
            && self.watch.trusts(verified.at)
        {
            return Ok(verified.caller);
        }
        let epoch = self.watch.epoch();
        let jwt_header =
            jsonwebtoken::decode_header(token).map_err(|_| unauthenticated("malformed token"))?;
        if jwt_header.alg != ALGORITHM {
            return Err(unauthenticated("unexpected signing algorithm"));
        }
        let kid = jwt_header
            .kid
            .ok_or_else(|| unauthenticated("token has no key id"))?;
        let key = self.key(&kid).await?;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            let reason = match e.kind() {
                K::ExpiredSignature => "token expired",
                K::ImmatureSignature => "token not valid yet",
                K::InvalidAudience => "wrong audience",
                K::InvalidIssuer => "wrong issuer",
                K::MissingRequiredClaim(_) => "required claim missing",
                K::InvalidSignature => "bad signature",
                _ => "token rejected",
            };
            unauthenticated(reason)
        })?;
        let claims = data.claims;
        let revoked = self
            .internal
            .clone()
            .check_token_revoked(CheckTokenRevokedRequest {
                jti: claims.jti.clone(),
            })
            .await?
            .into_inner()
            .revoked;
        if revoked {
            return Err(unauthenticated("token ended by signing out"));
        }
        let caller = Caller::new(PrincipalKind::User, &claims.sub, &claims.name, header);
        // A change announced while asking may be this very revocation.
        let verified = VerifiedToken {
            caller: caller.clone(),
            expires: claims.exp,
            at: Instant::now(),
        };
        self.verified
            .insert_if(Arc::from(token), verified, || self.watch.epoch() == epoch);
        Ok(caller)
    }

    async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, Status> {
        if let Some(key) = self.cached_key(kid) {
            return Ok(key);
        }
        let _one_refresh_at_a_time = self.refresh_lock.lock().await;
        if let Some(key) = self.cached_key(kid) {
            return Ok(key);
        }
        let wait = self
            .last_refresh
            .lock()
            .ok()
            .and_then(|last| *last)
            .map(|t| JWKS_REFRESH_INTERVAL.saturating_sub(t.elapsed()))
            .unwrap_or_default();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        self.refresh().await?;
        self.cached_key(kid)
            .ok_or_else(|| unauthenticated("unknown signing key"))
    }

    fn cached_key(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.keys
            .read()
            .ok()
            .and_then(|keys| keys.get(kid).cloned())
    }

    /// Reloads the published keys from auth-svc.
    async fn refresh(&self) -> Result<(), Status> {
        if let Ok(mut last) = self.last_refresh.lock() {
            *last = Some(Instant::now());
        }
        let jwks = self
            .auth
            .clone()
            .get_jwks(GetJwksRequest {})
            .await?
            .into_inner();
        let mut fresh = HashMap::new();
        for jwk in jwks.keys {
            if jwk.kty == "OKP" && jwk.crv == "Ed25519" && jwk.alg == "EdDSA" {
                match DecodingKey::from_ed_components(&jwk.x) {
                    Ok(key) => {
                        fresh.insert(jwk.kid, Arc::new(key));
                    }
                    Err(err) => tracing::warn!(kid = %jwk.kid, %err, "unusable published key"),
                }
            }
        }
        if let Ok(mut keys) = self.keys.write() {
            *keys = fresh;
        }
        Ok(())
    }
}
