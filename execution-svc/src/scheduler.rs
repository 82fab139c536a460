//! Schedule triggers. Every replica may run the scheduler: each second it
//! checks every enabled Schedule trigger of every live tenant, and a tick
//! fires only for the replica whose compare-and-set moves the trigger's
//! cursor (in the same transaction that accepts the execution), so each
//! tick fires exactly once.
//!
//! Catch-up policy: a trigger seen for the first time starts at its latest
//! past tick (nothing before it fires). After downtime, only the most
//! recent missed tick fires, once; earlier missed ticks are skipped, so a
//! long outage never ends in a storm of executions.
//!
//! The list of triggers is read from flow-svc every
//! `executor.trigger-refresh-seconds`, tenant by tenant, with the service
//! credential limited to that tenant; a changed schedule takes effect
//! within that time.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use aerie_common::config::Config;
use aerie_common::grpc::Channel;
use aerie_common::kestra::trigger_types;
use aerie_common::{TenantId, TenantPolicy};
use aerie_proto::flow::v1 as flow_pb;
use aerie_proto::tenant::v1::ListLiveTenantIdsRequest;
use aerie_proto::tenant::v1::tenant_internal_service_client::TenantInternalServiceClient;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, json};
use tokio_util::sync::CancellationToken;

use crate::domain::plan::Plan;
use crate::domain::{ExecutionId, inputs};
use crate::executor::{Engine, NewExecution, StartedBy};
use crate::repo::TenantTxn;
use crate::repo::schedules::{self, TriggerRef};

/// One Schedule trigger of one tenant's flow.
struct Schedule {
    tenant: TenantId,
    namespace: String,
    flow_id: String,
    trigger_id: String,
    trigger_type: String,
    cron: croner::Cron,
    zone: chrono_tz::Tz,
}

type ScheduleKey = (TenantId, String, String, String);

/// Fires Schedule triggers for one process.
pub struct Scheduler {
    engine: Engine,
    tenants: TenantInternalServiceClient<Channel>,
    policy: TenantPolicy,
    refresh_every: Duration,
    schedules: Vec<Schedule>,
    /// The cursor as this replica last saw it, by trigger.
    cursors: HashMap<ScheduleKey, i64>,
}

impl Scheduler {
    pub fn new(engine: Engine, config: &Config) -> Result<Scheduler, tonic::transport::Error> {
        let tenants = aerie_common::grpc::lazy_channel(&config.tenant_endpoint())?;
        Ok(Scheduler {
            engine,
            tenants: TenantInternalServiceClient::new(tenants),
            policy: config.tenant_policy(),
            refresh_every: Duration::from_secs(config.executor.trigger_refresh_seconds.max(1)),
            schedules: Vec::new(),
            cursors: HashMap::new(),
        })
    }

