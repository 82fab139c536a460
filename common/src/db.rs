//! Database connection and migration for SQLite and PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::Condition;
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, SimpleExpr};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};
use sea_orm_migration::MigratorTrait;

use crate::auth::NamespaceScope;

/// Connects to a `sqlite://` or `postgres://` URL. SQLite files are created
/// when missing and run in WAL mode with a busy timeout, so that concurrent
/// writers wait instead of failing.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        prepare_sqlite_file(std::path::Path::new(path.split('?').next().unwrap_or(path)))?;
    }
    let mut options = ConnectOptions::new(url);
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .map_sqlx_sqlite_opts(|opts| {
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // Reads of a large database straight from the page cache of
                // the OS (no read syscalls), and a bigger cache per connection
                // than SQLite's 2 MiB default.
                .pragma("mmap_size", "268435456")
                .pragma("cache_size", "-32768")
                // Savepoint journals in memory, not spilled to a temporary
                // file past 64 KiB: the scheduler writes each tenant's part of
                // a round under its own savepoint, and at a minute's mark
                // those files' writes made its 11,000 ticks up to twice as
                // late. (Searches are paginated: SQLite sorts them keeping
                // only the page, so in-memory temporary storage stays small.)
                .pragma("temp_store", "MEMORY")
                // Checkpoints run in the background after writes (see
                // [`SqliteFile`]); SQLite's own, run inside a commit while
                // the next writers wait, are only a backstop for a WAL that
                // outgrows 40 MiB (writers that take no turn).
                .pragma("wal_autocheckpoint", "10000")
        });
    if url.starts_with("sqlite:") {
        options.max_connections(8).min_connections(1);
    } else {
        options.max_connections(16).min_connections(1);
    }
    Database::connect(options).await
}

/// Creates a SQLite file's directory (owner only) and the file itself with
/// mode 0600 before SQLite opens it: SQLite gives its WAL and shared-memory
/// files the database file's mode, so nothing of it is readable by others.
/// An existing file is narrowed to 0600 too.
fn prepare_sqlite_file(path: &std::path::Path) -> Result<(), DbErr> {
    let io = |what: &str, e: std::io::Error| {
        DbErr::Custom(format!("cannot {what} {}: {e}", path.display()))
    };
    if path.as_os_str().is_empty() || path.to_str() == Some(":memory:") {
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::local_secret::create_private_dir(dir)
            .map_err(|e| io("create the directory of", e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            crate::local_secret::restrict_file(path).map_err(|e| io("restrict", e))
        }
        Err(e) => Err(io("create", e)),
    }
}

/// Connects with `url` and brings the schema up to date with
/// `migration_url`. On PostgreSQL the migration runs on a dedicated single
/// connection under a session advisory lock named after the service, so
/// that replicas starting together migrate one at a time (lock, migration
/// and unlock must share one connection). When the two URLs name different
/// roles, the migration role (owner of the schema) then grants the runtime
/// role data access and nothing more: the service cannot alter its tables,
/// so it cannot turn row-level security off.
pub async fn connect_and_migrate<M: MigratorTrait>(
    url: &str,
    migration_url: &str,
    service: &str,
) -> Result<DatabaseConnection, DbErr> {
    // SQLite's "file is not a database" does not say which of the four.
    migrate::<M>(url, migration_url, service)
        .await
        .map_err(|e| DbErr::Custom(format!("{service} database {}: {e}", shown_url(url))))
}

/// A database URL fit for an error message: a SQLite file's path, or the
/// URL with its password masked.
pub fn shown_url(url: &str) -> String {
    if let Some(path) = url.strip_prefix("sqlite://") {
        return path.split('?').next().unwrap_or(path).to_owned();
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap_or_default();
            let masked = if user_info.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{masked}@{host}")
        }
        None => url.to_owned(),
    }
}

