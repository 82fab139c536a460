//! Accepting an execution: the row, its queue entry and its audit entry
//! are written in one transaction, so an accepted execution is never lost
//! and never unaudited.

use std::collections::BTreeMap;

use aerie_common::audit::{self, AuditEntry};
use sea_orm::DbErr;
use serde_json::{Map, Value, json};

use super::Engine;
use crate::domain::{ExecutionId, State, push_history};
use crate::repo::entities::executions;
use crate::repo::{self, TenantTxn, queue};

/// What started an execution.
pub enum StartedBy {
    /// A user or service account, by name.
    Caller(String),
    /// A Webhook trigger: `trigger` holds its id, body, headers and parameters.
    Webhook(Value),
    /// A Schedule trigger: `trigger` holds its id and the tick's date.
    Schedule(Value),
}

/// An execution to accept.
pub struct NewExecution {
    pub id: ExecutionId,
    pub namespace: String,
    pub flow_id: String,
    pub flow_revision: i32,
    pub flow_source: String,
    pub inputs: Map<String, Value>,
    pub labels: BTreeMap<String, String>,
    pub started_by: StartedBy,
}

impl Engine {
    /// Writes `new` into `tx` (the caller commits, then calls
    /// [`Engine::wake`]).
    pub async fn accept(
        &self,
        tx: &TenantTxn,
        new: NewExecution,
    ) -> Result<executions::Model, DbErr> {
        let now = repo::now();
        let (actor, trigger) = match new.started_by {
            StartedBy::Caller(name) => (name, json!({})),
            StartedBy::Webhook(trigger) => ("webhook".to_owned(), trigger),
            StartedBy::Schedule(trigger) => ("schedule".to_owned(), trigger),
        };
        let row = executions::Model {
            tenant_id: tx.tenant_key().to_owned(),
            id: new.id.as_str().to_owned(),
            namespace: new.namespace,
            flow_id: new.flow_id,
            flow_revision: new.flow_revision,
            // Stored once per revision (see below), not in every row.
            flow_source: String::new(),
            state: State::Created.as_str().to_owned(),
            histories: push_history("[]", State::Created, now),
            inputs: Value::Object(new.inputs).to_string(),
            outputs: "{}".to_owned(),
            labels: serde_json::to_string(&new.labels).unwrap_or_else(|_| "{}".into()),
            trigger: trigger.to_string(),
            create_time: now,
            update_time: now,
        };
        repo::executions::keep_flow_source(
            tx,
            &row.namespace,
            &row.flow_id,
            row.flow_revision,
            &new.flow_source,
        )
        .await?;
        repo::executions::insert(tx, row.clone()).await?;
        let running_quota = self.quotas.overrides(tx.tenant()).await.running_executions;
        queue::enqueue(tx, &new.id, repo::now_millis(), running_quota).await?;
        let entry = AuditEntry::new(tx.tenant(), "EXECUTION", new.id.as_str(), "CREATE", actor)
            .with_details(json!({
                "namespace": row.namespace,
                "flowId": row.flow_id,
                "flowRevision": row.flow_revision,
                "trigger": trigger.get("type").cloned().unwrap_or(Value::Null),
            }));
        audit::enqueue(tx.conn(), entry).await?;
        Ok(row)
    }
}
