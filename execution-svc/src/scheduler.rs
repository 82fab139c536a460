//! Schedule triggers. Every replica may run the scheduler. Each keeps its
//! schedules ordered by their next tick, so a pass looks only at the
//! triggers that are due (its cost follows what is due, not how many
//! triggers exist), and fires them concurrently. A tick fires only for the
//! replica whose compare-and-set moves the trigger's cursor, in the same
//! transaction that accepts the execution, so each tick fires exactly once.
//! The flow is read before that transaction: no row stays locked across a
//! call to flow-svc. On PostgreSQL a replica skips cursors another replica
//! holds (`FOR UPDATE SKIP LOCKED`), so replicas share a busy second's
//! work instead of queueing behind each other. Due ticks are written in
//! rounds: one transaction holds many tenants' parts (savepoints, each
//! bound to its tenant), so a busy second costs a few commits, not one per
//! tenant.
//!
//! Catch-up policy: a trigger seen for the first time starts at its latest
//! past tick (nothing before it fires). A tick up to a minute late (a busy
//! second, a short pause) still fires, each one once. After downtime, only
//! the most recent missed tick fires; earlier missed ticks are skipped, so
//! a long outage never ends in a storm of executions.
//!
//! Every tenant's triggers are read from flow-svc at start, several tenants
//! at once, with the service credential limited to each tenant. After that
//! flow-svc and tenant-svc announce which tenants changed (see
//! `aerie_common::changes`) and only those are read again, within a second;
//! the background cost follows changes, not the number of tenants. While
//! the announcements are not heard, every tenant is read again every
//! `executor.trigger-refresh-seconds`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aerie_common::TenantId;
use aerie_common::changes::{Change, ChangeWatch, Connect, WATCHED_TTL};
use aerie_common::config::Config;
use aerie_common::kestra::concurrency::Concurrency;
use aerie_common::kestra::trigger_types;
use aerie_proto::flow::v1 as flow_pb;
use chrono::{DateTime, TimeZone, Utc};
use futures::{StreamExt, TryStreamExt};
use serde_json::{Map, json};
use tokio_util::sync::CancellationToken;

use crate::domain::ExecutionId;
use crate::domain::plan::Plan;
use crate::executor::{Engine, NewExecution, StartedBy};
use crate::live_tenants::LiveTenants;
use crate::repo::TenantTxn;
use crate::repo::schedules::{self, Claim, TriggerRef};
use aerie_common::db::SharedTxn;
use sea_orm::DbErr;

/// Rounds of ticks fired at once by one replica.
const FIRING_AT_ONCE: usize = 8;

/// Ticks of one tenant fired in one part of a round.
const BATCH: usize = 100;

/// Tenants' batches in one round: one transaction, one commit. A commit
/// per tenant made a thousand tenants' every-second triggers a thousand
/// commits a second, more than SQLite here keeps up with.
const ROUND_TENANTS: usize = 200;

/// Ticks in one round at most.
const ROUND_TICKS: usize = 2000;

/// Bytes of flow sources kept for the schedules (about a hundred thousand
/// flows of 2 KiB).
const PREPARED_BYTES: u64 = 256 << 20;

/// A flow not fired for this long is read again at its next tick (hourly
/// and daily schedules), so that idle flows do not hold memory.
const PREPARED_IDLE: Duration = Duration::from_secs(300);

/// A flow's revision: tenant, namespace, id, revision.
type FlowRevision = (TenantId, String, String, i32);

/// Due ticks of one tenant, one schedule's together and in order.
type TenantBatch = (TenantId, Vec<(Schedule, i64)>);

/// A due tick with its flow, read.
type ReadyTick = (Schedule, i64, Arc<Prepared>);

/// One Schedule trigger of one tenant's flow. Its parts are shared, so
/// a copy costs three counter increments: a start handles a hundred
/// thousand of them, and copying their strings was a tenth of it.
#[derive(Clone)]
struct Schedule {
    key: Arc<ScheduleKey>,
    /// The revision of the flow that declared it, as last read.
    flow_revision: i32,
    cron_text: Arc<str>,
    cron: Arc<croner::Cron>,
    zone: chrono_tz::Tz,
}