async fn migrate<M: MigratorTrait>(
    url: &str,
    migration_url: &str,
    service: &str,
) -> Result<DatabaseConnection, DbErr> {
    let db = connect(url).await?;
    if db.get_database_backend() == DbBackend::Postgres {
        let mut options = ConnectOptions::new(migration_url);
        options
            .sqlx_logging(false)
            .max_connections(1)
            .min_connections(1);
        let lock_db = Database::connect(options).await?;
        let key = advisory_key(service);
        lock_db
            .execute_unprepared(&format!("SELECT pg_advisory_lock({key})"))
            .await?;
        let mut result = M::up(&lock_db, None).await;
        if result.is_ok() && migration_url != url {
            result =
                grant_runtime_role(&lock_db, &db, &M::migration_table_name().to_string()).await;
        }
        lock_db
            .execute_unprepared(&format!("SELECT pg_advisory_unlock({key})"))
            .await?;
        lock_db.close().await?;
        result?;
    } else {
        M::up(&db, None).await?;
    }
    Ok(db)
}

/// Gives the role of `runtime` what a service needs on the schema the
/// migration role just brought up to date: data access, not ownership.
async fn grant_runtime_role(
    owner: &DatabaseConnection,
    runtime: &DatabaseConnection,
    migrations_table: &str,
) -> Result<(), DbErr> {
    let one = |db: &DatabaseConnection, sql: &'static str| {
        let db = db.clone();
        async move {
            db.query_one_raw(sea_orm::Statement::from_string(DbBackend::Postgres, sql))
                .await?
                .ok_or_else(|| DbErr::Custom(format!("no answer to {sql}")))?
                .try_get_by_index::<String>(0)
        }
    };
    let (role, owner_role) = (
        one(runtime, "SELECT current_user::text").await?,
        one(owner, "SELECT current_user::text").await?,
    );
    if role == owner_role {
        return Ok(());
    }
    let schema = quote_ident(&one(owner, "SELECT current_schema()::text").await?);
    let role = quote_ident(&role);
    for statement in [
        format!("GRANT USAGE ON SCHEMA {schema} TO {role}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}"),
        format!("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}"),
        format!(
            "REVOKE ALL ON TABLE {schema}.{} FROM {role}",
            quote_ident(migrations_table)
        ),
    ] {
        owner.execute_unprepared(&statement).await?;
    }
    Ok(())
}

/// A PostgreSQL identifier, quoted.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A stable 63-bit key per service name (FNV-1a), so each service's
/// migrations serialise only with their own replicas.
fn advisory_key(service: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in format!("aerie-migrate:{service}").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash >> 1) as i64
}

/// The PostgreSQL setting row-level security policies compare `tenant_id`
/// with; set per transaction, so a pooled connection never carries it over.
pub const TENANT_SETTING: &str = "aerie.tenant";

/// A transaction bound to one tenant: every repository function of
/// tenant-owned data takes one, filters by its tenant, and on PostgreSQL the
/// tenant is also set for row-level security (the second line of isolation).
pub struct TenantTxn {
    txn: sea_orm::DatabaseTransaction,
    tenant: crate::TenantId,
    /// SQLite: this process's turn to write (see [`sqlite_writer`]).
    _writer: Option<SqliteWriter>,
}

/// This process's turn to write to one SQLite database. When it ends the
/// next writer goes on, and the file's WAL is checkpointed in the
/// background if it is time (see [`SqliteFile`]).
pub struct SqliteWriter {
    turn: Option<crate::fair_turns::Turn>,
    file: Arc<SqliteFile>,
    db: DatabaseConnection,
}

impl Drop for SqliteWriter {
    fn drop(&mut self) {
        drop(self.turn.take());
        self.file.checkpoint_if_due(&self.db);
    }
}

/// How often at most a SQLite file's WAL is checkpointed after writes.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// A SQLite file as this process writes it: its writers' turns, and its
/// checkpoints. SQLite checkpoints the WAL (copies its pages into the
/// database and syncs both files) inside the commit that crosses its
/// threshold, and that writer kept its turn meanwhile, so every writer
/// queued behind it waited for two fsyncs: a tenant writing much made its
/// neighbours' short writes wait for its checkpoints. Here a checkpoint
/// runs on its own connection after a turn ends, at most every
/// [`CHECKPOINT_EVERY`], PASSIVE (it waits for no reader or writer and
/// writers go on appending meanwhile), so it stays out of every turn.
struct SqliteFile {
    turns: Arc<crate::fair_turns::FairTurns>,
    last_checkpoint: std::sync::Mutex<std::time::Instant>,
    checkpointing: std::sync::atomic::AtomicBool,
    checkpoints: std::sync::atomic::AtomicU64,
}

