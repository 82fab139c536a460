//! execution-svc's part of a tenant archive: executions with their task
//! runs and log lines, the work queue's entries of unfinished ones, the
//! Schedule triggers' cursors, the flow sources executions ran, and every
//! file in the tenant's storage.
//!
//! Executions get new ids on import: an id is what the work queue, the
//! live change notices and file paths know an execution by, so two tenants
//! of one instance never share one. The old ids are replaced wherever they
//! appear (parent links, outputs, file URIs and paths, trigger data).
//! Idempotency keys are left behind: they only last a day.

use std::collections::HashMap;

use aerie_common::TenantId;
use aerie_common::db::TenantTxn;
use aerie_common::transfer::{
    Archive, EntryStream, MAX_ARCHIVE_BYTES, delete_tenant_rows, insert_rows, part_status,
    receive_part, remap_ids, stream_entries, tenant_rows, transfer_key_of,
};
use aerie_proto::transfer::internal::v1 as pb;
use sea_orm::{ActiveValue::NotSet, DbErr, IntoActiveModel};
use tonic::{Request, Response, Status};

use aerie_common::crypto::SecretBox;

use crate::api::ExecutionApi;
use crate::executor::secret_inputs::reseal;
use crate::repo::entities::{
    execution_logs, execution_queue, executions, flow_sources, flow_trigger_windows,
    idempotency_keys, schedule_cursors, task_runs,
};
use crate::storage::StoragePath;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const EXECUTIONS: &str = "execution/executions.jsonl";
const TASK_RUNS: &str = "execution/task_runs.jsonl";
const LOGS: &str = "execution/execution_logs.jsonl";
const QUEUE: &str = "execution/execution_queue.jsonl";
const CURSORS: &str = "execution/schedule_cursors.jsonl";
const SOURCES: &str = "execution/flow_sources.jsonl";
/// Files, by their path in the tenant's storage.
const FILES: &str = "storage/";

/// The SECRET inputs each flow revision declares, read once per revision
/// (a tenant may hold many executions of one).
#[derive(Default)]
struct SecretSpecs(HashMap<(String, String, i32), Vec<crate::domain::plan::InputSpec>>);

impl SecretSpecs {
    /// The SECRET inputs of `row`'s revision when `row` holds a value for
    /// one; empty otherwise.
    fn of(
        &mut self,
        row: &executions::Model,
        sources: &[flow_sources::Model],
    ) -> &[crate::domain::plan::InputSpec] {
        let key = (
            row.namespace.clone(),
            row.flow_id.clone(),
            row.flow_revision,
        );
        let specs = self
            .0
            .entry(key)
            .or_insert_with(|| declared_inputs(row, sources));
        let stored: serde_json::Value = serde_json::from_str(&row.inputs).unwrap_or_default();
        if specs
            .iter()
            .any(|s| stored.get(&s.id).is_some_and(serde_json::Value::is_string))
        {
            specs
        } else {
            &[]
        }
    }
}

/// The SECRET inputs an execution's flow revision declares: from the
/// source the row carries, or the one stored once per revision.
fn declared_inputs(
    row: &executions::Model,
    sources: &[flow_sources::Model],
) -> Vec<crate::domain::plan::InputSpec> {
    let source = if row.flow_source.is_empty() {
        sources
            .iter()
            .find(|s| {
                s.namespace == row.namespace
                    && s.flow_id == row.flow_id
                    && s.revision == row.flow_revision
            })
            .map(|s| s.source.as_str())
            .unwrap_or_default()
    } else {
        row.flow_source.as_str()
    };
    aerie_common::kestra::inputs::declared_in(source)
        .into_iter()
        .filter(|input| input.kind == "SECRET")
        .collect()
}

