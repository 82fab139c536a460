//! Change notices, so that cached access decisions and tenant state last
//! until what they hold changes instead of a few seconds.
//!
//! auth-svc and tenant-svc write a row into their own `changes` table in
//! the same transaction as a change that takes access away or alters a
//! tenant ([`record`]). In each of their processes a [`ChangeFeed`] reads
//! new rows four times a second and streams them to every watcher, so a
//! change made through any replica reaches every process. Each process
//! holds a [`ChangeWatch`] on both streams; its caches say what to drop per
//! change ([`ChangeWatch::on_change`]), and trust an entry past
//! [`FALLBACK_TTL`] only while both streams are heard.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use aerie_proto::changes::internal::v1 as pb;
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder,
};
use sea_orm_migration::prelude::{DeriveIden, Index, SchemaManager, Table};
use sea_orm_migration::schema::{big_integer, pk_auto, string_len_null};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::auth::PrincipalKind;
use crate::tenant::TenantId;

/// How long a cached answer is used when the change streams are not heard.
pub const FALLBACK_TTL: Duration = Duration::from_secs(3);
/// How long a cached answer is used at most while the streams are heard: a
/// safety net, not the mechanism.
pub const WATCHED_TTL: Duration = Duration::from_secs(600);
/// How often a feed reads new rows.
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Rows are read again for this long after they were written, so that a
/// transaction that took its id before another's but committed after it
/// is still seen (replicas' clocks must agree within a few seconds).
const REREAD_WINDOW_MS: i64 = 10_000;
/// Rows older than this are deleted.
const KEEP_MS: i64 = 3_600_000;
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// A feed says it is alive this often.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// A stream silent for this long is taken for down.
const SILENCE: Duration = Duration::from_millis(2_500);
/// Wait before reconnecting a stream.
const RETRY: Duration = Duration::from_millis(500);

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Anything: forget everything cached.
    Everything,
    /// Something about one tenant.
    Tenant(TenantId),
    /// One principal, in every tenant.
    Principal(PrincipalKind, Arc<str>),
}

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "changes")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        /// The tenant's storage key, for a tenant change.
        pub tenant: Option<String>,
        pub principal_kind: Option<String>,
        pub principal_id: Option<String>,
        /// When it was written, in milliseconds since the Unix epoch.
        pub at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[derive(DeriveIden)]
enum Changes {
    Table,
    Id,
    Tenant,
    PrincipalKind,
    PrincipalId,
    AtMs,
}