impl SqliteFile {
    fn checkpoint_if_due(self: &Arc<Self>, db: &DatabaseConnection) {
        use std::sync::atomic::Ordering;
        if self.checkpointing.load(Ordering::Acquire) {
            return;
        }
        {
            let mut last = self
                .last_checkpoint
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if last.elapsed() < CHECKPOINT_EVERY {
                return;
            }
            *last = std::time::Instant::now();
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.checkpointing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (file, db) = (self.clone(), db.clone());
        runtime.spawn(async move {
            let began = std::time::Instant::now();
            let statement = sea_orm::Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA wal_checkpoint(PASSIVE)",
            );
            match db.query_one_raw(statement).await {
                Ok(Some(row)) => tracing::debug!(
                    wal_frames = row.try_get_by_index::<i64>(1).unwrap_or(-1),
                    copied = row.try_get_by_index::<i64>(2).unwrap_or(-1),
                    took_ms = began.elapsed().as_millis() as u64,
                    "SQLite checkpoint"
                ),
                Ok(None) => {}
                Err(err) => tracing::debug!(%err, "SQLite checkpoint not run"),
            }
            file.checkpoints.fetch_add(1, Ordering::Relaxed);
            file.checkpointing.store(false, Ordering::Release);
        });
    }
}

/// Each SQLite file this process writes.
static SQLITE_FILES: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, Arc<SqliteFile>>>,
> = std::sync::LazyLock::new(Default::default);

/// The state of `db`'s file (SQLite only).
fn sqlite_file(db: &DatabaseConnection) -> Arc<SqliteFile> {
    let path = db
        .get_sqlite_connection_pool()
        .connect_options()
        .get_filename()
        .to_owned();
    SQLITE_FILES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(path)
        .or_insert_with(|| {
            Arc::new(SqliteFile {
                turns: crate::fair_turns::FairTurns::new(1),
                last_checkpoint: std::sync::Mutex::new(std::time::Instant::now()),
                checkpointing: Default::default(),
                checkpoints: Default::default(),
            })
        })
        .clone()
}

/// How many background checkpoints of `db`'s file this process ran (0 on
/// PostgreSQL).
pub fn sqlite_checkpoints(db: &DatabaseConnection) -> u64 {
    if db.get_database_backend() != DbBackend::Sqlite {
        return 0;
    }
    sqlite_file(db)
        .checkpoints
        .load(std::sync::atomic::Ordering::Relaxed)
}

/// On SQLite, waits for this process's turn to write to `db` (none on
/// PostgreSQL); `lane` is the tenant whose data is written, or
/// [`crate::fair_turns::INSTANCE_LANE`]. SQLite admits one writer at a time
/// and makes the others poll with growing sleeps (its busy handler, up to
/// 100 ms a sleep), so under load a short write waited far longer on those
/// sleeps than on the writes before it. Writers of one process take turns
/// here instead, round-robin between tenants: a tenant with a hundred
/// writes queued delays another tenant's write by one of them, not a hundred.
pub async fn sqlite_writer(db: &DatabaseConnection, lane: &str) -> Option<SqliteWriter> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return None;
    }
    let file = sqlite_file(db);
    let turn = file.turns.turn(lane).await;
    Some(SqliteWriter {
        turn: Some(turn),
        file,
        db: db.clone(),
    })
}

impl TenantTxn {
    /// Begins a transaction for `tenant` that only reads. On PostgreSQL it
    /// reads one snapshot (REPEATABLE READ, read only): an execution and
    /// its task runs read by two statements never come from two different
    /// commits, which READ COMMITTED would allow. SQLite's read
    /// transactions are snapshots already.
    pub async fn read(db: &DatabaseConnection, tenant: &crate::TenantId) -> Result<Self, DbErr> {
        Self::begin(db, tenant, false).await
    }

    /// Begins a transaction for `tenant` that will write. On SQLite it takes
    /// the write lock at once (`BEGIN IMMEDIATE`): a transaction that read
    /// first and then wrote would fail outright, without waiting, whenever
    /// another writer committed in between.
    pub async fn write(db: &DatabaseConnection, tenant: &crate::TenantId) -> Result<Self, DbErr> {
        Self::begin(db, tenant, true).await
    }