impl ExecutionApi {
    /// Adds the tenant's execution-svc rows and files to `archive`. SECRET
    /// inputs are sealed again under `transfer_key` (required when there
    /// are any), as flow-svc carries namespace secrets.
    pub async fn export_tenant(
        &self,
        tenant: &TenantId,
        archive: &mut Archive,
        transfer_key: Option<&SecretBox>,
    ) -> Result<(), BoxError> {
        let tx = TenantTxn::read(self.db(), tenant).await?;
        let mut executions =
            tenant_rows::<executions::Entity>(&tx, executions::Column::TenantId).await?;
        let sources =
            tenant_rows::<flow_sources::Entity>(&tx, flow_sources::Column::TenantId).await?;
        let master = &self.engine().secret_inputs;
        let mut secret_specs = SecretSpecs::default();
        for row in &mut executions {
            let specs = secret_specs.of(row, &sources);
            if specs.is_empty() {
                continue;
            }
            let Some(key) = transfer_key else {
                return Err(format!(
                    "execution {} holds SECRET inputs: give a transfer key (--secrets-key-file, or the x-aerie-transfer-key header) to carry them, sealed under it",
                    row.id
                )
                .into());
            };
            let at = (
                row.namespace.as_str(),
                row.flow_id.as_str(),
                row.flow_revision,
            );
            row.inputs = reseal(&row.inputs, specs, at, (master, tenant), (key, tenant))?.0;
        }
        archive.put_rows(EXECUTIONS, &executions)?;
        archive.put_rows(
            TASK_RUNS,
            &tenant_rows::<task_runs::Entity>(&tx, task_runs::Column::TenantId).await?,
        )?;
        archive.put_rows(
            LOGS,
            &tenant_rows::<execution_logs::Entity>(&tx, execution_logs::Column::TenantId).await?,
        )?;
        archive.put_rows(
            QUEUE,
            &tenant_rows::<execution_queue::Entity>(&tx, execution_queue::Column::TenantId).await?,
        )?;
        archive.put_rows(
            CURSORS,
            &tenant_rows::<schedule_cursors::Entity>(&tx, schedule_cursors::Column::TenantId)
                .await?,
        )?;
        archive.put_rows(SOURCES, &sources)?;
        tx.commit().await?;
        let storage = &self.engine().storage;
        for path in storage.files(tenant).await? {
            let content = storage
                .get(tenant, &path, MAX_ARCHIVE_BYTES as usize)
                .await?;
            archive.put(&format!("{FILES}{}", path.as_str()), content.to_vec());
        }
        Ok(())
    }

    /// Writes the archive's executions and files into `tenant`: the files
    /// first, then every row in one transaction (the files are removed
    /// again if it fails). SECRET inputs, sealed under `transfer_key` for
    /// `source`, are sealed again under the master key for `tenant`; a
    /// wrong key writes nothing.
    pub async fn import_tenant(
        &self,
        tenant: &TenantId,
        source: &TenantId,
        archive: &Archive,
        transfer_key: Option<&SecretBox>,
    ) -> Result<(), BoxError> {
        let mut executions: Vec<executions::Model> = archive.rows(EXECUTIONS)?;
        let archived_sources: Vec<flow_sources::Model> = archive.rows(SOURCES)?;
        let master = &self.engine().secret_inputs;
        let mut secret_specs = SecretSpecs::default();
        for row in &mut executions {
            let specs = secret_specs.of(row, &archived_sources);
            if specs.is_empty() {
                continue;
            }
            let Some(key) = transfer_key else {
                return Err(
                    "the archive's executions hold SECRET inputs: give the transfer key they were sealed with (--secrets-key-file, or the x-aerie-transfer-key header)"
                        .into(),
                );
            };
            let at = (
                row.namespace.as_str(),
                row.flow_id.as_str(),
                row.flow_revision,
            );
            row.inputs = reseal(&row.inputs, specs, at, (key, source), (master, tenant))?.0;
        }
        let ids: HashMap<String, String> = executions
            .iter()
            .map(|e| {
                (
                    e.id.clone(),
                    crate::domain::ExecutionId::generate().as_str().to_owned(),
                )
            })
            .collect();
        let task_runs: Vec<task_runs::Model> = archive.rows(TASK_RUNS)?;
        let logs: Vec<execution_logs::Model> = archive.rows(LOGS)?;
        let queue: Vec<execution_queue::Model> = archive.rows(QUEUE)?;
        let cursors: Vec<schedule_cursors::Model> = archive.rows(CURSORS)?;
        let sources: Vec<flow_sources::Model> = archive.rows(SOURCES)?;
        let mut files = Vec::new();
        for (path, content) in archive.under(FILES) {
            let path = StoragePath::parse(&remap_ids(path, &ids))?;
            files.push((path, bytes::Bytes::copy_from_slice(content)));
        }

        let storage = &self.engine().storage;
        let mut written = Vec::new();
        for (path, content) in files {
            if let Err(err) = storage.put(tenant, &path, content).await {
                self.remove_files(tenant, &written).await;
                return Err(err.into());
            }
            written.push(path);
        }
        let rows = async {
            let tx = TenantTxn::write(self.db(), tenant).await?;
            let key = tx.tenant_key().to_owned();
            for row in &mut executions {
                row.tenant_id = key.clone();
                row.id = ids[&row.id].clone();
                row.parent_execution_id = row
                    .parent_execution_id
                    .as_ref()
                    .map(|p| ids.get(p).cloned().unwrap_or_else(|| p.clone()));
                for text in [
                    &mut row.inputs,
                    &mut row.outputs,
                    &mut row.labels,
                    &mut row.trigger,
                ] {
                    *text = remap_ids(text, &ids);
                }
            }
            let task_runs: Vec<_> = task_runs
                .into_iter()
                .map(|mut row| {
                    row.tenant_id = key.clone();
                    row.execution_id = remap_ids(&row.execution_id, &ids);
                    row.outputs = remap_ids(&row.outputs, &ids);
                    row.into_active_model()
                })
                .collect();
            let logs: Vec<_> = logs
                .into_iter()
                .map(|mut row| {
                    row.tenant_id = key.clone();
                    row.execution_id = remap_ids(&row.execution_id, &ids);
                    let mut row = row.into_active_model();
                    row.seq = NotSet;
                    row
                })
                .collect();
            let queue: Vec<_> = queue
                .into_iter()
                .filter(|row| ids.contains_key(&row.execution_id))
                .map(|mut row| {
                    // Claimed by no worker of this instance.
                    row.tenant_id = key.clone();
                    row.execution_id = ids[&row.execution_id].clone();
                    row.lease_owner = None;
                    row.lease_until = None;
                    row.into_active_model()
                })
                .collect();
            let cursors: Vec<_> = cursors
                .into_iter()
                .map(|mut row| {
                    row.tenant_id = key.clone();
                    row.into_active_model()
                })
                .collect();
            let sources: Vec<_> = sources
                .into_iter()
                .map(|mut row| {
                    row.tenant_id = key.clone();
                    row.into_active_model()
                })
                .collect();
            insert_rows(
                &tx,
                executions
                    .into_iter()
                    .map(IntoActiveModel::into_active_model)
                    .collect(),
            )
            .await?;
            insert_rows(&tx, task_runs).await?;
            insert_rows(&tx, logs).await?;
            insert_rows(&tx, queue).await?;
            insert_rows(&tx, cursors).await?;
            insert_rows(&tx, sources).await?;
            tx.commit().await
        }
        .await;
        if let Err(err) = rows {
            self.remove_files(tenant, &written).await;
            return Err(err.into());
        }
        Ok(())
    }

