//! The audit trail: every mutation writes an entry into its own service's
//! `audit_outbox` table in the same transaction as the change, and a relay
//! delivers the outbox to auth-svc, which keeps the immutable log. An entry
//! is deleted from the outbox only after auth-svc has stored it; auth-svc
//! stores each entry id once, so redelivery after a crash adds nothing.

use std::path::Path;
use std::time::Duration;

use crate::grpc::Channel;
use aerie_proto::auth::internal::v1::auth_internal_service_client::AuthInternalServiceClient;
use aerie_proto::auth::internal::v1::{OutboxEntry, RecordAuditEntriesRequest};
use chrono::{SubsecRound, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, Order,
    QueryFilter, QueryOrder, QuerySelect,
};
use sea_orm_migration::prelude::{DeriveIden, SchemaManager, Table};
use sea_orm_migration::schema::{string_len, text, timestamp_with_time_zone};
use tokio_util::sync::CancellationToken;

use crate::tenant::TenantId;

/// Metadata entry carrying the internal service credential.
pub const SERVICE_TOKEN_HEADER: &str = "x-aerie-service-token";

/// One audited mutation.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub tenant: TenantId,
    /// `TENANT`, `USER`, `ROLE`, `BINDING`, `GROUP`, `KEY`, ...
    pub resource_type: &'static str,
    pub resource_id: String,
    /// `CREATE`, `UPDATE` or `DELETE`.
    pub action: &'static str,
    /// Username of whoever did it (`cli` for the admin CLI).
    pub actor: String,
    /// What changed, as JSON; never a password, token or secret value.
    pub details: serde_json::Value,
}