    async fn begin(
        db: &DatabaseConnection,
        tenant: &crate::TenantId,
        writes: bool,
    ) -> Result<Self, DbErr> {
        use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
        let mut options = TransactionOptions::default();
        let mut writer = None;
        match db.get_database_backend() {
            DbBackend::Sqlite if writes => {
                writer = sqlite_writer(db, tenant.storage_key()).await;
                options.sqlite_transaction_mode = Some(SqliteTransactionMode::Immediate);
            }
            DbBackend::Postgres if !writes => {
                options.isolation_level = Some(sea_orm::IsolationLevel::RepeatableRead);
                options.access_mode = Some(sea_orm::AccessMode::ReadOnly);
            }
            _ => {}
        }
        let txn = db.begin_with_options(options).await?;
        Self::bind(&txn, tenant).await?;
        Ok(TenantTxn {
            txn,
            tenant: tenant.clone(),
            _writer: writer,
        })
    }

    /// A part of `shared` bound to `tenant` (a savepoint): several tenants'
    /// small writes share one transaction, and so one commit, while every
    /// query still runs for one tenant (and on PostgreSQL under its
    /// row-level security). [`TenantTxn::commit`] keeps the part's writes
    /// in `shared`; [`TenantTxn::rollback`] undoes them alone.
    pub async fn within(shared: &SharedTxn, tenant: &crate::TenantId) -> Result<Self, DbErr> {
        use sea_orm::TransactionTrait;
        let txn = shared.txn.begin().await?;
        Self::bind(&txn, tenant).await?;
        Ok(TenantTxn {
            txn,
            tenant: tenant.clone(),
            _writer: None,
        })
    }

    /// On PostgreSQL, the tenant row-level security lets this transaction see.
    async fn bind(
        txn: &sea_orm::DatabaseTransaction,
        tenant: &crate::TenantId,
    ) -> Result<(), DbErr> {
        if txn.get_database_backend() == DbBackend::Postgres {
            txn.execute_raw(sea_orm::Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT set_config($1, $2, true)",
                [TENANT_SETTING.into(), tenant.storage_key().into()],
            ))
            .await?;
        }
        Ok(())
    }

    /// Undoes this transaction (or this part of a shared one).
    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }

    /// The tenant every query in this transaction is about.
    pub fn tenant(&self) -> &crate::TenantId {
        &self.tenant
    }

    /// The storage key of the tenant, for `tenant_id` columns.
    pub fn tenant_key(&self) -> &str {
        self.tenant.storage_key()
    }

    /// The connection to run queries on.
    pub fn conn(&self) -> &sea_orm::DatabaseTransaction {
        &self.txn
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }
}

/// A write transaction of the instance's own that only holds tenants'
/// parts ([`TenantTxn::within`]): it runs no query itself.
pub struct SharedTxn {
    txn: sea_orm::DatabaseTransaction,
    /// SQLite: this process's turn to write, in the instance's lane.
    _writer: Option<SqliteWriter>,
}

impl SharedTxn {
    /// Begins it (on SQLite, holding the write lock at once).
    pub async fn write(db: &DatabaseConnection) -> Result<Self, DbErr> {
        use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
        let mut options = TransactionOptions::default();
        let mut writer = None;
        if db.get_database_backend() == DbBackend::Sqlite {
            writer = sqlite_writer(db, crate::fair_turns::INSTANCE_LANE).await;
            options.sqlite_transaction_mode = Some(SqliteTransactionMode::Immediate);
        }
        Ok(SharedTxn {
            txn: db.begin_with_options(options).await?,
            _writer: writer,
        })
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }
}

/// The statements that turn on row-level security for a tenant-owned table
/// on PostgreSQL (none on SQLite): rows are visible and writable only while
/// [`TENANT_SETTING`] names their tenant, for the table owner too.
pub fn row_level_security(table: &str) -> [String; 3] {
    [
        format!("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"),
        format!("ALTER TABLE {table} FORCE ROW LEVEL SECURITY"),
        format!(
            "CREATE POLICY {table}_tenant_isolation ON {table} \
             USING (tenant_id = current_setting('{TENANT_SETTING}', true)) \
             WITH CHECK (tenant_id = current_setting('{TENANT_SETTING}', true))"
        ),
    ]
}

/// Turns on row-level security for `tables` (PostgreSQL; nothing on SQLite):
/// the `up` of every service's RLS migration.
pub async fn enable_row_level_security(
    manager: &sea_orm_migration::SchemaManager<'_>,
    tables: &[&str],
) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    for table in tables {
        for statement in row_level_security(table) {
            db.execute_unprepared(&statement).await?;
        }
    }
    Ok(())
}