    async fn remove_files(&self, tenant: &TenantId, paths: &[StoragePath]) {
        for path in paths {
            if let Err(err) = self.engine().storage.delete(tenant, path).await {
                tracing::warn!(%err, path = path.as_str(), "cannot remove an imported file");
            }
        }
    }

    /// Deletes every execution-svc row and file of `tenant`.
    pub async fn remove_tenant_data(&self, tenant: &TenantId) -> Result<(), BoxError> {
        let tx = TenantTxn::write(self.db(), tenant).await?;
        delete_tenant_rows::<executions::Entity>(&tx, executions::Column::TenantId).await?;
        delete_tenant_rows::<task_runs::Entity>(&tx, task_runs::Column::TenantId).await?;
        delete_tenant_rows::<execution_logs::Entity>(&tx, execution_logs::Column::TenantId).await?;
        delete_tenant_rows::<execution_queue::Entity>(&tx, execution_queue::Column::TenantId)
            .await?;
        delete_tenant_rows::<schedule_cursors::Entity>(&tx, schedule_cursors::Column::TenantId)
            .await?;
        delete_tenant_rows::<flow_sources::Entity>(&tx, flow_sources::Column::TenantId).await?;
        delete_tenant_rows::<idempotency_keys::Entity>(&tx, idempotency_keys::Column::TenantId)
            .await?;
        delete_tenant_rows::<flow_trigger_windows::Entity>(
            &tx,
            flow_trigger_windows::Column::TenantId,
        )
        .await?;
        tx.commit()
            .await
            .map_err(|e: DbErr| Box::new(e) as BoxError)?;
        let storage = &self.engine().storage;
        let files = storage.files(tenant).await?;
        self.remove_files(tenant, &files).await;
        Ok(())
    }
}

#[tonic::async_trait]
impl pb::execution_transfer_service_server::ExecutionTransferService for ExecutionApi {
    type ExportPartStream = EntryStream;

    async fn export_part(
        &self,
        request: Request<pb::ExportPartRequest>,
    ) -> Result<Response<EntryStream>, Status> {
        let tenant = self.internal_tenant(&request)?;
        let key = transfer_key_of(&request.get_ref().transfer_key)?;
        let mut archive = Archive::new(tenant.storage_key(), "");
        self.export_tenant(&tenant, &mut archive, key.as_ref())
            .await
            .map_err(part_status)?;
        Ok(Response::new(stream_entries(archive)))
    }

    async fn import_part(
        &self,
        request: Request<tonic::Streaming<pb::ImportPartRequest>>,
    ) -> Result<Response<pb::ImportPartResponse>, Status> {
        let tenant = self.internal_tenant(&request)?;
        let (header, archive) = receive_part(request.into_inner()).await?;
        let source = TenantId::from_storage_key(&header.source_tenant)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let key = transfer_key_of(&header.transfer_key)?;
        self.import_tenant(&tenant, &source, &archive, key.as_ref())
            .await
            .map_err(part_status)?;
        Ok(Response::new(pb::ImportPartResponse { notes: Vec::new() }))
    }

    async fn remove_part(
        &self,
        request: Request<pb::RemovePartRequest>,
    ) -> Result<Response<pb::RemovePartResponse>, Status> {
        let tenant = self.internal_tenant(&request)?;
        self.remove_tenant_data(&tenant)
            .await
            .map_err(part_status)?;
        Ok(Response::new(pb::RemovePartResponse {}))
    }
}