    pub fn spawn(mut self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut refreshed: Option<Instant> = None;
            let mut ticks = tokio::time::interval(Duration::from_secs(1));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = shutdown.cancelled() => return,
                }
                if refreshed.is_none_or(|at| at.elapsed() >= self.refresh_every) {
                    match self.refresh().await {
                        Ok(()) => refreshed = Some(Instant::now()),
                        Err(status) => tracing::warn!(%status, "cannot read Schedule triggers"),
                    }
                }
                self.fire_due(Utc::now()).await;
            }
        })
    }

    /// The tenants this instance serves.
    async fn live_tenants(&mut self) -> Result<Vec<TenantId>, tonic::Status> {
        let mut tenants = Vec::new();
        if self.policy.admit(&TenantId::default_tenant()).is_ok() {
            tenants.push(TenantId::default_tenant());
        }
        if self.policy.multi_tenancy {
            let request = self
                .engine
                .internal(&TenantId::default_tenant(), ListLiveTenantIdsRequest {});
            let ids = self
                .tenants
                .list_live_tenant_ids(request)
                .await?
                .into_inner()
                .ids;
            tenants.extend(ids.iter().filter_map(|id| TenantId::parse(id).ok()));
        }
        Ok(tenants)
    }

    async fn refresh(&mut self) -> Result<(), tonic::Status> {
        let mut schedules = Vec::new();
        for tenant in self.live_tenants().await? {
            let request = self
                .engine
                .internal(&tenant, flow_pb::ListScheduleTriggersRequest {});
            let triggers = self
                .engine
                .flows
                .clone()
                .list_schedule_triggers(request)
                .await?
                .into_inner()
                .triggers;
            for trigger in triggers {
                match schedule_of(&tenant, &trigger) {
                    Some(schedule) => schedules.push(schedule),
                    None => tracing::warn!(tenant = %tenant, flow = %trigger.flow_id,
                        trigger = %trigger.trigger_id, "Schedule trigger with an unusable cron or time zone"),
                }
            }
        }
        let keys: std::collections::HashSet<ScheduleKey> =
            schedules.iter().map(Schedule::key).collect();
        self.cursors.retain(|key, _| keys.contains(key));
        self.schedules = schedules;
        Ok(())
    }

    async fn fire_due(&mut self, now: DateTime<Utc>) {
        for index in 0..self.schedules.len() {
            let schedule = &self.schedules[index];
            let Some(latest) = latest_tick(&schedule.cron, schedule.zone, now) else {
                continue;
            };
            let key = schedule.key();
            if self
                .cursors
                .get(&key)
                .is_some_and(|cursor| *cursor >= latest)
            {
                continue;
            }
            match self.fire(index, latest).await {
                Ok(cursor) => {
                    self.cursors.insert(key, cursor);
                }
                Err(err) => tracing::warn!(tenant = %schedule.tenant, flow = %schedule.flow_id,
                    trigger = %schedule.trigger_id, %err, "Schedule tick not fired; tried again"),
            }
        }
    }

    /// Fires `tick` unless the trigger is new or another replica fired it;
    /// answers the cursor now stored.
    async fn fire(
        &self,
        index: usize,
        tick: i64,
    ) -> Result<i64, Box<dyn std::error::Error + Send + Sync>> {
        let schedule = &self.schedules[index];
        let trigger = TriggerRef {
            namespace: &schedule.namespace,
            flow_id: &schedule.flow_id,
            trigger_id: &schedule.trigger_id,
        };
        let tx = TenantTxn::write(&self.engine.db, &schedule.tenant).await?;
        let cursor = schedules::cursor_or_start(&tx, &trigger, tick).await?;
        if cursor >= tick {
            tx.commit().await?;
            return Ok(cursor);
        }
        if !schedules::advance(&tx, &trigger, cursor, tick).await? {
            return Ok(tick);
        }
        let request = flow_pb::GetFlowRequest {
            namespace: schedule.namespace.clone(),
            id: schedule.flow_id.clone(),
            revision: 0,
        };
        let flow = self
            .engine
            .flows
            .clone()
            .get_flow_for_execution(self.engine.internal(&schedule.tenant, request))
            .await?
            .into_inner();
        if flow.disabled {
            // A disabled flow lets its ticks pass without running.
            tx.commit().await?;
            return Ok(tick);
        }
        let plan = Plan::parse(&flow.source)?;
        let resolved = inputs::resolve(&plan.inputs, &Map::new(), &Default::default())
            .map_err(|problems| problems.join("; "))?;
        let date = schedule
            .zone
            .timestamp_opt(tick, 0)
            .single()
            .map(|d| d.to_rfc3339())
            .unwrap_or_default();
        let new = NewExecution {
            id: ExecutionId::generate(),
            namespace: flow.namespace,
            flow_id: flow.id,
            flow_revision: flow.revision,
            flow_source: flow.source,
            inputs: resolved,
            labels: Default::default(),
            started_by: StartedBy::Schedule(json!({
                "type": schedule.trigger_type,
                "id": schedule.trigger_id,
                "date": date,
            })),
        };
        self.engine.accept(&tx, new).await?;
        tx.commit().await?;
        self.engine.wake();
        tracing::info!(tenant = %schedule.tenant, flow = %schedule.flow_id,
            trigger = %schedule.trigger_id, %date, "schedule fired");
        Ok(tick)
    }
}

impl Schedule {
    fn key(&self) -> ScheduleKey {
        (
            self.tenant.clone(),
            self.namespace.clone(),
            self.flow_id.clone(),
            self.trigger_id.clone(),
        )
    }
}

fn schedule_of(tenant: &TenantId, trigger: &flow_pb::Trigger) -> Option<Schedule> {
    if trigger.r#type != trigger_types::SCHEDULE {
        return None;
    }
    let zone = if trigger.timezone.is_empty() {
        chrono_tz::UTC
    } else {
        chrono_tz::Tz::from_str(&trigger.timezone).ok()?
    };
    Some(Schedule {
        tenant: tenant.clone(),
        namespace: trigger.namespace.clone(),
        flow_id: trigger.flow_id.clone(),
        trigger_id: trigger.trigger_id.clone(),
        trigger_type: trigger.r#type.clone(),
        cron: croner::Cron::from_str(trigger.cron.trim()).ok()?,
        zone,
    })
}

/// The latest tick at or before `now`, in epoch seconds.
fn latest_tick(cron: &croner::Cron, zone: chrono_tz::Tz, now: DateTime<Utc>) -> Option<i64> {
    cron.find_previous_occurrence(&now.with_timezone(&zone), true)
        .ok()
        .map(|tick| tick.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_tick_respects_the_time_zone() {
        let cron = croner::Cron::from_str("0 9 * * *").unwrap();
        let now = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
        let utc = latest_tick(&cron, chrono_tz::UTC, now).unwrap();
        assert_eq!(
            utc,
            Utc.with_ymd_and_hms(2026, 7, 1, 9, 0, 0)
                .unwrap()
                .timestamp()
        );
        // 09:00 in Paris (UTC+2 in July) is 07:00 UTC.
        let paris = latest_tick(&cron, chrono_tz::Europe::Paris, now).unwrap();
        assert_eq!(
            paris,
            Utc.with_ymd_and_hms(2026, 7, 1, 7, 0, 0)
                .unwrap()
                .timestamp()
        );
        let every_second = croner::Cron::from_str("* * * * * *").unwrap();
        assert_eq!(
            latest_tick(&every_second, chrono_tz::UTC, now),
            Some(now.timestamp())
        );
    }
}
