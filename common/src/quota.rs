//! Per-tenant quotas: the instance defaults (`aerie.tenants.quotas.*`) with
//! a tenant's own overrides applied. tenant-svc stores the overrides;
//! execution-svc enforces the result.

use std::sync::Arc;

use aerie_proto::tenant::internal::v1::GetTenantQuotasRequest;
use aerie_proto::tenant::internal::v1::tenant_internal_service_client::TenantInternalServiceClient;
use aerie_proto::tenant::v1 as pb;
use moka::future::Cache;
use serde::{Deserialize, Serialize};

use crate::changes::{Change, ChangeWatch, WATCHED_TTL};
use crate::config::QuotasConfig;
use crate::grpc::Channel;
use crate::{ServiceError, TenantId};

/// Where one tenant's quotas differ from the instance defaults; `None`
/// follows the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct QuotaOverrides {
    pub running_executions: Option<u32>,
    pub queued_executions: Option<u32>,
    pub executions_per_minute: Option<u32>,
    pub foreach_items: Option<u32>,
    pub task_runs_per_execution: Option<u32>,
    pub parallel_branches: Option<u32>,
    pub log_lines_per_execution: Option<u32>,
    pub log_bytes_per_execution: Option<u64>,
    pub output_bytes_per_task_run: Option<u64>,
    pub execution_retention: Option<String>,
    pub audit_retention: Option<String>,
}

/// A retention period: a positive ISO-8601 duration (`P30D`, `PT12H`).
pub fn parse_retention(text: &str) -> Option<std::time::Duration> {
    crate::kestra::duration::parse_iso_duration(text.trim()).filter(|d| !d.is_zero())
}