/// Tenant, namespace, flow id, trigger id.
type ScheduleKey = (TenantId, String, String, String);

/// What became of one due tick.
#[derive(Clone, Copy)]
enum Fired {
    /// Fired here, skipped (new trigger, disabled flow) or already fired
    /// by another replica: the trigger waits for its next tick.
    Done,
    /// Not fired (flow-svc or the database failed): tried again next second.
    Retry,
}

/// Fires Schedule triggers for one process.
pub struct Scheduler {
    engine: Engine,
    tenants: LiveTenants,
    refresh_every: Duration,
    /// Every known schedule, with the tick it is queued for.
    schedules: HashMap<Arc<ScheduleKey>, (Schedule, i64)>,
    /// The schedules by next tick (epoch seconds).
    queue: BTreeSet<(i64, Arc<ScheduleKey>)>,
    /// Flows read for their schedules, by tenant, namespace, id and
    /// revision: a revision never changes, so an entry stays right for as
    /// long as it is kept.
    flows: moka::future::Cache<FlowRevision, Arc<Prepared>>,
}

impl Scheduler {
    pub fn new(engine: Engine, tenants: LiveTenants, config: &Config) -> Scheduler {
        Scheduler {
            engine,
            tenants,
            refresh_every: Duration::from_secs(config.executor.trigger_refresh_seconds.max(1)),
            schedules: HashMap::new(),
            queue: BTreeSet::new(),
            flows: moka::future::Cache::builder()
                .max_capacity(PREPARED_BYTES)
                .weigher(|_, prepared: &Arc<Prepared>| {
                    u32::try_from(prepared.source.len() + 512).unwrap_or(u32::MAX)
                })
                .time_to_idle(PREPARED_IDLE)
                .build(),
        }
    }