/// Undoes [`enable_row_level_security`].
pub async fn disable_row_level_security(
    manager: &sea_orm_migration::SchemaManager<'_>,
    tables: &[&str],
) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    for table in tables {
        db.execute_unprepared(&format!(
            "DROP POLICY IF EXISTS {table}_tenant_isolation ON {table}; \
             ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY; \
             ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"
        ))
        .await?;
    }
    Ok(())
}

/// The PostgreSQL setting that lets a named system scan see every tenant's
/// rows of the tables whose policy allows it (auth-svc's: resolving an API
/// token or a service account before its tenant is known, listing a user's
/// tenants). Set per transaction by [`SystemScan`] only.
pub const SYSTEM_SCAN_SETTING: &str = "aerie.system_scan";

/// Turns on row-level security for tables whose tenant is in `column`, and
/// which named system scans may read across tenants (PostgreSQL only).
pub async fn enable_row_level_security_with_scans(
    manager: &sea_orm_migration::SchemaManager<'_>,
    tables: &[&str],
    column: &str,
) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    for table in tables {
        for statement in [
            format!("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"),
            format!("ALTER TABLE {table} FORCE ROW LEVEL SECURITY"),
            format!(
                "CREATE POLICY {table}_tenant_isolation ON {table} \
                 USING ({column} = current_setting('{TENANT_SETTING}', true) \
                        OR current_setting('{SYSTEM_SCAN_SETTING}', true) = 'on') \
                 WITH CHECK ({column} = current_setting('{TENANT_SETTING}', true))"
            ),
        ] {
            db.execute_unprepared(&statement).await?;
        }
    }
    Ok(())
}

/// A transaction that sees every tenant's rows: the few system scans that
/// must find a row before its tenant is known. Writes in it still need the
/// row's tenant (the policies' WITH CHECK), so it only reads and deletes.
pub struct SystemScan {
    txn: sea_orm::DatabaseTransaction,
    _writer: Option<SqliteWriter>,
}

impl SystemScan {
    /// Begins a system scan that reads; `why` names it in the debug log.
    pub async fn begin(db: &DatabaseConnection, why: &'static str) -> Result<Self, DbErr> {
        use sea_orm::TransactionTrait;
        let txn = db.begin().await?;
        Self::mark(&txn, why).await?;
        Ok(SystemScan { txn, _writer: None })
    }

    /// Begins a system scan that also deletes across tenants and writes
    /// rows of `tenant` (e.g. its audit entry), taking SQLite's write lock
    /// at once like [`TenantTxn::write`].
    pub async fn begin_writing_as(
        db: &DatabaseConnection,
        tenant: &crate::TenantId,
        why: &'static str,
    ) -> Result<Self, DbErr> {
        let tx = TenantTxn::write(db, tenant).await?;
        Self::mark(&tx.txn, why).await?;
        Ok(SystemScan {
            txn: tx.txn,
            _writer: tx._writer,
        })
    }

    async fn mark(txn: &sea_orm::DatabaseTransaction, why: &'static str) -> Result<(), DbErr> {
        if txn.get_database_backend() == DbBackend::Postgres {
            txn.execute_raw(sea_orm::Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT set_config($1, 'on', true)",
                [SYSTEM_SCAN_SETTING.into()],
            ))
            .await?;
        }
        tracing::debug!(scan = why, "system scan");
        Ok(())
    }

    /// The connection to run queries on.
    pub fn conn(&self) -> &sea_orm::DatabaseTransaction {
        &self.txn
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }
}

// Query helpers shared by the services' repositories.

/// `text` with LIKE's wildcards and the escape character escaped.
pub fn like_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// `column`, lower-cased, contains `text` (case-insensitive on both backends).
pub fn contains_text(column: SimpleExpr, text: &str) -> SimpleExpr {
    Expr::expr(sea_orm::sea_query::Func::lower(column))
        .like(LikeExpr::new(format!("%{}%", like_escaped(&text.to_lowercase()))).escape('\\'))
}

