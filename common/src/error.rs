//! Errors, mapped in one place each: [`ServiceError`] → `tonic::Status` for
//! every service, and `tonic::Code` → HTTP status and message for the
//! gateway (which wraps it in `{"message"}`).

use tonic::{Code, Status};

/// What can go wrong in a service call, by how the caller should react.
/// Messages say what was wrong and what is allowed; internal details are
/// logged, never returned.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    FailedPrecondition(String),
    /// A concurrent change won; retrying may succeed (409).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unauthenticated(String),
    /// Too many requests: retry after this many seconds (429).
    #[error("{0}")]
    TooManyRequests(String, u64),
    /// A dependency (the database) cannot be reached now; retrying shortly
    /// may succeed (503 with Retry-After).
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<sea_orm::DbErr> for ServiceError {
    fn from(err: sea_orm::DbErr) -> Self {
        if is_connection_error(&err) {
            tracing::warn!(%err, "database unreachable");
            return ServiceError::Unavailable(
                "the database is unreachable; retry shortly".to_owned(),
            );
        }
        if is_concurrency_abort(&err) {
            tracing::info!(%err, "a concurrent change won");
            return ServiceError::Conflict(
                "a concurrent change to the same rows won; retry".to_owned(),
            );
        }
        ServiceError::Internal(format!("database: {err}"))
    }
}

/// Whether `err` is PostgreSQL giving up a transaction for another's sake
/// (a deadlock, a serialization failure): nothing is wrong with the
/// request, and the same request may succeed at once (409, not 500).
fn is_concurrency_abort(err: &sea_orm::DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::{DbErr, RuntimeErr};
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            matches!(e.as_ref(), Sqlx::Database(db) if db.code().is_some_and(|c| is_abort_code(&c)))
        }
        _ => false,
    }
}

/// SQLSTATE 40P01 (deadlock detected) and 40001 (serialization failure).
fn is_abort_code(code: &str) -> bool {
    matches!(code, "40P01" | "40001")
}

/// Whether `err` says the database could not be reached (an outage, a full
/// pool, a dropped connection) rather than that a statement failed.
pub fn is_connection_error(err: &sea_orm::DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::{DbErr, RuntimeErr};
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => matches!(
            e.as_ref(),
            Sqlx::Io(_)
                | Sqlx::PoolTimedOut
                | Sqlx::PoolClosed
                | Sqlx::WorkerCrashed
                | Sqlx::Tls(_)
        ),
        _ => false,
    }
}

/// Seconds a caller is asked to wait when a dependency is unavailable.
const UNAVAILABLE_RETRY_AFTER: u64 = 1;

impl From<ServiceError> for Status {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::InvalidArgument(m) => Status::invalid_argument(m),
            ServiceError::NotFound(m) => Status::not_found(m),
            ServiceError::AlreadyExists(m) => Status::already_exists(m),
            ServiceError::FailedPrecondition(m) => Status::failed_precondition(m),
            ServiceError::Conflict(m) => Status::aborted(m),
            ServiceError::PermissionDenied(m) => Status::permission_denied(m),
            ServiceError::Unauthenticated(m) => Status::unauthenticated(m),
            ServiceError::TooManyRequests(m, seconds) => {
                let mut status = Status::resource_exhausted(m);
                if let Ok(value) = seconds.to_string().parse() {
                    status.metadata_mut().insert(RETRY_AFTER, value);
                }
                status
            }
            ServiceError::Unavailable(m) => {
                let mut status = Status::unavailable(m);
                if let Ok(value) = UNAVAILABLE_RETRY_AFTER.to_string().parse() {
                    status.metadata_mut().insert(RETRY_AFTER, value);
                }
                status
            }
            ServiceError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                Status::internal("internal error; the server log has the details")
            }
        }
    }
}

/// Metadata of a RESOURCE_EXHAUSTED status: seconds until a retry may
/// succeed; the gateway answers it as the `Retry-After` header.
pub const RETRY_AFTER: &str = "retry-after";

/// The seconds a status asks the caller to wait, if it says.
pub fn retry_after(status: &Status) -> Option<u64> {
    status
        .metadata()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// The HTTP status that answers a gRPC code.
pub fn http_status(code: Code) -> http::StatusCode {
    use http::StatusCode as H;
    match code {
        Code::Ok => H::OK,
        Code::InvalidArgument => H::UNPROCESSABLE_ENTITY,
        Code::OutOfRange | Code::FailedPrecondition => H::BAD_REQUEST,
        Code::NotFound => H::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => H::CONFLICT,
        Code::PermissionDenied => H::FORBIDDEN,
        Code::Unauthenticated => H::UNAUTHORIZED,
        Code::ResourceExhausted => H::TOO_MANY_REQUESTS,
        Code::Unimplemented => H::NOT_IMPLEMENTED,
        Code::Unavailable | Code::Cancelled => H::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => H::GATEWAY_TIMEOUT,
        Code::Unknown | Code::Internal | Code::DataLoss => H::INTERNAL_SERVER_ERROR,
    }
}

/// A gRPC status as the REST gateway answers it: HTTP status and message.
pub fn http_error(status: &Status) -> (http::StatusCode, String) {
    let code = http_status(status.code());
    let message = match status.code() {
        // A transport failure's message names addresses and hyper internals.
        Code::Unavailable => {
            tracing::warn!(detail = %status.message(), "backend unavailable");
            "a backend service is unavailable; retry shortly".to_owned()
        }
        _ => status.message().to_owned(),
    };
    (code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadlock_or_serialization_failure_is_a_conflict_to_retry() {
        assert!(is_abort_code("40P01") && is_abort_code("40001"));
        assert!(
            !is_abort_code("23505"),
            "a unique violation is no race lost"
        );
        let status: Status = ServiceError::Conflict("retry".into()).into();
        assert_eq!(status.code(), Code::Aborted);
    }

    #[test]
    fn internal_details_never_reach_the_caller() {
        let status: Status = ServiceError::Internal("SELECT * FROM secret_table".into()).into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret_table"));
    }

    #[test]
    fn an_unreachable_database_is_503_with_retry_after_not_500() {
        use sea_orm::{ConnAcquireErr, DbErr};
        for err in [
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
            DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        ] {
            let status: Status = ServiceError::from(err).into();
            assert_eq!(status.code(), Code::Unavailable);
            assert_eq!(retry_after(&status), Some(1));
            assert_eq!(http_status(status.code()), 503);
        }
        let status: Status = ServiceError::from(DbErr::RecordNotFound("x".into())).into();
        assert_eq!(
            status.code(),
            Code::Internal,
            "a failed statement is no outage"
        );
    }

    #[test]
    fn too_many_requests_carries_its_retry_time() {
        let status: Status = ServiceError::TooManyRequests("slow down".into(), 7).into();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(retry_after(&status), Some(7));
        assert_eq!(http_status(status.code()), 429);
    }

    #[test]
    fn codes_map_to_http() {
        assert_eq!(http_status(Code::InvalidArgument), 422);
        assert_eq!(http_status(Code::NotFound), 404);
        assert_eq!(http_status(Code::AlreadyExists), 409);
        assert_eq!(http_status(Code::PermissionDenied), 403);
        assert_eq!(http_status(Code::Unauthenticated), 401);
        let (code, message) = http_error(&Status::not_found("tenant 'x' not found"));
        assert_eq!(code, 404);
        assert_eq!(message, "tenant 'x' not found");
    }
}
