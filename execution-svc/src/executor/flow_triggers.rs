//! Kestra's Flow trigger: when an execution ends, the flows whose Flow
//! trigger fires on that end are started, in the same write that ends it
//! (so an end never starts them twice, and a crash before it starts none
//! until the end is written again). So too when a worker moves it to
//! RUNNING or PAUSED, for the triggers whose `states` name those.
//!
//! A flow's own executions never trigger it. A trigger sees the end of an
//! execution of its own namespace or a parent (or of a namespace whose
//! settings allow its namespace), as a flow reads KV: flow-svc checks it
//! when it hands over the flow to start.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aerie_common::TenantId;
use aerie_common::kestra::flow_trigger::{Ended as Observed, FlowTrigger, Marks, Verdict};
use aerie_common::kestra::trigger_types;
use aerie_proto::flow::v1 as flow_pb;
use serde_json::{Map, Value, json};

use super::{Engine, NewExecution, StartedBy};
use crate::domain::template::{NoLookups, Renderer, needs_lookups};
use crate::domain::{ExecutionId, State};
use crate::repo::trigger_windows::{self, TriggerKey};
use crate::repo::{self, TenantTxn};

/// How long a tenant's Flow triggers are remembered: a trigger saved or
/// removed applies to executions ending this much later at most.
pub(crate) const FLOW_TRIGGERS_TTL: Duration = Duration::from_secs(5);

/// A Flow trigger of a tenant as flow-svc lists it, and read (None: its
/// definition no longer reads, as after a rule tightened; it never fires).
pub(crate) struct KnownTrigger {
    pub trigger: flow_pb::Trigger,
    pub parsed: Option<Arc<FlowTrigger>>,
}

/// Instructions an EXPRESSION filter may take to render: it is rendered
/// for every end in its tenant, so a hundredth of a task's budget.
const EXPRESSION_FUEL: u64 = 10_000;

/// `trigger`'s verdict on `ended`, its EXPRESSION filters rendered on a
/// blocking thread with no lookups (secrets, KV, files) and a small budget:
/// `labels`, `execution` (id, namespace, flowId, state) and the trigger's
/// `flow`.
async fn evaluate_rendering(
    trigger: &flow_pb::Trigger,
    parsed: Arc<FlowTrigger>,
    ended: &Ended<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> Verdict {
    static RENDERER: std::sync::OnceLock<Renderer> = std::sync::OnceLock::new();
    let scope = json!({
        "labels": ended.labels,
        "execution": {
            "id": ended.id.as_str(),
            "namespace": ended.namespace,
            "flowId": ended.flow_id,
            "state": ended.state.as_str(),
        },
        "flow": {"namespace": trigger.namespace, "id": trigger.flow_id},
    });
    let (namespace, flow_id, state, labels) = (
        ended.namespace.to_owned(),
        ended.flow_id.to_owned(),
        ended.state.as_str(),
        ended.labels.clone(),
    );
    let flow = trigger.flow_id.clone();
    let evaluated = tokio::task::spawn_blocking(move || {
        let renderer = RENDERER.get_or_init(|| {
            Renderer::with_fuel(
                Arc::new(NoLookups("a Flow trigger's EXPRESSION filter")),
                EXPRESSION_FUEL,
            )
        });
        let scope = minijinja::Value::from(minijinja::value::Serde(scope));
        let render = |template: &str| match renderer.render(template, &scope) {
            Ok(text) => Some(text),
            Err(problem) => {
                tracing::debug!(%flow, %problem, "a Flow trigger's EXPRESSION filter did not render");
                None
            }
        };
        parsed.evaluate(
            &Observed {
                namespace: &namespace,
                flow_id: &flow_id,
                state,
                labels: &labels,
                render: &render,
            },
            now,
        )
    })
    .await;
    evaluated.unwrap_or(Verdict::No)
}

/// An execution that just ended, or moved to RUNNING or PAUSED (the
/// states a Flow trigger may fire on besides the end states).
pub(crate) struct Ended<'a> {
    pub id: &'a ExecutionId,
    pub namespace: &'a str,
    pub flow_id: &'a str,
    pub flow_revision: i32,
    pub state: State,
    /// Its flow outputs (`trigger.outputs` in the triggers' inputs).
    pub outputs: &'a Value,
    pub labels: &'a BTreeMap<String, String>,
    /// Its tasks' outputs (`outputs.<task>` in the triggers' inputs, as
    /// Kestra renders them), read only if a trigger's inputs use them.
    pub task_outputs: Option<minijinja::Value>,
    /// Executions started by Flow triggers one after another that led to
    /// it (0: it was not started by one), and how many executions its
    /// triggers may still start, directly or through theirs.
    pub chain: Chain,
}