/// Creates the `changes` table (a migration of auth-svc and tenant-svc).
pub async fn create_table(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Changes::Table)
                .if_not_exists()
                .col(pk_auto(Changes::Id))
                .col(string_len_null(Changes::Tenant, 100))
                .col(string_len_null(Changes::PrincipalKind, 20))
                .col(string_len_null(Changes::PrincipalId, 100))
                .col(big_integer(Changes::AtMs))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("changes_at_ms")
                .table(Changes::Table)
                .col(Changes::AtMs)
                .if_not_exists()
                .to_owned(),
        )
        .await
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Announces `change`; call it inside the transaction that makes it.
pub async fn record(conn: &impl ConnectionTrait, change: &Change) -> Result<(), DbErr> {
    let (tenant, kind, id) = match change {
        Change::Everything => (None, None, None),
        Change::Tenant(tenant) => (Some(tenant.storage_key().to_owned()), None, None),
        Change::Principal(kind, id) => (None, Some(kind.as_str().to_owned()), Some(id.to_string())),
    };
    entity::Entity::insert(entity::ActiveModel {
        id: NotSet,
        tenant: Set(tenant),
        principal_kind: Set(kind),
        principal_id: Set(id),
        at_ms: Set(now_ms()),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

fn change_of(row: &entity::Model) -> Change {
    match (
        &row.tenant,
        row.principal_kind.as_deref(),
        &row.principal_id,
    ) {
        (Some(key), _, _) => TenantId::from_storage_key(key)
            .map(Change::Tenant)
            .unwrap_or(Change::Everything),
        (None, Some("USER"), Some(id)) => {
            Change::Principal(PrincipalKind::User, id.as_str().into())
        }
        (None, Some("SERVICE_ACCOUNT"), Some(id)) => {
            Change::Principal(PrincipalKind::ServiceAccount, id.as_str().into())
        }
        _ => Change::Everything,
    }
}

fn message(kind: pb::ChangeKind) -> pb::Change {
    pb::Change {
        kind: kind as i32,
        ..Default::default()
    }
}

impl From<&Change> for pb::Change {
    fn from(change: &Change) -> pb::Change {
        match change {
            Change::Everything => message(pb::ChangeKind::Reset),
            Change::Tenant(tenant) => pb::Change {
                kind: pb::ChangeKind::Tenant as i32,
                tenant: tenant.as_named().unwrap_or_default().to_owned(),
                ..Default::default()
            },
            Change::Principal(kind, id) => pb::Change {
                kind: pb::ChangeKind::Principal as i32,
                principal_kind: match kind {
                    PrincipalKind::User => pb::PrincipalKind::User,
                    PrincipalKind::ServiceAccount => pb::PrincipalKind::ServiceAccount,
                } as i32,
                principal_id: id.to_string(),
                ..Default::default()
            },
        }
    }
}

/// The change a notice announces; `None` for a heartbeat. Anything not
/// understood is taken for "everything", which is always safe.
fn received(notice: &pb::Change) -> Option<Change> {
    match notice.kind() {
        pb::ChangeKind::Heartbeat => None,
        pb::ChangeKind::Tenant => Some(
            TenantId::from_header((!notice.tenant.is_empty()).then_some(notice.tenant.as_str()))
                .map(Change::Tenant)
                .unwrap_or(Change::Everything),
        ),
        pb::ChangeKind::Principal => Some(match notice.principal_kind() {
            pb::PrincipalKind::User => {
                Change::Principal(PrincipalKind::User, notice.principal_id.as_str().into())
            }
            pb::PrincipalKind::ServiceAccount => Change::Principal(
                PrincipalKind::ServiceAccount,
                notice.principal_id.as_str().into(),
            ),
            pb::PrincipalKind::Unspecified => Change::Everything,
        }),
        pb::ChangeKind::Reset | pb::ChangeKind::Unspecified => Some(Change::Everything),
    }
}

/// The notices of one service's `changes` table, read a few times a second
/// and streamed to every watcher.
#[derive(Clone)]
pub struct ChangeFeed {
    sender: broadcast::Sender<Change>,
    shutdown: CancellationToken,
}

impl ChangeFeed {
    /// Starts reading `db`'s `changes` table until `shutdown`.
    pub fn start(db: DatabaseConnection, shutdown: CancellationToken) -> ChangeFeed {
        let (sender, _) = broadcast::channel(4096);
        tokio::spawn(read_rows(db, sender.clone(), shutdown.clone()));
        ChangeFeed { sender, shutdown }
    }

    /// One watcher's stream: a reset first, then every change, and a
    /// heartbeat each second; it ends at shutdown.
    pub fn watch(&self) -> tokio_stream::wrappers::ReceiverStream<Result<pb::Change, Status>> {
        let mut changes = self.sender.subscribe();
        let shutdown = self.shutdown.clone();
        let (out, stream) = mpsc::channel(256);
        tokio::spawn(async move {
            let mut next = message(pb::ChangeKind::Reset);
            let mut beat = tokio::time::interval(HEARTBEAT);
            beat.tick().await;
            loop {
                if out.send(Ok(next)).await.is_err() {
                    return;
                }
                next = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = out.closed() => return,
                    _ = beat.tick() => message(pb::ChangeKind::Heartbeat),
                    received = changes.recv() => match received {
                        Ok(change) => pb::Change::from(&change),
                        // Notices were lost: the watcher forgets everything.
                        Err(broadcast::error::RecvError::Lagged(_)) => message(pb::ChangeKind::Reset),
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                };
            }
        });
        tokio_stream::wrappers::ReceiverStream::new(stream)
    }
}

async fn read_rows(
    db: DatabaseConnection,
    sender: broadcast::Sender<Change>,
    shutdown: CancellationToken,
) {
    // Ids already announced, with when they were written.
    let mut seen: HashMap<i32, i64> = HashMap::new();
    let mut failed = false;
    let mut pruned = Instant::now();
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = now_ms();
        let rows = entity::Entity::find()
            .filter(entity::Column::AtMs.gte(now - REREAD_WINDOW_MS))
            .order_by_asc(entity::Column::Id)
            .all(&db)
            .await;
        match rows {
            Ok(rows) => {
                if std::mem::take(&mut failed) {
                    // Rows may have left the window while we could not read.
                    let _ = sender.send(Change::Everything);
                }
                for row in rows {
                    if seen.insert(row.id, row.at_ms).is_none() {
                        let _ = sender.send(change_of(&row));
                    }
                }
                seen.retain(|_, at| *at >= now - REREAD_WINDOW_MS - 1_000);
            }
            Err(err) => {
                failed = true;
                tracing::warn!(%err, "cannot read change notices; will retry");
            }
        }
        if pruned.elapsed() >= PRUNE_EVERY {
            pruned = Instant::now();
            let old = entity::Entity::delete_many()
                .filter(entity::Column::AtMs.lt(now - KEEP_MS))
                .exec(&db)
                .await;
            if let Err(err) = old {
                tracing::warn!(%err, "cannot delete old change notices");
            }
        }
    }
}

type Listener = Box<dyn Fn(&Change) + Send + Sync>;

/// Opens one change stream (a call to a `Watch…Changes` RPC).
pub type Connect = Box<
    dyn Fn() -> futures::future::BoxFuture<'static, Result<tonic::Streaming<pb::Change>, Status>>
        + Send
        + Sync,
>;

struct WatchState {
    started: Instant,
    /// Per stream, when it was last heard (milliseconds since `started`).
    heard: Vec<AtomicU64>,
    /// Bumped by every change heard; see [`ChangeWatch::epoch`].
    epoch: AtomicU64,
    listeners: RwLock<Vec<Listener>>,
}

impl WatchState {
    fn hear(&self, stream: usize, notice: &pb::Change) {
        if let Some(change) = received(notice) {
            self.epoch.fetch_add(1, Ordering::SeqCst);
            for listener in self.listeners.read().expect("listeners").iter() {
                listener(&change);
            }
        }
        let now = self.started.elapsed().as_millis() as u64;
        self.heard[stream].store(now.max(1), Ordering::SeqCst);
    }

    /// Whether every stream was heard lately.
    fn hearing(&self) -> bool {
        let now = self.started.elapsed().as_millis() as u64;
        !self.heard.is_empty()
            && self.heard.iter().all(|heard| {
                let at = heard.load(Ordering::SeqCst);
                at > 0 && now.saturating_sub(at) < SILENCE.as_millis() as u64
            })
    }
}

/// A process's view of what changed, for its caches.
#[derive(Clone)]
pub struct ChangeWatch(Arc<WatchState>);

/// The auth and tenant endpoints a watch listens to.
type Endpoints = (String, String);

/// Watches shared per pair of endpoints, so that the services of one
/// process (standalone) hold one pair of streams.
static WATCHES: Mutex<Vec<(Endpoints, Weak<WatchState>)>> = Mutex::new(Vec::new());

impl ChangeWatch {
    /// A watch that hears nothing: caches keep answers for [`FALLBACK_TTL`].
    pub fn unwatched() -> ChangeWatch {
        Self::on(Vec::new())
    }

    /// The process's watch of the auth and tenant services that `config`
    /// names, started on first use.
    pub fn for_config(
        config: &crate::config::Config,
    ) -> Result<ChangeWatch, Box<dyn std::error::Error + Send + Sync>> {
        let key = (config.auth_endpoint(), config.tenant_endpoint());
        let mut watches = WATCHES.lock().expect("watches");
        watches.retain(|(_, state)| state.strong_count() > 0);
        if let Some(state) = watches
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, state)| state.upgrade())
        {
            return Ok(ChangeWatch(state));
        }
        let token = config.service_token()?;
        let auth = crate::grpc::lazy_channel(&key.0)?;
        let tenants = crate::grpc::lazy_channel(&key.1)?;
        let watch = Self::on(vec![
            access_changes(auth, token.clone()),
            tenant_changes(tenants, token),
        ]);
        watches.push((key, Arc::downgrade(&watch.0)));
        Ok(watch)
    }

    /// A watch of these streams, each reconnected while the watch lives.
    pub fn on(streams: Vec<Connect>) -> ChangeWatch {
        let state = Arc::new(WatchState {
            started: Instant::now(),
            heard: streams.iter().map(|_| AtomicU64::new(0)).collect(),
            epoch: AtomicU64::new(0),
            listeners: RwLock::new(Vec::new()),
        });
        for (index, connect) in streams.into_iter().enumerate() {
            tokio::spawn(listen(Arc::downgrade(&state), index, connect));
        }
        ChangeWatch(state)
    }

    /// Runs `listener` on every change heard from now on.
    pub fn on_change(&self, listener: impl Fn(&Change) + Send + Sync + 'static) {
        self.0
            .listeners
            .write()
            .expect("listeners")
            .push(Box::new(listener));
    }

    /// A counter bumped by every change heard. Take it before asking for
    /// an answer and cache the answer only if it has not moved since, so
    /// that an answer read before a change is not kept after it.
    pub fn epoch(&self) -> u64 {
        self.0.epoch.load(Ordering::SeqCst)
    }

    /// Whether an answer cached at `at` may still be used: while the
    /// streams are heard (what changed since was dropped), else for
    /// [`FALLBACK_TTL`].
    pub fn trusts(&self, at: Instant) -> bool {
        at.elapsed() < FALLBACK_TTL || self.0.hearing()
    }

    /// Whether every stream is heard now.
    pub fn hearing(&self) -> bool {
        self.0.hearing()
    }
}