    pub fn spawn(mut self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        // Reading every tenant's triggers takes a while with many tenants:
        // it runs beside the firing loop, which never waits for it.
        let (found, mut arrivals) = tokio::sync::mpsc::channel(1);
        tokio::spawn(read_triggers(
            self.engine.clone(),
            self.tenants.clone(),
            self.refresh_every,
            found,
            shutdown.clone(),
        ));
        tokio::spawn(async move {
            let mut started = false;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(until_next_second(Utc::now())) => {
                        self.fire_due(Utc::now()).await
                    }
                    Some(found) = arrivals.recv() => {
                        self.replace(found.schedules, Utc::now());
                        // The start ends when the first complete list is
                        // queued here, ready to fire.
                        if !std::mem::replace(&mut started, true) {
                            let took_ms = found.since.elapsed().as_millis() as u64;
                            tracing::info!(triggers = self.schedules.len(), took_ms, "scheduler started");
                        }
                    }
                    _ = shutdown.cancelled() => return,
                }
            }
        })
    }

    /// Takes `found` as the schedules from now on: unchanged ones keep
    /// their place in the queue, new or changed ones are queued for their
    /// latest tick (which fires only if an earlier one was recorded).
    fn replace(&mut self, found: Vec<Schedule>, now: DateTime<Utc>) {
        let mut schedules = HashMap::with_capacity(found.len());
        let mut queue = BTreeSet::new();
        // Most schedules share a few crons: each latest tick is found once.
        let mut latest: HashMap<(Arc<str>, chrono_tz::Tz), Option<i64>> = HashMap::new();
        for schedule in found {
            let tick = match self.schedules.get(&schedule.key) {
                Some((known, tick)) if known.same_timing(&schedule) => Some(*tick),
                _ => *latest
                    .entry((schedule.cron_text.clone(), schedule.zone))
                    .or_insert_with(|| latest_tick(&schedule.cron, schedule.zone, now)),
            };
            let Some(tick) = tick else { continue };
            queue.insert((tick, schedule.key.clone()));
            schedules.insert(schedule.key.clone(), (schedule, tick));
        }
        self.schedules = schedules;
        self.queue = queue;
    }

    /// Fires every trigger due at `now`: up to [`BATCH`] ticks per tenant
    /// part, many tenants' parts per round, several rounds at once.
    async fn fire_due(&mut self, now: DateTime<Utc>) {
        let mut due: HashMap<TenantId, Vec<(Schedule, Vec<i64>)>> = HashMap::new();
        let mut passed = Vec::new();
        while let Some(first) = self.queue.first() {
            if first.0 > now.timestamp() {
                break;
            }
            let (queued, key) = self.queue.pop_first().expect("first exists");
            if let Some((schedule, _)) = self.schedules.get(&key) {
                let ticks = due_ticks(schedule, queued, now);
                if ticks.is_empty() {
                    passed.push((schedule.clone(), None, Fired::Done));
                } else {
                    due.entry(schedule.tenant().clone())
                        .or_default()
                        .push((schedule.clone(), ticks));
                }
            }
        }
        // Batches of about BATCH ticks; one schedule's ticks stay together
        // and in order, since each moves the cursor past the one before.
        let mut batches: Vec<TenantBatch> = Vec::new();
        for (tenant, schedules) in due {
            let mut batch = Vec::new();
            for (schedule, ticks) in schedules {
                if !batch.is_empty() && batch.len() + ticks.len() > BATCH {
                    batches.push((tenant.clone(), std::mem::take(&mut batch)));
                }
                batch.extend(ticks.into_iter().map(|tick| (schedule.clone(), tick)));
            }
            if !batch.is_empty() {
                batches.push((tenant, batch));
            }
        }
        // Rounds of tenant batches, each written in one transaction.
        let mut rounds: Vec<Vec<TenantBatch>> = Vec::new();
        let mut round: Vec<TenantBatch> = Vec::new();
        let mut round_ticks = 0;
        for batch in batches {
            if !round.is_empty()
                && (round.len() == ROUND_TENANTS || round_ticks + batch.1.len() > ROUND_TICKS)
            {
                rounds.push(std::mem::take(&mut round));
                round_ticks = 0;
            }
            round_ticks += batch.1.len();
            round.push(batch);
        }
        if !round.is_empty() {
            rounds.push(round);
        }
        let this = &*self;
        let fired: Vec<Vec<(Schedule, Option<i64>, Fired)>> = futures::stream::iter(rounds)
            .map(|round| async move { this.fire_round(round).await })
            .buffer_unordered(FIRING_AT_ONCE)
            .collect()
            .await;
        // Each schedule once: back at its earliest unfired tick, or its next.
        let mut again: HashMap<Arc<ScheduleKey>, (Schedule, Option<i64>)> = HashMap::new();
        for (schedule, tick, fired) in fired.into_iter().flatten().chain(passed) {
            let retry = match (fired, tick) {
                (Fired::Retry, Some(tick)) => Some(tick),
                _ => None,
            };
            let entry = again
                .entry(schedule.key.clone())
                .or_insert((schedule, None));
            entry.1 = match (entry.1, retry) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let mut next_ticks: HashMap<(Arc<str>, chrono_tz::Tz), Option<i64>> = HashMap::new();
        for (key, (schedule, retry)) in again {
            let next = retry.or_else(|| {
                *next_ticks
                    .entry((schedule.cron_text.clone(), schedule.zone))
                    .or_insert_with(|| next_tick(&schedule.cron, schedule.zone, now))
            });
            if let (Some(next), Some(entry)) = (next, self.schedules.get_mut(&key)) {
                entry.1 = next;
                self.queue.insert((next, key));
            }
        }
    }

    /// Fires the due ticks of a round of tenants in one transaction, each
    /// tenant's in its own part of it; each tick unless its trigger is
    /// new, its flow disabled, or another replica fired it (or is firing it).
    async fn fire_round(&self, round: Vec<TenantBatch>) -> Vec<(Schedule, Option<i64>, Fired)> {
        // The flows first, outside any transaction.
        let mut ready = Vec::with_capacity(round.len());
        let mut outcomes = Vec::new();
        for (tenant, ticks) in round {
            let mut prepared = Vec::with_capacity(ticks.len());
            for (schedule, tick) in ticks {
                match self.prepared(&schedule).await {
                    Ok(flow) => prepared.push((schedule, tick, flow)),
                    Err(status) => {
                        tracing::warn!(tenant = %schedule.tenant(), flow = %schedule.flow_id(),
                            trigger = %schedule.trigger_id(), %status, "Schedule tick not fired; tried again");
                        outcomes.push((schedule, Some(tick), Fired::Retry));
                    }
                }
            }
            ready.push((tenant, prepared));
        }
        let parts = match self.accept_round(&ready).await {
            Ok(parts) => parts,
            Err(err) => {
                tracing::warn!(tenants = ready.len(), %err, "Schedule ticks not fired; tried again");
                vec![false; ready.len()]
            }
        };
        for ((_, ticks), fired) in ready.into_iter().zip(parts) {
            let outcome = if fired { Fired::Done } else { Fired::Retry };
            for (schedule, tick, _) in ticks {
                outcomes.push((schedule, Some(tick), outcome));
            }
        }
        outcomes
    }

    /// One transaction for the round, one part of it per tenant: answers
    /// which tenants' parts were kept. A part that fails is undone alone
    /// (its ticks are tried again); a failed commit undoes them all.
    async fn accept_round(&self, ready: &[(TenantId, Vec<ReadyTick>)]) -> Result<Vec<bool>, DbErr> {
        let began = Instant::now();
        let shared = SharedTxn::write(&self.engine.db).await?;
        let writing = Instant::now();
        let mut parts = Vec::with_capacity(ready.len());
        let mut accepted = 0;
        for (tenant, ticks) in ready {
            if ticks.is_empty() {
                parts.push(true);
                continue;
            }
            let tx = TenantTxn::within(&shared, tenant).await?;
            match self.accept_ticks(&tx, ticks).await {
                Ok(count) => {
                    tx.commit().await?;
                    accepted += count;
                    parts.push(true);
                }
                Err(err) => {
                    tracing::warn!(%tenant, ticks = ticks.len(), %err, "Schedule ticks not fired; tried again");
                    tx.rollback().await?;
                    parts.push(false);
                }
            }
        }
        shared.commit().await?;
        tracing::debug!(
            tenants = ready.len(),
            accepted,
            waited_ms = (writing - began).as_millis() as u64,
            wrote_ms = writing.elapsed().as_millis() as u64,
            "Schedule round written"
        );
        if accepted > 0 {
            self.engine.wake();
        }
        Ok(parts)
    }

    /// Moves the cursor of each tick and accepts its execution, inside
    /// `tx`; answers how many executions were accepted.
    async fn accept_ticks(&self, tx: &TenantTxn, ready: &[ReadyTick]) -> Result<usize, DbErr> {
        let tenant = tx.tenant();
        let ticks: Vec<(TriggerRef<'_>, i64)> = ready
            .iter()
            .map(|(schedule, tick, _)| {
                let trigger = TriggerRef {
                    namespace: schedule.namespace(),
                    flow_id: schedule.flow_id(),
                    trigger_id: schedule.trigger_id(),
                };
                (trigger, *tick)
            })
            .collect();
        let claims = schedules::claim(tx, &ticks).await?;
        let mut batch = Vec::new();
        for ((schedule, tick, flow), claim) in ready.iter().zip(claims) {
            if claim != Claim::Due || flow.disabled {
                // A disabled flow lets its ticks pass without running.
                continue;
            }
            let start = match flow.start(schedule.trigger_id()) {
                Ok(start) => start,
                Err(problems) => {
                    // Retrying would not help: the tick passes, loudly.
                    tracing::warn!(%tenant, flow = %schedule.flow_id(), trigger = %schedule.trigger_id(),
                        %problems, "Schedule tick skipped: the flow cannot start from this trigger");
                    continue;
                }
            };
            let date = schedule
                .zone
                .timestamp_opt(*tick, 0)
                .single()
                .map(|d| d.to_rfc3339())
                .unwrap_or_default();
            tracing::debug!(%tenant, flow = %schedule.flow_id(), trigger = %schedule.trigger_id(),
                %date, "schedule fired");
            batch.push(NewExecution {
                id: ExecutionId::generate(),
                namespace: flow.namespace.clone(),
                flow_id: flow.id.clone(),
                flow_revision: flow.revision,
                flow_source: flow.source.clone(),
                inputs: start.inputs.clone(),
                labels: start.labels.clone(),
                concurrency: flow.concurrency,
                started_by: StartedBy::Schedule(json!({
                    "type": trigger_types::SCHEDULE,
                    "id": schedule.trigger_id(),
                    "date": date,
                })),
            });
        }
        let accepted = batch.len();
        self.engine.accept_many(tx, batch).await?;
        Ok(accepted)
    }

    /// The flow of `schedule`, parsed, with its inputs' defaults. Read
    /// from flow-svc once per revision: a saved flow has a new revision,
    /// which the schedule carries once its triggers are read again (within
    /// a second of the change, or `trigger-refresh-seconds` while changes
    /// are not heard); until then its ticks start the revision it knew.
    async fn prepared(&self, schedule: &Schedule) -> Result<Arc<Prepared>, tonic::Status> {
        let key = (
            schedule.tenant().clone(),
            schedule.namespace().to_owned(),
            schedule.flow_id().to_owned(),
            schedule.flow_revision,
        );
        if let Some(known) = self.flows.get(&key).await {
            return Ok(known);
        }
        let request = aerie_proto::flow::internal::v1::GetFlowForExecutionRequest {
            namespace: schedule.namespace().to_owned(),
            id: schedule.flow_id().to_owned(),
            revision: 0,
        };
        let flow = self
            .engine
            .flows
            .clone()
            .get_flow_for_execution(self.engine.internal(schedule.tenant(), request))
            .await?
            .into_inner();
        let plan = Plan::parse(&flow.source);
        let concurrency = plan.as_ref().ok().and_then(|plan| plan.concurrency);
        let starts = plan.map_err(|err| err.to_string()).map(|plan| {
            plan.schedules
                .iter()
                .map(|(trigger, extras)| {
                    let start = self
                        .engine
                        .resolve_inputs(
                            schedule.tenant(),
                            (&flow.namespace, &flow.id, flow.revision),
                            &plan.inputs,
                            &extras.inputs,
                            &Default::default(),
                        )
                        .map(|inputs| {
                            let mut labels = plan.labels.clone();
                            labels.extend(extras.labels.clone());
                            Start { inputs, labels }
                        })
                        .map_err(|problems| {
                            format!(
                                "the flow's inputs need values this schedule does not give: {}",
                                problems.join("; ")
                            )
                        });
                    (trigger.clone(), start)
                })
                .collect()
        });
        let prepared = Arc::new(Prepared {
            namespace: flow.namespace,
            id: flow.id,
            revision: flow.revision,
            source: flow.source,
            disabled: flow.disabled,
            concurrency,
            starts,
        });
        let key = (key.0, key.1, key.2, prepared.revision);
        self.flows.insert(key, prepared.clone()).await;
        Ok(prepared)
    }
}

/// A flow ready to be started by its schedules.
struct Prepared {
    namespace: String,
    id: String,
    revision: i32,
    source: String,
    disabled: bool,
    concurrency: Option<Concurrency>,
    /// What each Schedule trigger's executions start with, by trigger id,
    /// or why the flow cannot start at all.
    starts: Result<BTreeMap<String, Result<Start, String>>, String>,
}

/// The inputs (the trigger's own over the defaults) and labels (the
/// flow's, then the trigger's) of a scheduled execution.
struct Start {
    inputs: Map<String, serde_json::Value>,
    labels: BTreeMap<String, String>,
}

impl Prepared {
    fn start(&self, trigger: &str) -> Result<&Start, String> {
        match &self.starts {
            Err(problem) => Err(problem.clone()),
            Ok(starts) => match starts.get(trigger) {
                Some(Ok(start)) => Ok(start),
                Some(Err(problem)) => Err(problem.clone()),
                None => Err("the trigger is not in the flow's current revision".into()),
            },
        }
    }
}

/// Tenants whose triggers changed since they were last read.
#[derive(Default)]
struct Changed {
    everything: bool,
    tenants: HashSet<TenantId>,
}

/// How often announced changes are read.
const CHANGES_EVERY: Duration = Duration::from_secs(1);

/// Reads the Schedule triggers and hands each new complete list to the
/// firing loop, until `shutdown`: every tenant's at start, then the
/// tenants announced as changed each second, and every tenant's again
/// every `every` while announcements are not heard (every
/// [`WATCHED_TTL`] while they are, as a safety net).
async fn read_triggers(
    engine: Engine,
    tenants: LiveTenants,
    every: Duration,
    found: tokio::sync::mpsc::Sender<Found>,
    shutdown: CancellationToken,
) {
    let changed = Arc::new(std::sync::Mutex::new(Changed::default()));
    let watch = ChangeWatch::on(vec![flow_changes(&engine), tenants.changes()]);
    {
        let changed = changed.clone();
        watch.on_change(move |change| {
            let mut changed = changed.lock().expect("changed");
            match change {
                Change::Everything => changed.everything = true,
                Change::Tenant(tenant) => {
                    changed.tenants.insert(tenant.clone());
                }
                Change::Principal(..) => {}
            }
        });
    }
    // The streams start with "everything changed": let that arrive before
    // the first read instead of reading everything twice.
    let heard_by = Instant::now() + Duration::from_secs(2);
    while !watch.hearing() && Instant::now() < heard_by {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut by_tenant: HashMap<TenantId, Vec<Schedule>> = HashMap::new();
    let mut crons = Crons::new();
    let mut last_full: Option<Instant> = None;
    loop {
        let pending = std::mem::take(&mut *changed.lock().expect("changed"));
        let full_every = if watch.hearing() { WATCHED_TTL } else { every };
        let full = pending.everything || last_full.is_none_or(|at| at.elapsed() >= full_every);
        let started = Instant::now();
        let read = if full {
            read_tenants(&engine, &tenants, None).await
        } else if pending.tenants.is_empty() {
            Ok(Vec::new())
        } else {
            read_tenants(&engine, &tenants, Some(&pending.tenants)).await
        };
        match read {
            Ok(lists) => {
                if full {
                    by_tenant.clear();
                    last_full = Some(started);
                } else {
                    // Announced but no longer live: its triggers go.
                    for tenant in &pending.tenants {
                        by_tenant.remove(tenant);
                    }
                }
                let read_count = lists.len();
                for (tenant, triggers) in lists {
                    let schedules = schedules_of(&tenant, triggers, &mut crons);
                    by_tenant.insert(tenant, schedules);
                }
                if full || !pending.tenants.is_empty() {
                    let schedules: Vec<Schedule> = by_tenant.values().flatten().cloned().collect();
                    tracing::debug!(
                        tenants = read_count,
                        triggers = schedules.len(),
                        took_ms = started.elapsed().as_millis() as u64,
                        "Schedule triggers read"
                    );
                    let list = Found {
                        schedules,
                        since: started,
                    };
                    if found.send(list).await.is_err() {
                        return;
                    }
                }
            }
            Err(status) => {
                // Read again next time.
                let mut changed = changed.lock().expect("changed");
                changed.everything |= pending.everything || full;
                changed.tenants.extend(pending.tenants);
                tracing::warn!(%status, "cannot read Schedule triggers");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(CHANGES_EVERY) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// The stream of tenants whose triggers changed, from flow-svc.
fn flow_changes(engine: &Engine) -> Connect {
    let engine = engine.clone();
    Box::new(move || {
        let mut client = engine.flows.clone();
        let request = engine.internal(
            &TenantId::default_tenant(),
            aerie_proto::flow::internal::v1::WatchFlowChangesRequest {},
        );
        Box::pin(async move { Ok(client.watch_flow_changes(request).await?.into_inner()) })
    })
}

/// Tenants whose triggers are read at once.
const READING_AT_ONCE: usize = 16;

/// The Schedule triggers of every live tenant, or of the live ones of
/// `only`.
async fn read_tenants(
    engine: &Engine,
    tenants: &LiveTenants,
    only: Option<&HashSet<TenantId>>,
) -> Result<Vec<(TenantId, Vec<flow_pb::Trigger>)>, tonic::Status> {
    let mut live = tenants.list().await?;
    if let Some(only) = only {
        live.retain(|tenant| only.contains(tenant));
    }
    futures::stream::iter(live)
        .map(|tenant| async move {
            let request = engine.internal(
                &tenant,
                aerie_proto::flow::internal::v1::ListScheduleTriggersRequest {},
            );
            let triggers = engine
                .flows
                .clone()
                .list_schedule_triggers(request)
                .await?
                .into_inner()
                .triggers;
            Ok::<_, tonic::Status>((tenant, triggers))
        })
        .buffered(READING_AT_ONCE)
        .try_collect()
        .await
}

/// One tenant's usable schedules; most triggers share a few cron
/// expressions, so each is parsed once (`crons`).
fn schedules_of(
    tenant: &TenantId,
    triggers: Vec<flow_pb::Trigger>,
    crons: &mut Crons,
) -> Vec<Schedule> {
    let mut found = Vec::with_capacity(triggers.len());
    for trigger in triggers {
        match timing_of(&trigger, crons) {
            Some(timing) => found.push(schedule_of(tenant, trigger, timing)),
            None => tracing::warn!(tenant = %tenant, flow = %trigger.flow_id,
                trigger = %trigger.trigger_id, "Schedule trigger with an unusable cron or time zone"),
        }
    }
    found
}

impl Schedule {
    /// Whether `other` fires at the same ticks.
    fn same_timing(&self, other: &Schedule) -> bool {
        self.cron_text == other.cron_text && self.zone == other.zone
    }

    fn tenant(&self) -> &TenantId {
        &self.key.0
    }

    fn namespace(&self) -> &str {
        &self.key.1
    }

    fn flow_id(&self) -> &str {
        &self.key.2
    }

    fn trigger_id(&self) -> &str {
        &self.key.3
    }
}

/// A complete list of schedules, read from `since`.
struct Found {
    schedules: Vec<Schedule>,
    since: Instant,
}

/// Cron expressions parsed so far, by their text (None: unusable).
type Crons = HashMap<String, Option<(Arc<str>, Arc<croner::Cron>)>>;

/// The schedule of `trigger`, with its timing.
fn schedule_of(tenant: &TenantId, trigger: flow_pb::Trigger, timing: Timing) -> Schedule {
    let (cron_text, cron, zone) = timing;
    Schedule {
        key: Arc::new((
            tenant.clone(),
            trigger.namespace,
            trigger.flow_id,
            trigger.trigger_id,
        )),
        flow_revision: trigger.flow_revision,
        cron_text,
        cron,
        zone,
    }
}

/// A cron's text, the cron, and the time zone it ticks in.
type Timing = (Arc<str>, Arc<croner::Cron>, chrono_tz::Tz);

/// The timing of a Schedule trigger (its cron shared with every trigger
/// of the same text), or None when its type, cron or time zone is not
/// usable.
fn timing_of(trigger: &flow_pb::Trigger, crons: &mut Crons) -> Option<Timing> {
    if trigger.r#type != trigger_types::SCHEDULE {
        return None;
    }
    let zone = if trigger.timezone.is_empty() {
        chrono_tz::UTC
    } else {
        chrono_tz::Tz::from_str(&trigger.timezone).ok()?
    };
    let text = trigger.cron.trim();
    let parsed = match crons.get(text) {
        Some(parsed) => parsed.clone(),
        None => {
            let parsed = croner::Cron::from_str(text)
                .ok()
                .map(|cron| (Arc::from(text), Arc::new(cron)));
            crons.insert(text.to_owned(), parsed.clone());
            parsed
        }
    };
    let (text, cron) = parsed?;
    Some((text, cron, zone))
}

/// How long from `now` until just after the next whole second: passes
/// start on the clock's seconds, when ticks fall due, not at whatever
/// fraction of a second the process started (up to a second late).
fn until_next_second(now: DateTime<Utc>) -> Duration {
    /// Past the second, so that its ticks are due.
    const MARGIN: Duration = Duration::from_millis(2);
    let into_second = Duration::from_nanos(u64::from(now.timestamp_subsec_nanos() % 1_000_000_000));
    Duration::from_secs(1).saturating_sub(into_second) + MARGIN
}

/// The latest tick at or before `now`, in epoch seconds.
fn latest_tick(cron: &croner::Cron, zone: chrono_tz::Tz, now: DateTime<Utc>) -> Option<i64> {
    cron.find_previous_occurrence(&now.with_timezone(&zone), true)
        .ok()
        .map(|tick| tick.timestamp())
}

/// How late a tick may be and still fire: a busy second delays ticks
/// rather than losing them. A longer gap (the scheduler was down) fires
/// only its latest tick.
const LATE_TICKS_WINDOW_SECS: i64 = 60;

/// The ticks of `schedule` to fire at `now`, oldest first: from the one it
/// was queued for (at most [`LATE_TICKS_WINDOW_SECS`] back) up to now, and
/// at least the latest.
fn due_ticks(schedule: &Schedule, queued: i64, now: DateTime<Utc>) -> Vec<i64> {
    let Some(latest) = latest_tick(&schedule.cron, schedule.zone, now) else {
        return Vec::new();
    };
    let from = queued.max(now.timestamp() - LATE_TICKS_WINDOW_SECS);
    let mut ticks = Vec::new();
    let mut at = chrono::DateTime::from_timestamp(from - 1, 0);
    while let Some(after) = at {
        match next_tick(&schedule.cron, schedule.zone, after) {
            Some(tick) if tick < latest => {
                ticks.push(tick);
                at = chrono::DateTime::from_timestamp(tick, 0);
            }
            _ => break,
        }
    }
    ticks.push(latest);
    ticks
}

/// The first tick after `now`, in epoch seconds.
fn next_tick(cron: &croner::Cron, zone: chrono_tz::Tz, now: DateTime<Utc>) -> Option<i64> {
    cron.find_next_occurrence(&now.with_timezone(&zone), false)
        .ok()
        .map(|tick| tick.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_second() -> Schedule {
        let trigger = flow_pb::Trigger {
            r#type: trigger_types::SCHEDULE.to_owned(),
            cron: "* * * * * *".to_owned(),
            ..Default::default()
        };
        let timing = timing_of(&trigger, &mut HashMap::new()).expect("usable");
        schedule_of(&TenantId::default_tenant(), trigger, timing)
    }

    #[test]
    fn late_ticks_fire_within_the_window_and_a_long_gap_fires_its_latest() {
        let schedule = every_second();
        let now = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 10).unwrap();
        let t = now.timestamp();
        assert_eq!(due_ticks(&schedule, t, now), vec![t], "on time");
        assert_eq!(
            due_ticks(&schedule, t - 3, now),
            vec![t - 3, t - 2, t - 1, t],
            "three seconds late: every tick"
        );
        let after_downtime = due_ticks(&schedule, t - 3600, now);
        assert_eq!(after_downtime.len(), 61, "the last minute only");
        assert_eq!(after_downtime.first(), Some(&(t - 60)));
        assert_eq!(after_downtime.last(), Some(&t));
    }

    #[test]
    fn triggers_of_one_cron_share_it_and_unusable_ones_are_left_out() {
        let trigger = |cron: &str, zone: &str| flow_pb::Trigger {
            r#type: trigger_types::SCHEDULE.to_owned(),
            cron: cron.to_owned(),
            timezone: zone.to_owned(),
            ..Default::default()
        };
        let mut crons = HashMap::new();
        let a = timing_of(&trigger("*/5 * * * *", ""), &mut crons).expect("usable");
        let b = timing_of(&trigger(" */5 * * * * ", "Europe/Paris"), &mut crons).expect("usable");
        assert!(Arc::ptr_eq(&a.1, &b.1), "one parse per cron text");
        assert_eq!((a.2, b.2), (chrono_tz::UTC, chrono_tz::Europe::Paris));
        assert!(timing_of(&trigger("not a cron", ""), &mut crons).is_none());
        assert!(timing_of(&trigger("* * * * *", "Mars/Olympus"), &mut crons).is_none());
        let webhook = flow_pb::Trigger {
            r#type: trigger_types::WEBHOOK.to_owned(),
            ..trigger("* * * * *", "")
        };
        assert!(timing_of(&webhook, &mut crons).is_none());
        let found = schedules_of(
            &TenantId::default_tenant(),
            vec![trigger("* * * * *", ""), trigger("bad", ""), webhook],
            &mut crons,
        );
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn passes_start_just_after_the_clock_second() {
        let at = |millis: i64| {
            Utc.timestamp_millis_opt(1_780_000_000_000 + millis)
                .unwrap()
        };
        assert_eq!(until_next_second(at(0)), Duration::from_millis(1002));
        assert_eq!(until_next_second(at(250)), Duration::from_millis(752));
        assert_eq!(until_next_second(at(999)), Duration::from_millis(3));
    }

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