/// Executions that Flow triggers may start one after another: two flows
/// that trigger each other stop here instead of running for ever.
pub(crate) const MAX_FLOW_TRIGGER_CHAIN: u64 = 10;

/// Executions that Flow triggers may start from one execution not started
/// by one, through every branch: flows that each trigger several others
/// would otherwise multiply, up to the chain limit, into millions.
pub(crate) const MAX_FLOW_TRIGGER_TREE: u64 = 100;

/// Where an execution stands in a tree of Flow-trigger starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chain {
    /// Starts in a row that led to it.
    pub depth: u64,
    /// Executions its own triggers may start, all branches together.
    pub budget: u64,
}

/// An execution's place in its Flow-trigger tree, from its stored
/// `trigger` (Aerie keeps it there as `chain` and `budget`).
pub(crate) fn chain_of(trigger: &Value) -> Chain {
    Chain {
        depth: trigger.get("chain").and_then(Value::as_u64).unwrap_or(0),
        budget: trigger
            .get("budget")
            .and_then(Value::as_u64)
            .unwrap_or(MAX_FLOW_TRIGGER_TREE),
    }
}

/// What an end starts: the executions to accept with it, and a line for
/// each trigger that fired but could not start its flow.
#[derive(Default)]
pub(crate) struct Triggered {
    pub executions: Vec<NewExecution>,
    /// Triggers whose sets of conditions the end met a part of: it starts
    /// their executions only if, once recorded, every set is complete.
    pub windowed: Vec<Windowed>,
    pub problems: Vec<String>,
    /// How much of the tree's budget the executions started take.
    pub spent: u64,
}

/// A trigger the end met a part of a set of conditions of.
pub(crate) struct Windowed {
    pub trigger: TriggerKey,
    pub marks: Vec<Marks>,
    /// What it starts if the sets are complete; None when its flow cannot
    /// start (the line says why), and then its windows stay as met.
    pub execution: Option<NewExecution>,
}

impl Triggered {
    /// `later`'s starts after these (a RUNNING written with the end).
    pub(crate) fn append(&mut self, mut later: Triggered) {
        self.executions.append(&mut later.executions);
        self.windowed.append(&mut later.windowed);
        self.problems.append(&mut later.problems);
        self.spent += later.spent;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.executions.is_empty() && self.windowed.is_empty()
    }
}