async fn listen(state: Weak<WatchState>, index: usize, connect: Connect) {
    loop {
        if state.strong_count() == 0 {
            return;
        }
        if let Ok(mut stream) = connect().await {
            loop {
                let next = tokio::time::timeout(SILENCE, stream.message()).await;
                let Some(state) = state.upgrade() else {
                    return;
                };
                match next {
                    Ok(Ok(Some(notice))) => state.hear(index, &notice),
                    // Ended, failed or silent: reconnect (and start with a reset).
                    _ => break,
                }
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

fn access_changes(channel: crate::grpc::Channel, token: String) -> Connect {
    use aerie_proto::auth::internal::v1::auth_internal_service_client::AuthInternalServiceClient;
    Box::new(move || {
        let mut client = AuthInternalServiceClient::new(channel.clone());
        let request = crate::audit::service_request(
            aerie_proto::auth::internal::v1::WatchAccessChangesRequest {},
            &TenantId::default_tenant(),
            &token,
        );
        Box::pin(async move { Ok(client.watch_access_changes(request).await?.into_inner()) })
    })
}

/// The stream of tenants changed, from tenant-svc.
pub fn tenant_changes(channel: crate::grpc::Channel, token: String) -> Connect {
    use aerie_proto::tenant::internal::v1::tenant_internal_service_client::TenantInternalServiceClient;
    Box::new(move || {
        let mut client = TenantInternalServiceClient::new(channel.clone());
        let request = crate::audit::service_request(
            aerie_proto::tenant::internal::v1::WatchTenantChangesRequest {},
            &TenantId::default_tenant(),
            &token,
        );
        Box::pin(async move { Ok(client.watch_tenant_changes(request).await?.into_inner()) })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip_and_unknown_ones_mean_everything() {
        let tenant = TenantId::parse("acme").expect("id");
        for change in [
            Change::Tenant(tenant.clone()),
            Change::Tenant(TenantId::default_tenant()),
            Change::Principal(PrincipalKind::User, "u-1".into()),
            Change::Principal(PrincipalKind::ServiceAccount, "sa-1".into()),
            Change::Everything,
        ] {
            assert_eq!(received(&pb::Change::from(&change)), Some(change));
        }
        assert_eq!(received(&message(pb::ChangeKind::Heartbeat)), None);
        let odd = pb::Change {
            kind: 99,
            ..Default::default()
        };
        assert_eq!(received(&odd), Some(Change::Everything));
    }

    #[tokio::test]
    async fn an_unheard_watch_trusts_answers_for_the_fallback_ttl_only() {
        let watch = ChangeWatch::unwatched();
        assert!(!watch.hearing());
        assert!(watch.trusts(Instant::now()));
        let old = Instant::now() - FALLBACK_TTL - Duration::from_millis(1);
        assert!(!watch.trusts(old));
    }

    #[tokio::test]
    async fn a_heard_watch_trusts_old_answers_and_tells_listeners() {
        let watch = ChangeWatch(Arc::new(WatchState {
            started: Instant::now(),
            heard: vec![AtomicU64::new(0)],
            epoch: AtomicU64::new(0),
            listeners: RwLock::new(Vec::new()),
        }));
        let heard = Arc::new(Mutex::new(Vec::new()));
        let log = heard.clone();
        watch.on_change(move |change| log.lock().expect("log").push(change.clone()));
        let old = Instant::now() - FALLBACK_TTL - Duration::from_millis(1);
        assert!(!watch.trusts(old), "never heard");
        watch.0.hear(0, &message(pb::ChangeKind::Heartbeat));
        assert!(watch.trusts(old), "heard: old answers stand");
        assert_eq!(watch.epoch(), 0, "a heartbeat changes nothing");
        let acme = TenantId::parse("acme").expect("id");
        watch
            .0
            .hear(0, &pb::Change::from(&Change::Tenant(acme.clone())));
        assert_eq!(watch.epoch(), 1);
        assert_eq!(*heard.lock().expect("log"), vec![Change::Tenant(acme)]);
    }
}