impl AuditEntry {
    pub fn new(
        tenant: &TenantId,
        resource_type: &'static str,
        resource_id: impl Into<String>,
        action: &'static str,
        actor: impl Into<String>,
    ) -> AuditEntry {
        AuditEntry {
            tenant: tenant.clone(),
            resource_type,
            resource_id: resource_id.into(),
            action,
            actor: actor.into(),
            details: serde_json::Value::Null,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> AuditEntry {
        self.details = details;
        self
    }
}

/// The outbox table, the same in every service's own schema.
pub mod outbox {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_outbox")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub tenant: String,
        pub resource_type: String,
        pub resource_id: String,
        pub action: String,
        pub actor: String,
        pub time: ChronoDateTimeUtc,
        pub details: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[derive(DeriveIden)]
enum AuditOutbox {
    Table,
    Id,
    Tenant,
    ResourceType,
    ResourceId,
    Action,
    Actor,
    Time,
    Details,
}

/// Creates the outbox in a service's schema (called from its migrations).
pub async fn create_outbox_table(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(AuditOutbox::Table)
                .if_not_exists()
                .col(string_len(AuditOutbox::Id, 36).primary_key())
                .col(string_len(AuditOutbox::Tenant, 100))
                .col(string_len(AuditOutbox::ResourceType, 40))
                .col(string_len(AuditOutbox::ResourceId, 200))
                .col(string_len(AuditOutbox::Action, 20))
                .col(string_len(AuditOutbox::Actor, 100))
                .col(timestamp_with_time_zone(AuditOutbox::Time))
                .col(text(AuditOutbox::Details))
                .to_owned(),
        )
        .await
}

/// Writes an entry into the outbox; call it inside the mutation's transaction.
pub async fn enqueue(conn: &impl ConnectionTrait, entry: AuditEntry) -> Result<(), DbErr> {
    enqueue_many(conn, vec![entry]).await
}

/// Writes entries into the outbox, a few hundred per statement.
pub async fn enqueue_many(
    conn: &impl ConnectionTrait,
    entries: Vec<AuditEntry>,
) -> Result<(), DbErr> {
    let time = Utc::now().trunc_subsecs(6);
    let mut entries = entries.into_iter().peekable();
    while entries.peek().is_some() {
        let rows: Vec<outbox::ActiveModel> = entries
            .by_ref()
            .take(500)
            .map(|entry| outbox::ActiveModel {
                // Time-ordered: a batch of entries lands in a few pages of
                // the key's index instead of one page each.
                id: Set(uuid::Uuid::now_v7().to_string()),
                tenant: Set(entry.tenant.storage_key().to_owned()),
                resource_type: Set(entry.resource_type.to_owned()),
                resource_id: Set(entry.resource_id),
                action: Set(entry.action.to_owned()),
                actor: Set(entry.actor),
                time: Set(time),
                details: Set(entry.details.to_string()),
            })
            .collect();
        outbox::Entity::insert_many(rows)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Entries delivered per call.
const BATCH: u64 = 100;

fn to_pb(row: &outbox::Model) -> OutboxEntry {
    OutboxEntry {
        id: row.id.clone(),
        tenant: TenantId::from_storage_key(&row.tenant)
            .ok()
            .and_then(|t| t.as_named().map(str::to_owned))
            .unwrap_or_default(),
        resource_type: row.resource_type.clone(),
        resource_id: row.resource_id.clone(),
        action: row.action.clone(),
        actor: row.actor.clone(),
        time: Some(crate::time::to_timestamp(row.time)),
        details_json: row.details.clone(),
    }
}

/// Delivers one batch; returns how many entries were delivered.
pub async fn deliver_once(
    db: &DatabaseConnection,
    client: &mut AuthInternalServiceClient<Channel>,
    service_token: &str,
) -> Result<usize, tonic::Status> {
    // A system scan, named as such: the outbox holds every tenant's entries
    // and each row carries its tenant, which auth-svc stores it under.
    let rows = outbox::Entity::find()
        .order_by(outbox::Column::Time, Order::Asc)
        .limit(BATCH)
        .all(db)
        .await
        .map_err(|e| tonic::Status::internal(format!("outbox read: {e}")))?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut request = tonic::Request::new(RecordAuditEntriesRequest {
        entries: rows.iter().map(to_pb).collect(),
    });
    if let Ok(value) = service_token.parse() {
        request.metadata_mut().insert(SERVICE_TOKEN_HEADER, value);
    }
    client.record_audit_entries(request).await?;
    let ids: Vec<String> = rows.into_iter().map(|r| r.id).collect();
    let delivered = ids.len();
    outbox::Entity::delete_many()
        .filter(outbox::Column::Id.is_in(ids))
        .exec(db)
        .await
        .map_err(|e| tonic::Status::internal(format!("outbox delete: {e}")))?;
    Ok(delivered)
}

/// Starts delivering a service's outbox (in `db`) to the auth-svc of
/// `config` until `shutdown`.
pub fn spawn_relay(
    db: DatabaseConnection,
    config: &crate::config::Config,
    shutdown: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, Box<dyn std::error::Error + Send + Sync>> {
    let channel = crate::grpc::lazy_channel(&config.auth_endpoint())?;
    let token = config.service_token()?;
    Ok(tokio::spawn(run_relay(db, channel, token, shutdown)))
}

/// Runs the relay until `shutdown`: delivers whatever the outbox holds,
/// retrying with backoff while auth-svc is unreachable.
pub async fn run_relay(
    db: DatabaseConnection,
    channel: Channel,
    service_token: String,
    shutdown: CancellationToken,
) {
    let mut client = AuthInternalServiceClient::new(channel);
    let mut backoff = Duration::from_millis(200);
    loop {
        let pause = match deliver_once(&db, &mut client, &service_token).await {
            Ok(n) if n as u64 == BATCH => Duration::ZERO,
            Ok(_) => {
                backoff = Duration::from_millis(200);
                Duration::from_millis(200)
            }
            Err(status) => {
                tracing::warn!(code = ?status.code(), message = %status.message(), "audit relay: delivery failed, will retry");
                backoff = (backoff * 2).min(Duration::from_secs(5));
                backoff
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// Entries still waiting in a service's outbox (for tests and metrics).
pub async fn backlog(db: &DatabaseConnection) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    outbox::Entity::find().count(db).await
}

/// The shortest internal service credential accepted.
pub const MIN_SERVICE_TOKEN_LEN: usize = 32;

/// The internal service credential: `aerie.security.service-token` when
/// set, else a random token created once under `data-dir` (standalone).
/// Shorter tokens are refused: an empty one would open every internal call.
pub fn service_token(configured: Option<&str>, data_dir: &Path) -> std::io::Result<String> {
    if let Some(token) = configured {
        if token.len() < MIN_SERVICE_TOKEN_LEN {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "aerie.security.service-token (AERIE_SECURITY_SERVICE_TOKEN) must be at least {MIN_SERVICE_TOKEN_LEN} bytes, not {}",
                    token.len()
                ),
            ));
        }
        return Ok(token.to_owned());
    }
    crate::local_secret::created_once(data_dir, "service-token", MIN_SERVICE_TOKEN_LEN, || {
        format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        )
    })
}

/// Admits a call only another Aerie service may make: it must carry the
/// internal service credential.
pub fn require_service_token<T>(
    request: &tonic::Request<T>,
    expected: &str,
) -> Result<(), tonic::Status> {
    let presented = request
        .metadata()
        .get(SERVICE_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if service_token_matches(presented, expected) {
        Ok(())
    } else {
        Err(tonic::Status::permission_denied(
            "this call is reserved to Aerie's own services",
        ))
    }
}

/// Compares a presented service token with the expected one in constant
/// time; an empty or short token never matches, whatever is expected.
pub fn service_token_matches(presented: &str, expected: &str) -> bool {
    expected.len() >= MIN_SERVICE_TOKEN_LEN && constant_time_eq(presented, expected)
}

/// Whether two credentials are equal, in time that depends on their length
/// only, never on where they first differ.
pub fn constant_time_eq(presented: &str, expected: &str) -> bool {
    let (a, b) = (presented.as_bytes(), expected.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A request from one of Aerie's services to another, in `tenant`, proven
/// by the internal service credential (background work has no caller).
pub fn service_request<T>(message: T, tenant: &TenantId, service_token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = service_token.parse() {
        request.metadata_mut().insert(SERVICE_TOKEN_HEADER, value);
    }
    if let Some(id) = tenant.as_named()
        && let Ok(value) = id.parse()
    {
        request
            .metadata_mut()
            .insert(crate::tenant::TENANT_HEADER, value);
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_or_short_service_tokens_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        for short in ["", "x", &"y".repeat(MIN_SERVICE_TOKEN_LEN - 1)] {
            let err = service_token(Some(short), dir.path()).expect_err("short token");
            assert!(err.to_string().contains("at least 32 bytes"), "{err}");
        }
        // A zero-byte file (a crash mid-write of an older version) is replaced.
        std::fs::write(dir.path().join("service-token"), "").expect("empty file");
        assert_eq!(service_token(None, dir.path()).expect("token").len(), 64);
    }

    #[test]
    fn service_token_is_created_once_and_compared_in_constant_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = service_token(None, dir.path()).expect("token");
        let again = service_token(None, dir.path()).expect("token");
        assert_eq!(first, again);
        assert_eq!(first.len(), 64);
        let configured = "c".repeat(MIN_SERVICE_TOKEN_LEN);
        assert_eq!(
            service_token(Some(&configured), dir.path()).expect("token"),
            configured
        );
        assert!(service_token_matches(&first, &again));
        assert!(!service_token_matches("", ""));
        assert!(!service_token_matches("short", "short"));
        assert!(!service_token_matches(&first, "short"));
        assert!(!service_token_matches(&first, &"x".repeat(64)));
    }
}
