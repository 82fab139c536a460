//! The executor: workers that claim queued executions, run their tasks and
//! record every step, so that an execution once accepted always ends.
//!
//! One worker holds one execution at a time under a lease (see
//! [`crate::repo::queue`]); its Parallel and ForEach branches run
//! concurrently inside that worker. A heartbeat renews the leases of
//! running executions every second and picks up kill requests made through
//! other replicas. Every task-run write re-checks the lease, so a worker
//! that lost an execution (paused too long, partitioned away) stops writing
//! and the replica that took over is the only one running its task runs.

mod claim_pace;
mod create;
mod flow_triggers;
pub(crate) mod replay;
mod run;
pub(crate) mod secret_inputs;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::plan::{Plan, PlanError};
use aerie_common::TenantId;
use aerie_common::config::ExecutorConfig;
use aerie_common::grpc::Channel;
use aerie_proto::flow::internal::v1::flow_internal_service_client::FlowInternalServiceClient;
use sea_orm::{DatabaseConnection, DbBackend};
use tokio::sync::{Notify, Semaphore, broadcast};
use tokio_util::sync::CancellationToken;

pub use create::{CORRELATION_ID, NewExecution, StartedBy};
pub(crate) use flow_triggers::{Ended, Triggered, chain_of};
pub(crate) use run::tenant_renderer;

use crate::domain::ExecutionId;
use crate::repo::queue;
use crate::storage::Storage;

/// Why a running execution was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum StopReason {
    None = 0,
    /// A user killed it: it ends KILLED.
    Kill = 1,
    /// This process is shutting down: the execution stays queued and is
    /// resumed, here after a restart or by another replica.
    Shutdown = 2,
    /// Another worker holds it now: write nothing more.
    LeaseLost = 3,
    /// A user paused it: its running tasks stop where they are and go on
    /// when it is resumed.
    Pause = 4,
    /// One of its flow's SLAs, violated, ends it (FAILED or CANCELLED);
    /// its running tasks end KILLED.
    Sla = 5,
}

/// The stop signal of one running execution.
pub struct Stop {
    token: CancellationToken,
    reason: AtomicU8,
}

impl Stop {
    fn new() -> Arc<Stop> {
        Arc::new(Stop {
            token: CancellationToken::new(),
            reason: AtomicU8::new(StopReason::None as u8),
        })
    }

