//! The one place where REST errors are made: every error is
//! `{"message": ...}` with the status that fits.

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tonic::Status;
use utoipa::ToSchema;

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What was wrong and what is allowed.
    pub message: String,
}

/// An error on its way to the REST caller.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds for the `Retry-After` header (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl From<Status> for ApiError {
    fn from(status: Status) -> Self {
        let (code, message) = aerie_common::error::http_error(&status);
        let mut error = ApiError::new(code, message);
        error.retry_after = aerie_common::error::retry_after(&status);
        // A service or database that is down may be back shortly.
        if status.code() == tonic::Code::Unavailable {
            error.retry_after.get_or_insert(1);
        }
        error
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                message: self.message,
            }),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// A JSON object request body whose rejections (bad syntax 400, wrong
/// fields 422, wrong content type 415, too large 413) answer in the JSON
/// error shape. Every body of the API is an object: a top-level array,
/// which serde would read positionally into a struct, is refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_bytes(request, state, b'{', "the body must be a JSON object").await?;
        match Json::<T>::from_bytes(&bytes) {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(ApiError::new(rejection.status(), rejection.body_text())),
        }
    }
}

/// A JSON array request body (Kestra's bulk calls send a list of ids),
/// rejected in the same shape as [`JsonBody`].
#[derive(Debug, Clone, Default)]
pub struct JsonArray<T>(pub Vec<T>);

impl<S, T> FromRequest<S> for JsonArray<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_bytes(request, state, b'[', "the body must be a JSON array").await?;
        match Json::<Vec<T>>::from_bytes(&bytes) {
            Ok(Json(values)) => Ok(JsonArray(values)),
            Err(rejection) => Err(ApiError::new(rejection.status(), rejection.body_text())),
        }
    }
}

/// The bytes of a JSON body whose first character is `opening`.
async fn json_bytes<S: Send + Sync>(
    request: Request,
    state: &S,
    opening: u8,
    otherwise: &str,
) -> Result<axum::body::Bytes, ApiError> {
    let is_json = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v == "application/json" || v.ends_with("+json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expected request with `Content-Type: application/json`",
        ));
    }
    let bytes = axum::body::Bytes::from_request(request, state)
        .await
        .map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))?;
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != opening) {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, otherwise));
    }
    Ok(bytes)
}

/// A flow source: the raw YAML body (`application/x-yaml`, `application/yaml`
/// or `text/yaml`), as UTF-8 text kept byte for byte.
#[derive(Debug, Clone)]
pub struct YamlBody(pub String);

/// Media types a YAML body may be sent as.
const YAML_TYPES: &[&str] = &[
    "application/x-yaml",
    "application/yaml",
    "text/yaml",
    "text/x-yaml",
];

impl<S: Send + Sync> FromRequest<S> for YamlBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let media_type = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        if !YAML_TYPES.contains(&media_type.as_str()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "send the flow as YAML with Content-Type: application/x-yaml (got '{}')",
                    if media_type.is_empty() {
                        "none"
                    } else {
                        &media_type
                    }
                ),
            ));
        }
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))?;
        String::from_utf8(bytes.to_vec())
            .map(YamlBody)
            .map_err(|_| {
                ApiError::new(StatusCode::BAD_REQUEST, "the flow source is not UTF-8 text")
            })
    }
}

/// A raw text body (a KV value), UTF-8.
#[derive(Debug, Clone)]
pub struct TextBody(pub String);

impl<S: Send + Sync> FromRequest<S> for TextBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))?;
        String::from_utf8(bytes.to_vec())
            .map(TextBody)
            .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "the body is not UTF-8 text"))
    }
}
