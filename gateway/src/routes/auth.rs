//! `/api/v1/auths/token`, `/.well-known/jwks.json`, `/api/v1/me` and key
//! rotation, forwarded to auth-svc.

use std::net::SocketAddr;

use aerie_proto::auth::v1 as pb;
use aerie_proto::tenant::v1 as tenant_pb;
use axum::Json;
use axum::extract::{ConnectInfo, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::authn::Authenticated;
use crate::error::{ApiError, ErrorBody, JsonBody};
use crate::state::AppState;

/// Body of `POST /api/v1/auths/token`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub username: String,
    pub password: String,
}

/// An access token (OAuth 2 field names).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// One public signing key.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
}

/// The published keys.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// A tenant the caller can use.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TenantRef {
    pub id: String,
    pub name: String,
}

/// The caller.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub username: String,
    pub super_admin: bool,
    /// The tenants the caller can access (all of them for a super admin).
    pub tenants: Vec<TenantRef>,
}

/// The new signing key.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RotatedKey {
    pub kid: String,
}

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(issue_token))
        .routes(routes!(jwks))
        .routes(routes!(me))
        .routes(routes!(rotate_key))
        .routes(routes!(logout))
}

/// End the caller's own access token (sign-out): it stops working
/// everywhere within seconds. API tokens are revoked on their service
/// account instead (400).
#[utoipa::path(post, path = "/api/v1/auths/logout", tag = "auth",
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn logout(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<axum::http::StatusCode, ApiError> {
    state
        .auth
        .clone()
        .revoke_token(caller.request(pb::RevokeTokenRequest {}, None))
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Exchange a username and password for an access token.
#[utoipa::path(post, path = "/api/v1/auths/token", tag = "auth", request_body = TokenRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody)))]
async fn issue_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    JsonBody(body): JsonBody<TokenRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let request = issue_token_request(&state, peer, &headers, body.username, body.password);
    let token = state.auth.clone().issue_token(request).await?.into_inner();
    Ok(Json(TokenResponse {
        access_token: token.access_token,
        token_type: token.token_type,
        expires_in: token.expires_in,
    }))
}

/// An IssueToken request carrying the source that failed logins are counted
/// against: the peer, or the client a trusted proxy reports. auth-svc
/// believes it because of the service token. The UI's sign-in sends the same.
pub fn issue_token_request(
    state: &AppState,
    peer: SocketAddr,
    headers: &axum::http::HeaderMap,
    username: String,
    password: String,
) -> tonic::Request<pb::IssueTokenRequest> {
    let mut request = tonic::Request::new(pb::IssueTokenRequest { username, password });
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let client = state.trusted_proxies.client_ip(
        peer.ip(),
        Some(&forwarded)
            .filter(|f| !f.is_empty())
            .map(String::as_str),
    );
    if let Ok(value) = client.to_string().parse() {
        request.metadata_mut().insert("x-forwarded-for", value);
    }
    if let Ok(value) = state.service_token.parse() {
        request
            .metadata_mut()
            .insert(aerie_common::audit::SERVICE_TOKEN_HEADER, value);
    }
    request
}

/// The public keys that verify access tokens.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth", responses((status = 200, body = Jwks)))]
async fn jwks(State(state): State<AppState>) -> Result<Json<Jwks>, ApiError> {
    let jwks = state
        .auth
        .clone()
        .get_jwks(pb::GetJwksRequest {})
        .await?
        .into_inner();
    Ok(Json(Jwks {
        keys: jwks
            .keys
            .into_iter()
            .map(|k| Jwk {
                kty: k.kty,
                crv: k.crv,
                x: k.x,
                kid: k.kid,
                alg: k.alg,
                use_: k.r#use,
            })
            .collect(),
    }))
}

/// Who the caller is and which tenants it can access.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Me>, ApiError> {
    let me = state
        .auth
        .clone()
        .get_me(caller.request(pb::GetMeRequest {}, None))
        .await?
        .into_inner();
    let tenants = if state.directory.policy().multi_tenancy {
        let listing = tenant_pb::ListTenantsRequest {
            page: 1,
            size: 1000,
            sort: String::new(),
        };
        state
            .tenants
            .clone()
            .list_tenants(caller.request(listing, None))
            .await?
            .into_inner()
            .results
            .into_iter()
            .map(|t| TenantRef {
                id: t.id,
                name: t.name,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Json(Me {
        username: me.username,
        super_admin: me.super_admin,
        tenants,
    }))
}

/// Start signing with a new key (super admin). Tokens of older keys stay
/// valid until they expire.
#[utoipa::path(post, path = "/api/v1/auths/keys/rotate", tag = "auth",
    responses((status = 200, body = RotatedKey), (status = 403, body = ErrorBody)))]
async fn rotate_key(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<RotatedKey>, ApiError> {
    let key = state
        .auth
        .clone()
        .rotate_signing_key(caller.request(pb::RotateSigningKeyRequest {}, None))
        .await?
        .into_inner();
    Ok(Json(RotatedKey { kid: key.kid }))
}