    /// Stops the execution; the first reason given wins.
    pub fn stop(&self, reason: StopReason) {
        let _ = self.reason.compare_exchange(
            StopReason::None as u8,
            reason as u8,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
        self.token.cancel();
    }

    pub fn reason(&self) -> StopReason {
        match self.reason.load(Ordering::SeqCst) {
            1 => StopReason::Kill,
            2 => StopReason::Shutdown,
            3 => StopReason::LeaseLost,
            4 => StopReason::Pause,
            5 => StopReason::Sla,
            _ => StopReason::None,
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.token.is_cancelled()
    }

    pub async fn stopped(&self) {
        self.token.cancelled().await
    }
}

/// One execution this process runs, under the claim `epoch`.
struct Running {
    epoch: i64,
    stop: Arc<Stop>,
}

/// The executor of one process; cheap to clone.
#[derive(Clone)]
pub struct Engine(Arc<Inner>);

pub struct Inner {
    pub(crate) db: DatabaseConnection,
    pub(crate) storage: Storage,
    pub(crate) flows: FlowInternalServiceClient<Channel>,
    pub(crate) service_token: String,
    /// This process's name on the leases it holds.
    owner: String,
    lease_ms: i64,
    /// Every tenant's quotas (running executions, ForEach items, ...).
    pub(crate) quotas: Arc<crate::quota::QuotaBook>,
    /// The checks every new execution passes: the API's, a webhook's and
    /// a Subflow task's.
    pub(crate) admission: crate::quota::Admission,
    /// Each tenant's Flow triggers, read lately (see [`Engine::triggered_by`]).
    flow_triggers: moka::future::Cache<TenantId, Arc<Vec<flow_triggers::KnownTrigger>>>,
    /// Flow triggers read, by tenant and definition: read again every
    /// [`flow_triggers::FLOW_TRIGGERS_TTL`], a definition is parsed (its
    /// regular expressions compiled) once.
    parsed_flow_triggers:
        moka::future::Cache<String, Arc<aerie_common::kestra::flow_trigger::FlowTrigger>>,
    /// Cancelled when the process shuts down.
    closing: CancellationToken,
    poll: Duration,
    workers: Arc<Semaphore>,
    wake: Notify,
    /// The claims this process runs, by execution id.
    running: Mutex<HashMap<String, Running>>,
    /// Each tenant's slots for CPU-bound task work (see [`Engine::cpu_slot`]).
    cpu: Mutex<HashMap<TenantId, Arc<Semaphore>>>,
    /// Slots per tenant: half the cores, at least one.
    cpu_share: usize,
    /// Ids of executions that changed, for followers in this process.
    events: broadcast::Sender<String>,
    /// Flow sources read back from this database, by tenant, namespace,
    /// flow and revision (see [`Engine::stored_source`]).
    sources: Mutex<HashMap<SourceKey, Arc<str>>>,
    /// Flow revisions parsed, by the same key: a revision's source never
    /// changes, so neither does its plan (parsing is a large part of the
    /// CPU an execution costs).
    plans: Mutex<HashMap<SourceKey, Arc<Plan>>>,
    /// Seals SECRET inputs into execution rows and opens them for a run.
    pub(crate) secret_inputs: aerie_common::crypto::SecretBox,
}

/// A flow revision of a tenant: (tenant storage key, namespace, flow, revision).
pub(crate) type SourceKey = (String, String, String, i32);

/// Flow sources remembered per process; past this the memory starts over.
const SOURCES_KEPT: usize = 10_000;

impl std::ops::Deref for Engine {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Engine {
    pub fn new(
        db: DatabaseConnection,
        storage: Storage,
        flows: Channel,
        service_token: String,
        config: &ExecutorConfig,
        quotas: Arc<crate::quota::QuotaBook>,
        secret_inputs: aerie_common::crypto::SecretBox,
    ) -> Engine {
        let (events, _) = broadcast::channel(4096);
        let admission = crate::quota::Admission::new(db.clone(), quotas.clone());
        Engine(Arc::new(Inner {
            db,
            storage,
            flows: FlowInternalServiceClient::new(flows),
            service_token,
            admission,
            flow_triggers: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(flow_triggers::FLOW_TRIGGERS_TTL)
                .build(),
            parsed_flow_triggers: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_idle(Duration::from_secs(600))
                .build(),
            owner: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            lease_ms: (config.lease_seconds.max(1) * 1000) as i64,
            quotas,
            closing: CancellationToken::new(),
            poll: Duration::from_millis(config.poll_interval_ms.max(10)),
            workers: Arc::new(Semaphore::new(config.workers)),
            wake: Notify::new(),
            running: Mutex::new(HashMap::new()),
            cpu: Mutex::new(HashMap::new()),
            cpu_share: std::thread::available_parallelism()
                .map_or(1, |n| n.get() / 2)
                .max(1),
            events,
            sources: Mutex::new(HashMap::new()),
            plans: Mutex::new(HashMap::new()),
            secret_inputs,
        }))
    }

    /// The stored source of a flow revision, when this process has read it
    /// back from the database. A revision's source never changes and its
    /// row is never deleted, so once read it is known to be committed:
    /// creating more executions of that revision need not store it again,
    /// and running them need not read it again.
    pub(crate) fn stored_source(&self, key: &SourceKey) -> Option<Arc<str>> {
        self.sources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    /// The plan of a flow revision of a tenant, parsed once per process.
    pub(crate) fn plan(&self, key: SourceKey, source: &str) -> Result<Arc<Plan>, PlanError> {
        if let Some(plan) = self
            .plans
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(plan.clone());
        }
        let plan = Arc::new(Plan::parse(source)?);
        let mut plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        if plans.len() >= SOURCES_KEPT {
            plans.clear();
        }
        plans.insert(key, plan.clone());
        Ok(plan)
    }

    /// Remembers a source read back from the database.
    pub(crate) fn remember_source(&self, key: SourceKey, source: Arc<str>) {
        let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        if sources.len() >= SOURCES_KEPT {
            sources.clear();
        }
        sources.insert(key, source);
    }

    /// One of `tenant`'s slots for CPU-bound task work (rendering and
    /// running instant tasks). A tenant holds at most half the cores at
    /// once, however many executions it runs: a tenant looping over
    /// thousands of items cannot take the processor from its neighbours.
    pub(crate) async fn cpu_slot(&self, tenant: &TenantId) -> tokio::sync::OwnedSemaphorePermit {
        let slots = {
            let mut cpu = self.cpu.lock().unwrap_or_else(|p| p.into_inner());
            if cpu.len() > 10_000 {
                // Forget idle tenants: every slot free and nobody waiting.
                let share = self.cpu_share;
                cpu.retain(|_, s| Arc::strong_count(s) > 1 || s.available_permits() < share);
            }
            cpu.entry(tenant.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(self.cpu_share)))
                .clone()
        };
        slots
            .acquire_owned()
            .await
            .expect("CPU slots are never closed")
    }

    /// A request to another service in `tenant`, as Aerie itself.
    /// The internal service credential.
    pub(crate) fn service_token(&self) -> &str {
        &self.service_token
    }

    pub(crate) fn internal<T>(&self, tenant: &TenantId, message: T) -> tonic::Request<T> {
        aerie_common::audit::service_request(message, tenant, &self.service_token)
    }

    /// Tells idle workers in this process that work was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Changes of executions in this process, by id.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.events.subscribe()
    }

    pub(crate) fn changed(&self, id: &ExecutionId) {
        let _ = self.events.send(id.as_str().to_owned());
    }

    /// Stops the execution if this process runs it; false otherwise (the
    /// heartbeat of the replica running it sees the kill request).
    pub fn kill_local(&self, id: &ExecutionId) -> bool {
        self.stop_local(id, StopReason::Kill)
    }

    /// Stops a run of this process for `reason`; false when none runs here.
    pub fn stop_local(&self, id: &ExecutionId, reason: StopReason) -> bool {
        let stop = self.running_stop(id.as_str());
        if let Some(stop) = &stop {
            stop.stop(reason);
        }
        stop.is_some()
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn running_stop(&self, id: &str) -> Option<Arc<Stop>> {
        self.lock_running().get(id).map(|r| r.stop.clone())
    }

    fn running_ids(&self) -> Vec<String> {
        self.lock_running().keys().cloned().collect()
    }

    /// Starts the workers and the heartbeat until `shutdown`.
    pub fn spawn(&self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move { engine.work(shutdown).await })
    }

    async fn work(self, shutdown: CancellationToken) {
        if self.workers.available_permits() == 0 {
            tracing::info!("executor.workers is 0: this process runs no executions");
            return;
        }
        if self.db.get_database_backend() == DbBackend::Sqlite {
            // One process per SQLite file: leases from an earlier run of it
            // are stale, and its executions resume now rather than later.
            match queue::release_all(&self.db).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(executions = n, "resuming executions left running"),
                Err(err) => tracing::error!(%err, "cannot release stale leases"),
            }
        }
        let heartbeat = tokio::spawn(self.clone().heartbeat(shutdown.clone()));
        let mut pace = claim_pace::ClaimPace::default();
        while !shutdown.is_cancelled() {
            let free = self.workers.available_permits();
            let limit = free.min(64);
            let mut claimed = 0;
            if free > 0 {
                match queue::claim(
                    &self.db,
                    &self.owner,
                    self.lease_ms,
                    limit,
                    self.quotas.defaults().running_executions.max(1),
                )
                .await
                {
                    Ok(jobs) => {
                        claimed = jobs.len();
                        pace.claimed(claimed, Instant::now());
                        for job in jobs {
                            self.start(job).await;
                        }
                    }
                    Err(err) => tracing::warn!(%err, "cannot claim queued executions"),
                }
            }
            // Fewer than asked: nothing more was claimable a moment ago,
            // so wait for news instead of asking again at once.
            let workers_full = claimed == free;
            if claimed < limit || workers_full {
                tokio::select! {
                    _ = self.wake.notified() => {
                        // With every worker busy, let a few more finish;
                        // at a high rate, let a few more executions arrive:
                        // either way one claim then takes several.
                        // Otherwise an execution starts at once.
                        if workers_full || pace.busy(Instant::now()) {
                            tokio::time::sleep(claim_pace::GATHER_FOR).await;
                        }
                    }
                    _ = tokio::time::sleep(self.poll) => {}
                    _ = shutdown.cancelled() => {}
                }
            }
        }
        // Waits and follow streams end now, with a status saying why.
        self.closing.cancel();
        // Running executions stay queued. Stopped runs write nothing more,
        // so their leases are released at once: another replica (or the
        // next start) resumes them without waiting for the lease to expire.
        for id in self.running_ids() {
            if let Some(stop) = self.running_stop(&id) {
                stop.stop(StopReason::Shutdown);
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !self.running_ids().is_empty() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        heartbeat.abort();
        let still_running = self.running_ids();
        match queue::release(&self.db, &self.owner, &still_running).await {
            Ok(released) => tracing::info!(
                released,
                still_running = still_running.len(),
                "leases released at shutdown"
            ),
            Err(err) => tracing::warn!(%err, "cannot release leases at shutdown; they expire"),
        }
    }

    /// Cancelled when this process shuts down: waits and follow streams end.
    pub fn closing(&self) -> &CancellationToken {
        &self.closing
    }

    async fn start(&self, job: queue::Claimed) {
        let Ok(permit) = self.workers.clone().acquire_owned().await else {
            return;
        };
        let stop = Stop::new();
        let running = Running {
            epoch: job.epoch,
            stop: stop.clone(),
        };
        let superseded = self
            .lock_running()
            .insert(job.execution.as_str().to_owned(), running);
        if let Some(earlier) = superseded {
            // This process lost the lease and claimed the job again before
            // its heartbeat noticed: the earlier run stops (its writes fail
            // on the fencing token anyway).
            earlier.stop.stop(StopReason::LeaseLost);
        }
        let engine = self.clone();
        tokio::spawn(async move {
            let id = job.execution.clone();
            // A bug that panics fails this execution alone: its slot and
            // lease are given back instead of being renewed forever.
            let result = match futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(
                run::execute(&engine, &job, &stop),
            ))
            .await
            {
                Ok(result) => result,
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic".to_owned());
                    tracing::error!(execution = %id, tenant = %job.tenant, panic = %what,
                        "execution run panicked; it ends FAILED");
                    engine.fail_after_panic(&job, &what).await;
                    Ok(())
                }
            };
            {
                let mut running = engine.lock_running();
                if running
                    .get(id.as_str())
                    .is_some_and(|r| r.epoch == job.epoch)
                {
                    running.remove(id.as_str());
                }
            }
            if let Err(err) = result {
                tracing::warn!(execution = %id, tenant = %job.tenant, %err,
                    "execution interrupted; it is tried again shortly");
                engine.requeue(&job).await;
            }
            drop(permit);
            engine.wake();
        });
    }