impl Engine {
    /// The executions the end of `ended` starts through Flow triggers.
    pub(crate) async fn triggered_by(&self, tenant: &TenantId, ended: &Ended<'_>) -> Triggered {
        let mut triggered = Triggered::default();
        if !ended.state.is_terminal() && !matches!(ended.state, State::Running | State::Paused) {
            return triggered;
        }
        let triggers = match self.flow_triggers(tenant).await {
            Ok(triggers) => triggers,
            Err(status) => {
                triggered.problems.push(format!(
                    "Flow triggers could not be read, none fired: {}",
                    status.message()
                ));
                return triggered;
            }
        };
        let now = chrono::Utc::now();
        let no_render = |_: &str| None;
        let candidates = {
            let observed = Observed {
                namespace: ended.namespace,
                flow_id: ended.flow_id,
                state: ended.state.as_str(),
                labels: ended.labels,
                render: &no_render,
            };
            // What fires, but for the triggers whose EXPRESSION filters must
            // be rendered: those are rendered only once their flow is known to
            // see this execution (below), so that a trigger renders nothing for
            // an execution it may not see.
            let mut candidates: Vec<(&flow_pb::Trigger, Arc<FlowTrigger>, Option<Verdict>)> =
                Vec::new();
            for known in triggers.iter().filter(|k| {
                !(k.trigger.namespace == ended.namespace && k.trigger.flow_id == ended.flow_id)
            }) {
                let Some(parsed) = known.parsed.clone() else {
                    continue;
                };
                if !parsed.states.iter().any(|s| s == ended.state.as_str()) {
                    continue;
                }
                if parsed.renders_expressions() {
                    candidates.push((&known.trigger, parsed, None));
                } else {
                    match parsed.evaluate(&observed, now) {
                        Verdict::No => {}
                        verdict => candidates.push((&known.trigger, parsed, Some(verdict))),
                    }
                }
            }
            candidates
        };
        // Only the triggers whose flow may see this execution count: one
        // that may not neither fires, nor takes a part of the budget, nor
        // is named in this execution's log.
        let mut visible = Vec::new();
        for (trigger, parsed, verdict) in candidates {
            match self.flow_seeing(tenant, trigger, ended).await {
                Ok(Some(flow)) => {
                    let verdict = match verdict {
                        Some(verdict) => verdict,
                        None => evaluate_rendering(trigger, parsed.clone(), ended, now).await,
                    };
                    if verdict != Verdict::No {
                        visible.push((trigger, parsed, verdict, flow));
                    }
                }
                Ok(None) => {}
                Err(problem) => {
                    let name = format!(
                        "Flow trigger {}/{}.{}",
                        trigger.namespace, trigger.flow_id, trigger.trigger_id
                    );
                    triggered
                        .problems
                        .push(format!("{name} did not start: {problem}"));
                }
            }
        }
        // A trigger whose sets this end completes (as far as can be told
        // before the write) starts an execution, and is held to the quotas;
        // one whose sets stay incomplete only records what was met.
        let mut completes = Vec::with_capacity(visible.len());
        for (trigger, _, verdict, _) in &visible {
            completes.push(match verdict {
                Verdict::Meets(marks) => self.completes(tenant, trigger, marks).await,
                _ => true,
            });
        }
        // The executions this move may start share what is left of its
        // tree's budget, each taking its part for its own branch. A move to
        // RUNNING or PAUSED keeps a part back for the execution's later
        // moves and its end.
        let starting = completes.iter().filter(|c| **c).count() as u64;
        let parts = starting + u64::from(!ended.state.is_terminal());
        let share = ended.chain.budget / parts.max(1);
        for ((trigger, parsed, verdict, flow), completes) in visible.into_iter().zip(completes) {
            let name = format!(
                "Flow trigger {}/{}.{}",
                trigger.namespace, trigger.flow_id, trigger.trigger_id
            );
            let pending = (triggered.executions.len()
                + triggered
                    .windowed
                    .iter()
                    .filter(|w| w.execution.is_some())
                    .count()) as u64;
            let started = self
                .start_for(
                    tenant, trigger, &parsed, flow, ended, pending, share, completes,
                )
                .await;
            if let Err(problem) = &started {
                tracing::info!(%tenant, execution = %ended.id, trigger = %name, %problem,
                    "flow trigger fired but did not start its flow");
                if completes {
                    triggered
                        .problems
                        .push(format!("{name} did not start: {problem}"));
                }
            }
            // A foreseen start takes its part of the budget.
            if completes && started.is_ok() {
                triggered.spent += share;
            }
            match verdict {
                Verdict::Meets(marks) => triggered.windowed.push(Windowed {
                    trigger: TriggerKey::of(trigger),
                    marks,
                    execution: started.ok(),
                }),
                _ => triggered.executions.extend(started.ok()),
            }
        }
        triggered
    }

    /// Whether what `marks` met completes every set of `trigger`'s, by
    /// what is stored now (the write decides for sure).
    async fn completes(
        &self,
        tenant: &TenantId,
        trigger: &flow_pb::Trigger,
        marks: &[Marks],
    ) -> bool {
        let key = TriggerKey::of(trigger);
        let Ok(tx) = TenantTxn::read(&self.db, tenant).await else {
            return false;
        };
        let now = repo::now_millis();
        for set in marks {
            let Ok(met) = trigger_windows::met(&tx, &key, &set.window_id, now).await else {
                return false;
            };
            if !set
                .all
                .iter()
                .all(|k| met.contains(k) || set.met.contains(k))
            {
                return false;
            }
        }
        true
    }