/// `column` is `namespace` or one of its children.
pub fn within_namespace(column: SimpleExpr, namespace: &str) -> Condition {
    Condition::any()
        .add(column.clone().eq(namespace))
        .add(column.like(LikeExpr::new(format!("{}.%", like_escaped(namespace))).escape('\\')))
}

/// `column` is inside the caller's namespace scope (`None`: everywhere).
pub fn in_scope(column: impl Fn() -> SimpleExpr, scope: &NamespaceScope) -> Option<Condition> {
    match scope {
        NamespaceScope::Everywhere => None,
        NamespaceScope::Within(namespaces) => Some(namespaces.iter().fold(
            // No namespace at all: nothing matches.
            Condition::any().add(Expr::val(1).eq(0)),
            |any, namespace| any.add(within_namespace(column(), namespace)),
        )),
    }
}

#[cfg(test)]
mod filter_tests {
    use super::like_escaped;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_escaped("a_b%c\\d"), "a\\_b\\%c\\\\d");
    }
}

#[cfg(test)]
mod sqlite_tests {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    /// Writers' turns end with a checkpoint in the background, at most one
    /// per [`super::CHECKPOINT_EVERY`]: the WAL is checkpointed although it
    /// never reaches SQLite's own threshold.
    #[tokio::test]
    async fn writes_are_checkpointed_in_the_background() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        let db = super::connect(&url).await.expect("connect");
        db.execute_unprepared("CREATE TABLE t (tenant_id TEXT, n INTEGER)")
            .await
            .expect("table");
        let tenant = crate::TenantId::parse("acme").expect("tenant");
        let write = |n: i64| {
            let db = db.clone();
            let tenant = tenant.clone();
            async move {
                let tx = super::TenantTxn::write(&db, &tenant).await.expect("begin");
                tx.conn()
                    .execute_raw(Statement::from_sql_and_values(
                        DbBackend::Sqlite,
                        "INSERT INTO t VALUES ($1, $2)",
                        ["acme".into(), n.into()],
                    ))
                    .await
                    .expect("insert");
                tx.commit().await.expect("commit");
            }
        };
        assert_eq!(super::sqlite_checkpoints(&db), 0);
        for n in 0..3 {
            write(n).await;
            tokio::time::sleep(super::CHECKPOINT_EVERY + std::time::Duration::from_millis(50))
                .await;
        }
        assert!(
            super::sqlite_checkpoints(&db) >= 2,
            "{} checkpoints",
            super::sqlite_checkpoints(&db)
        );
    }

    /// Built with `SQLITE_ENABLE_QPSG` (see `.cargo/config.toml`), so that a
    /// statement with a bound LIMIT is not parsed and planned again on every
    /// run.
    #[tokio::test]
    async fn sqlite_plans_once_per_statement() {
        let db = super::connect("sqlite::memory:").await.expect("connect");
        let options = db
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA compile_options",
            ))
            .await
            .expect("compile options");
        let options: Vec<String> = options
            .iter()
            .map(|row| row.try_get_by_index(0).expect("text"))
            .collect();
        assert!(
            options.iter().any(|o| o == "ENABLE_QPSG"),
            "SQLite was built without ENABLE_QPSG: {options:?}"
        );
    }
}

#[cfg(test)]
mod open_tests {
    use super::shown_url;

    #[test]
    fn urls_in_errors_show_the_file_or_hide_the_password() {
        assert_eq!(
            shown_url("sqlite:///var/lib/aerie/flow.db?mode=rwc"),
            "/var/lib/aerie/flow.db"
        );
        assert_eq!(
            shown_url("postgres://aerie:s3cret@db:5432/aerie"),
            "postgres://aerie:***@db:5432/aerie"
        );
        assert_eq!(shown_url("postgres://db/aerie"), "postgres://db/aerie");
    }

    /// A corrupt SQLite file names its service and path.
    #[tokio::test]
    async fn a_file_that_is_not_a_database_names_service_and_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("flow.db");
        std::fs::write(&path, vec![0x5a_u8; 8192]).expect("write");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let err = super::connect_and_migrate::<NoMigrations>(&url, &url, "flow")
            .await
            .expect_err("not a database");
        let text = err.to_string();
        assert!(
            text.contains(&format!("flow database {}", path.display())),
            "{text}"
        );
    }

    struct NoMigrations;

    impl sea_orm_migration::MigratorTrait for NoMigrations {
        fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
            Vec::new()
        }
    }
}