    /// Renews the leases of running executions every second (or a third of
    /// the lease, if shorter); stops those killed elsewhere or lost.
    async fn heartbeat(self, shutdown: CancellationToken) {
        let every = Duration::from_millis((self.lease_ms as u64 / 3).clamp(50, 1000));
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = shutdown.cancelled() => return,
            }
            let running: Vec<(String, i64)> = self
                .lock_running()
                .iter()
                .map(|(id, r)| (id.clone(), r.epoch))
                .collect();
            if running.is_empty() {
                continue;
            }
            let ids: Vec<String> = running.iter().map(|(id, _)| id.clone()).collect();
            match queue::renew(&self.db, &self.owner, self.lease_ms, &ids).await {
                Ok(held) => {
                    let held: HashMap<_, _> = held
                        .into_iter()
                        .map(|h| {
                            (
                                h.execution_id,
                                (h.epoch, h.kill_requested, h.pause_requested),
                            )
                        })
                        .collect();
                    for (id, epoch) in running {
                        let reason = match held.get(&id) {
                            None => StopReason::LeaseLost,
                            Some((held, _, _)) if *held != epoch => StopReason::LeaseLost,
                            Some((_, true, _)) => StopReason::Kill,
                            Some((_, false, true)) => StopReason::Pause,
                            Some((_, false, false)) => continue,
                        };
                        if let Some(stop) = self.running_stop(&id) {
                            stop.stop(reason);
                        }
                    }
                }
                Err(err) => tracing::warn!(%err, "cannot renew execution leases"),
            }
        }
    }

    /// Gives the job of a run that failed back to the queue. During a
    /// database outage that fails too: it is tried again until it works or
    /// the lease has run out anyway, so the job resumes as soon as the
    /// database is back instead of a whole lease later.
    async fn requeue(&self, job: &queue::Claimed) {
        let within = Duration::from_millis(self.lease_ms as u64);
        let requeued = retry_within(within, FIRST_RETRY_PAUSE, || {
            queue::retry_later(&self.db, &job.execution, &self.owner, job.epoch, 2_000)
        })
        .await;
        if let Err(err) = requeued {
            tracing::warn!(execution = %job.execution, %err, "cannot requeue; its lease will expire");
        }
    }

    /// Ends an execution whose run panicked: FAILED, with a log line, its
    /// job removed, and a parent waiting for it woken.
    async fn fail_after_panic(&self, job: &queue::Claimed, what: &str) {
        use crate::domain::{State, push_history};
        use crate::repo::executions as rows;
        let failed = async {
            let tx = crate::repo::TenantTxn::write(&self.db, &job.tenant).await?;
            let Some(row) = rows::find(&tx, &job.execution).await? else {
                queue::remove(&tx, &job.execution).await?;
                return tx.commit().await;
            };
            let now = crate::repo::now();
            if !State::parse(&row.state).is_some_and(State::is_terminal) {
                let change = rows::StateChange {
                    state: State::Failed.as_str(),
                    histories: push_history(&row.histories, State::Failed, now),
                    outputs: None,
                    update_time: now,
                };
                rows::set_state(&tx, &job.execution, change).await?;
                let line = rows::NewLog {
                    task_run_id: String::new(),
                    task_id: String::new(),
                    level: "ERROR",
                    time: now,
                    message: format!("internal error while running this execution: {what}"),
                };
                rows::append_logs(&tx, &job.execution, vec![line]).await?;
            }
            queue::remove(&tx, &job.execution).await?;
            if let Some(parent) = row
                .parent_execution_id
                .as_deref()
                .and_then(|p| ExecutionId::parse(p).ok())
            {
                queue::wake(&tx, &parent).await?;
            }
            tx.commit().await
        }
        .await;
        match failed {
            Ok(()) => self.changed(&job.execution),
            Err(err) => {
                tracing::error!(execution = %job.execution, %err, "cannot fail a panicked execution; its lease expires");
            }
        }
    }

    pub(crate) fn owner(&self) -> &str {
        &self.owner
    }

    pub(crate) fn lease_ms(&self) -> i64 {
        self.lease_ms
    }
}