impl QuotaOverrides {
    /// Every override is at least 1: a quota of 0 would refuse all work,
    /// which deleting the tenant says more honestly.
    pub fn validate(&self) -> Result<(), ServiceError> {
        let fields = [
            ("runningExecutions", self.running_executions.map(u64::from)),
            ("queuedExecutions", self.queued_executions.map(u64::from)),
            (
                "executionsPerMinute",
                self.executions_per_minute.map(u64::from),
            ),
            ("foreachItems", self.foreach_items.map(u64::from)),
            (
                "taskRunsPerExecution",
                self.task_runs_per_execution.map(u64::from),
            ),
            ("parallelBranches", self.parallel_branches.map(u64::from)),
            (
                "logLinesPerExecution",
                self.log_lines_per_execution.map(u64::from),
            ),
            ("logBytesPerExecution", self.log_bytes_per_execution),
            ("outputBytesPerTaskRun", self.output_bytes_per_task_run),
        ];
        if let Some((name, _)) = fields.iter().find(|(_, value)| *value == Some(0)) {
            return Err(ServiceError::InvalidArgument(format!(
                "quota {name} must be at least 1 (leave it out to follow the instance default)"
            )));
        }
        // A tenant's audit trail is not switched off by a tiny retention.
        for (name, value, least, shown) in [
            ("executionRetention", &self.execution_retention, 60, "PT1M"),
            ("auditRetention", &self.audit_retention, 86_400, "P1D"),
        ] {
            let Some(text) = value else { continue };
            match parse_retention(text) {
                None => {
                    return Err(ServiceError::InvalidArgument(format!(
                        "{name} '{text}' is not a positive ISO-8601 duration such as P30D"
                    )));
                }
                Some(period) if period.as_secs() < least => {
                    return Err(ServiceError::InvalidArgument(format!(
                        "{name} '{text}' is shorter than {shown}, the least a tenant may be given"
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The quotas in force: `defaults` with these overrides applied.
    pub fn apply(&self, defaults: &QuotasConfig) -> QuotasConfig {
        QuotasConfig {
            running_executions: self
                .running_executions
                .unwrap_or(defaults.running_executions),
            queued_executions: self.queued_executions.unwrap_or(defaults.queued_executions),
            executions_per_minute: self
                .executions_per_minute
                .unwrap_or(defaults.executions_per_minute),
            foreach_items: self.foreach_items.unwrap_or(defaults.foreach_items),
            task_runs_per_execution: self
                .task_runs_per_execution
                .unwrap_or(defaults.task_runs_per_execution),
            parallel_branches: self.parallel_branches.unwrap_or(defaults.parallel_branches),
            log_lines_per_execution: self
                .log_lines_per_execution
                .unwrap_or(defaults.log_lines_per_execution),
            log_bytes_per_execution: self
                .log_bytes_per_execution
                .unwrap_or(defaults.log_bytes_per_execution),
            output_bytes_per_task_run: self
                .output_bytes_per_task_run
                .unwrap_or(defaults.output_bytes_per_task_run),
            execution_retention: self
                .execution_retention
                .clone()
                .unwrap_or_else(|| defaults.execution_retention.clone()),
            audit_retention: self
                .audit_retention
                .clone()
                .unwrap_or_else(|| defaults.audit_retention.clone()),
        }
    }
}

impl From<pb::TenantQuotas> for QuotaOverrides {
    fn from(q: pb::TenantQuotas) -> Self {
        QuotaOverrides {
            running_executions: q.running_executions,
            queued_executions: q.queued_executions,
            executions_per_minute: q.executions_per_minute,
            foreach_items: q.foreach_items,
            task_runs_per_execution: q.task_runs_per_execution,
            parallel_branches: q.parallel_branches,
            log_lines_per_execution: q.log_lines_per_execution,
            log_bytes_per_execution: q.log_bytes_per_execution,
            output_bytes_per_task_run: q.output_bytes_per_task_run,
            execution_retention: q.execution_retention,
            audit_retention: q.audit_retention,
        }
    }
}

impl From<QuotaOverrides> for pb::TenantQuotas {
    fn from(q: QuotaOverrides) -> Self {
        pb::TenantQuotas {
            running_executions: q.running_executions,
            queued_executions: q.queued_executions,
            executions_per_minute: q.executions_per_minute,
            foreach_items: q.foreach_items,
            task_runs_per_execution: q.task_runs_per_execution,
            parallel_branches: q.parallel_branches,
            log_lines_per_execution: q.log_lines_per_execution,
            log_bytes_per_execution: q.log_bytes_per_execution,
            output_bytes_per_task_run: q.output_bytes_per_task_run,
            execution_retention: q.execution_retention,
            audit_retention: q.audit_retention,
        }
    }
}

/// Quotas in force, every field set, as the wire shows them.
pub fn in_force(quotas: &QuotasConfig) -> pb::TenantQuotas {
    pb::TenantQuotas {
        running_executions: Some(quotas.running_executions),
        queued_executions: Some(quotas.queued_executions),
        executions_per_minute: Some(quotas.executions_per_minute),
        foreach_items: Some(quotas.foreach_items),
        task_runs_per_execution: Some(quotas.task_runs_per_execution),
        parallel_branches: Some(quotas.parallel_branches),
        log_lines_per_execution: Some(quotas.log_lines_per_execution),
        log_bytes_per_execution: Some(quotas.log_bytes_per_execution),
        output_bytes_per_task_run: Some(quotas.output_bytes_per_task_run),
        execution_retention: Some(quotas.execution_retention.clone()),
        audit_retention: Some(quotas.audit_retention.clone()),
    }
}

/// Each tenant's quotas. Overrides are read once and kept until tenant-svc
/// announces a change to the tenant (see `changes`).
pub struct QuotaBook {
    defaults: QuotasConfig,
    tenants: TenantInternalServiceClient<Channel>,
    service_token: String,
    overrides: Cache<TenantId, (Arc<QuotaOverrides>, std::time::Instant)>,
    watch: ChangeWatch,
}

impl QuotaBook {
    pub fn new(
        defaults: &QuotasConfig,
        tenants: Channel,
        service_token: String,
        watch: &ChangeWatch,
    ) -> QuotaBook {
        let overrides: Cache<TenantId, (Arc<QuotaOverrides>, std::time::Instant)> =
            Cache::builder()
                .max_capacity(100_000)
                .time_to_live(WATCHED_TTL)
                .support_invalidation_closures()
                .build();
        let entries = overrides.clone();
        watch.on_change(move |change| match change {
            Change::Everything => entries.invalidate_all(),
            Change::Tenant(tenant) => {
                let tenant = tenant.clone();
                let _ = entries.invalidate_entries_if(move |t, _| *t == tenant);
            }
            Change::Principal(..) => {}
        });
        QuotaBook {
            defaults: defaults.clone(),
            tenants: TenantInternalServiceClient::new(tenants),
            service_token,
            overrides,
            watch: watch.clone(),
        }
    }

    /// The instance defaults (`aerie.tenants.quotas.*`).
    pub fn defaults(&self) -> &QuotasConfig {
        &self.defaults
    }

    /// The quotas in force for `tenant`.
    pub async fn of(&self, tenant: &TenantId) -> QuotasConfig {
        self.overrides(tenant).await.apply(&self.defaults)
    }

    /// Where `tenant`'s quotas differ from the defaults. The default
    /// tenant has no overrides. When tenant-svc cannot answer, the defaults
    /// apply until it can (and nothing is remembered).
    pub async fn overrides(&self, tenant: &TenantId) -> Arc<QuotaOverrides> {
        let Some(id) = tenant.as_named() else {
            return Arc::default();
        };
        if let Some((known, at)) = self.overrides.get(tenant).await
            && self.watch.trusts(at)
        {
            return known;
        }
        let epoch = self.watch.epoch();
        let request = crate::audit::service_request(
            GetTenantQuotasRequest { id: id.to_owned() },
            tenant,
            &self.service_token,
        );
        let found = match self.tenants.clone().get_tenant_quotas(request).await {
            Ok(quotas) => QuotaOverrides::from(quotas.into_inner()),
            // A deleted tenant runs nothing anyway.
            Err(status) if status.code() == tonic::Code::NotFound => QuotaOverrides::default(),
            Err(status) => {
                tracing::warn!(%tenant, %status, "cannot read the tenant's quotas; defaults apply");
                return Arc::default();
            }
        };
        let found = Arc::new(found);
        if self.watch.epoch() == epoch {
            self.overrides
                .insert(tenant.clone(), (found.clone(), std::time::Instant::now()))
                .await;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_only_what_they_set_and_zero_is_refused() {
        let defaults = QuotasConfig::default();
        let overrides = QuotaOverrides {
            running_executions: Some(2),
            foreach_items: Some(50),
            ..Default::default()
        };
        let applied = overrides.apply(&defaults);
        assert_eq!(applied.running_executions, 2);
        assert_eq!(applied.foreach_items, 50);
        assert_eq!(applied.queued_executions, defaults.queued_executions);
        assert!(overrides.validate().is_ok());
        let zero = QuotaOverrides {
            log_bytes_per_execution: Some(0),
            ..Default::default()
        };
        let refused = zero.validate().unwrap_err().to_string();
        assert!(refused.contains("logBytesPerExecution"), "{refused}");
        let short = QuotaOverrides {
            audit_retention: Some("PT1H".into()),
            ..Default::default()
        };
        let refused = short.validate().unwrap_err().to_string();
        assert!(refused.contains("shorter than P1D"), "{refused}");
        let bad = QuotaOverrides {
            execution_retention: Some("P0D".into()),
            ..Default::default()
        };
        let refused = bad.validate().unwrap_err().to_string();
        assert!(refused.contains("executionRetention"), "{refused}");
        assert!(
            QuotaOverrides {
                audit_retention: Some("P2D".into()),
                ..Default::default()
            }
            .validate()
            .is_ok()
        );
        let round_trip: QuotaOverrides = pb::TenantQuotas::from(overrides.clone()).into();
        assert_eq!(round_trip, overrides);
    }
}