    /// Starts what `triggered` holds in the write `tx`: its executions, and
    /// those of its windowed triggers whose sets are complete once this
    /// end's part is recorded (their windows then start again, unless they
    /// keep what was met). Whether anything started.
    pub(crate) async fn accept_triggered(
        &self,
        tx: &TenantTxn,
        triggered: Triggered,
    ) -> Result<bool, sea_orm::DbErr> {
        let mut executions = triggered.executions;
        if !triggered.windowed.is_empty() {
            let now = repo::now_millis();
            trigger_windows::purge_ended(tx, now).await?;
            for windowed in triggered.windowed {
                let mut complete = true;
                for marks in &windowed.marks {
                    let met = trigger_windows::record(tx, &windowed.trigger, marks, now).await?;
                    complete &= marks.all.iter().all(|k| met.contains(k));
                }
                let Some(execution) = windowed.execution.filter(|_| complete) else {
                    continue;
                };
                for marks in windowed.marks.iter().filter(|m| m.reset_on_success) {
                    trigger_windows::reset(tx, &windowed.trigger, &marks.window_id).await?;
                }
                executions.push(execution);
            }
        }
        let starts = !executions.is_empty();
        if starts {
            self.accept_many(tx, executions).await?;
        }
        Ok(starts)
    }

    /// The flow of `trigger`, when it may see `ended`'s namespace and is
    /// enabled; None when it may not (or is gone or disabled since the
    /// triggers were read).
    async fn flow_seeing(
        &self,
        tenant: &TenantId,
        trigger: &flow_pb::Trigger,
        ended: &Ended<'_>,
    ) -> Result<Option<flow_pb::Flow>, String> {
        let request = aerie_proto::flow::internal::v1::GetFlowForTriggerRequest {
            namespace: trigger.namespace.clone(),
            id: trigger.flow_id.clone(),
            observed_namespace: ended.namespace.to_owned(),
        };
        match self
            .flows
            .clone()
            .get_flow_for_trigger(self.internal(tenant, request))
            .await
        {
            Ok(flow) => Ok(Some(flow.into_inner()).filter(|f| !f.disabled)),
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::PermissionDenied | tonic::Code::NotFound
                ) =>
            {
                tracing::debug!(%tenant, flow = %trigger.flow_id, reason = %status.message(),
                    "flow trigger does not see this execution");
                Ok(None)
            }
            Err(status) => Err(status.message().to_owned()),
        }
    }

    /// The execution `trigger` starts in `flow`, which may see `ended`.
    #[allow(clippy::too_many_arguments)]
    async fn start_for(
        &self,
        tenant: &TenantId,
        trigger: &flow_pb::Trigger,
        parsed: &FlowTrigger,
        flow: flow_pb::Flow,
        ended: &Ended<'_>,
        pending: u64,
        share: u64,
        admit: bool,
    ) -> Result<NewExecution, String> {
        if ended.chain.depth >= MAX_FLOW_TRIGGER_CHAIN {
            return Err(format!(
                "it would be the {}th execution in a row started by Flow triggers; at most {MAX_FLOW_TRIGGER_CHAIN} are (do flows trigger each other?)",
                ended.chain.depth + 1
            ));
        }
        if share == 0 {
            return Err(format!(
                "the Flow triggers of this execution's tree have used up what it may start ({MAX_FLOW_TRIGGER_TREE} executions from one execution not started by a trigger, shared between branches and moves; do flows trigger each other?)"
            ));
        }
        let key = (
            tenant.storage_key().to_owned(),
            flow.namespace.clone(),
            flow.id.clone(),
            flow.revision,
        );
        let plan = self
            .plan(key, &flow.source)
            .map_err(|err| format!("the flow cannot run: {err}"))?;
        let variables = json!({
            "executionId": ended.id.as_str(),
            "namespace": ended.namespace,
            "flowId": ended.flow_id,
            "flowRevision": ended.flow_revision,
            "state": ended.state.as_str(),
        });
        let given = self
            .render_trigger_inputs(tenant, &flow.namespace, &parsed.inputs, &variables, ended)
            .await?;
        // The line goes into the ended execution's log, which readers of
        // another namespace may see: it names no value the trigger rendered.
        let inputs = self
            .resolve_inputs(
                tenant,
                (&flow.namespace, &flow.id, flow.revision),
                &plan.inputs,
                &given,
                &BTreeMap::new(),
            )
            .map_err(|problems| {
                tracing::info!(%tenant, flow = %flow.id, problems = %problems.join("; "),
                    "flow trigger inputs refused");
                "its inputs do not fit the inputs its flow declares".to_owned()
            })?;
        // A start that was not foreseen (another end completed the set
        // meanwhile) is not refused by the quotas at the write.
        if admit {
            self.admission
                .admit_beside(tenant, pending)
                .await
                .map_err(|err| err.to_string())?;
        }
        Ok(NewExecution {
            id: ExecutionId::generate(),
            namespace: flow.namespace,
            flow_id: flow.id,
            flow_revision: flow.revision,
            flow_source: flow.source,
            inputs,
            labels: plan.labels.clone(),
            started_by: StartedBy::Flow(json!({
                "id": trigger.trigger_id,
                "type": trigger_types::FLOW,
                "variables": variables,
                "chain": ended.chain.depth + 1,
                // This execution and what its own triggers may start.
                "budget": share - 1,
            })),
            concurrency: plan.concurrency,
        })
    }

    /// A trigger's `inputs` rendered with `trigger.*`, the ended
    /// execution's outputs as `trigger.outputs`, as Kestra renders them.
    async fn render_trigger_inputs(
        &self,
        tenant: &TenantId,
        namespace: &str,
        inputs: &Map<String, Value>,
        variables: &Value,
        ended: &Ended<'_>,
    ) -> Result<Map<String, Value>, String> {
        if inputs.is_empty() {
            return Ok(Map::new());
        }
        let mut trigger = variables.clone();
        trigger["outputs"] = ended.outputs.clone();
        let scope = minijinja::context! {
            trigger => minijinja::Value::from(minijinja::value::Serde(trigger)),
            outputs => ended.task_outputs.clone().unwrap_or_else(|| minijinja::Value::from(())),
        };
        let renderer = super::tenant_renderer(self, tenant, namespace);
        let inputs = Value::Object(inputs.clone());
        let rendered = if needs_lookups(&inputs.to_string()) {
            // secret() and kv() block on a gRPC call: off the async threads.
            tokio::task::spawn_blocking(move || renderer.render_value(&inputs, &scope))
                .await
                .map_err(|e| format!("inputs: {e}"))?
        } else {
            renderer.render_value(&inputs, &scope)
        };
        match rendered.map_err(|e| format!("inputs: {e}"))? {
            Value::Object(map) => Ok(map),
            _ => Ok(Map::new()),
        }
    }

    /// The enabled Flow triggers of `tenant`, read from flow-svc at most
    /// every [`FLOW_TRIGGERS_TTL`], each parsed once per definition (its
    /// regular expressions compiled once, off the async threads).
    async fn flow_triggers(
        &self,
        tenant: &TenantId,
    ) -> Result<Arc<Vec<KnownTrigger>>, tonic::Status> {
        if let Some(known) = self.flow_triggers.get(tenant).await {
            return Ok(known);
        }
        let request = self.internal(
            tenant,
            aerie_proto::flow::internal::v1::ListFlowTriggersRequest {},
        );
        let listed = self
            .flows
            .clone()
            .list_flow_triggers(request)
            .await?
            .into_inner()
            .triggers;
        // Definitions read before are not parsed again; the others are
        // parsed (regular expressions compiled) off the async threads.
        let key = tenant.storage_key();
        let mut known = Vec::with_capacity(listed.len());
        let mut unread = Vec::new();
        for trigger in listed {
            let definition = aerie_proto::wire::from_struct(trigger.definition.clone());
            let text = format!("{key}\n{definition}");
            match self.parsed_flow_triggers.get(&text).await {
                Some(parsed) => known.push(KnownTrigger {
                    trigger,
                    parsed: Some(parsed),
                }),
                None => unread.push((trigger, definition, text)),
            }
        }
        let read = tokio::task::spawn_blocking(move || {
            unread
                .into_iter()
                .map(|(trigger, definition, text)| {
                    let parsed = FlowTrigger::parse(&definition).ok().map(Arc::new);
                    (trigger, parsed, text)
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| tonic::Status::internal(format!("reading Flow triggers stopped: {e}")))?;
        for (trigger, parsed, text) in read {
            if let Some(parsed) = &parsed {
                self.parsed_flow_triggers.insert(text, parsed.clone()).await;
            }
            known.push(KnownTrigger { trigger, parsed });
        }
        let triggers = known;
        let triggers = Arc::new(triggers);
        self.flow_triggers
            .insert(tenant.clone(), triggers.clone())
            .await;
        Ok(triggers)
    }
}