/// The first pause between tries of a requeue; each next one doubles.
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Tries `attempt` until it succeeds or `within` has passed, pausing
/// between tries (`first_pause`, doubling up to 2 s); the last error
/// otherwise.
async fn retry_within<F, Fut, E>(
    within: Duration,
    first_pause: Duration,
    mut attempt: F,
) -> Result<(), E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
{
    let give_up = tokio::time::Instant::now() + within;
    let mut pause = first_pause;
    loop {
        match attempt().await {
            Ok(()) => return Ok(()),
            Err(err) if tokio::time::Instant::now() + pause > give_up => return Err(err),
            Err(_) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    // Real time with 10 ms pauses rather than paused time: tokio's
    // test-util feature in a dev-dependency would build tokio, and every
    // crate above it, twice (once for binaries, once for tests).

    #[tokio::test]
    async fn a_requeue_is_tried_again_until_the_database_answers() {
        let tries = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let outcome = retry_within(Duration::from_secs(10), Duration::from_millis(10), || {
            let n = tries.fetch_add(1, Ordering::SeqCst);
            async move { if n < 3 { Err("down") } else { Ok(()) } }
        })
        .await;
        assert_eq!(outcome, Ok(()));
        assert_eq!(tries.load(Ordering::SeqCst), 4);
        // 10 + 20 + 40 ms of pauses: back as soon as the database is, far
        // sooner than the 10 s allowed.
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(70), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }

    #[tokio::test]
    async fn a_requeue_gives_up_when_the_lease_would_have_expired() {
        let tries = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let outcome = retry_within(
            Duration::from_millis(300),
            Duration::from_millis(10),
            || {
                tries.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>("down") }
            },
        )
        .await;
        assert_eq!(outcome, Err("down"));
        // It stops before a pause would take it past the limit.
        assert!(started.elapsed() <= Duration::from_millis(300));
        // 10 + 20 + 40 + 80 ms fit in 300 ms and the next 160 ms do not
        // (4 tries when a loaded machine stretches the pauses).
        assert!((4..=5).contains(&tries.load(Ordering::SeqCst)));
    }
}
