//! The second line of isolation on PostgreSQL: services run as a role that
//! owns nothing, so even with the repository's tenant filter gone, and even
//! trying, it sees one tenant's rows only and cannot turn row-level security
//! off. (SQLite has no roles and no RLS: there the repository filter is the
//! only line, tested everywhere else; this test needs the CI's PostgreSQL.)

use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, TransactionTrait,
};
use serde_json::json;

use crate::app::{Mode, TestApp};

/// The tenant of every row of `table` that `db` sees inside a transaction
/// set to `tenant` (none: no tenant set), with no filter of its own: what
/// a query that forgot its tenant filter would read (PostgreSQL only).
pub async fn unfiltered_tenants(
    db: &DatabaseConnection,
    tenant: Option<&str>,
    table: &str,
) -> Vec<String> {
    // auth-svc's tables name the column `tenant`.
    let column = if matches!(table, "bindings" | "audit_logs") {
        "tenant"
    } else {
        "tenant_id"
    };
    let txn = db.begin().await.expect("begin");
    if let Some(tenant) = tenant {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT set_config('aerie.tenant', $1, true)",
            [tenant.into()],
        ))
        .await
        .expect("set tenant");
    }
    let rows = txn
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT {column} FROM {table}"),
        ))
        .await
        .expect("select");
    rows.iter()
        .map(|row| row.try_get_by_index::<String>(0).expect("tenant column"))
        .collect()
}

/// The distinct tenants of `table`'s rows seen in `tenant`'s transaction.
async fn visible(db: &DatabaseConnection, tenant: &str, table: &str) -> Vec<String> {
    let mut tenants = unfiltered_tenants(db, Some(tenant), table).await;
    tenants.sort();
    tenants.dedup();
    tenants
}

#[tokio::test]
async fn the_runtime_role_sees_one_tenant_and_cannot_disable_row_level_security() {
    let app = TestApp::start(Mode::MultiWithDefault).await;
    let (Some(flow_runtime), Some(execution_runtime), Some(auth_runtime)) = (
        app.flow_db.runtime_url.clone(),
        app.execution_db.runtime_url.clone(),
        app.auth_db.runtime_url.clone(),
    ) else {
        eprintln!(
            "skipped: needs AERIE_TEST_DATABASE_URL and AERIE_TEST_APP_DATABASE_URL (PostgreSQL)"
        );
        return;
    };
    for tenant in ["ta", "tb"] {
        app.create_tenant(tenant).await;
        app.bind(Some(tenant), "admin", "Admin", None).await;
        let (status, body) = app
            .put(
                &format!("/api/v1/{tenant}/namespaces/team/kv/k"),
                json!(tenant),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let flow = "id: f\nnamespace: team\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
        let (status, body) = app
            .yaml(
                reqwest::Method::POST,
                &format!("/api/v1/{tenant}/flows"),
                &app.admin,
                flow,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = app
            .post(
                &format!("/api/v1/{tenant}/executions/team/f?wait=true"),
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    for (url, table) in [
        (flow_runtime, "kv_entries"),
        (execution_runtime.clone(), "executions"),
        (execution_runtime, "flow_sources"),
        (auth_runtime.clone(), "bindings"),
        (auth_runtime, "audit_logs"),
    ] {
        let db = Database::connect(url.as_str()).await.expect("runtime role");
        assert_eq!(visible(&db, "ta", table).await, ["ta"], "{table}");
        assert_eq!(visible(&db, "tb", table).await, ["tb"], "{table}");
        assert!(
            visible(&db, "", table).await.is_empty(),
            "{table} without a tenant"
        );
        for attack in [
            format!("ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY"),
            format!("ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"),
            format!("DROP POLICY {table}_tenant_isolation ON {table}"),
            format!("CREATE POLICY open_{table} ON {table} USING (true)"),
        ] {
            let refused = db.execute_unprepared(&attack).await;
            assert!(refused.is_err(), "the runtime role may {attack}");
        }
        assert_eq!(
            visible(&db, "ta", table).await,
            ["ta"],
            "{table} after the attempts"
        );
    }
}
