//! `ImportFlows`: several flows created or updated in one transaction, as
//! Kestra's namespace update, bulk update and import do, all or none.

use std::collections::BTreeSet;

use aerie_common::ServiceError;
use aerie_common::auth::{Action, Call, Grant, Permission};
use aerie_proto::flow::v1 as pb;
use tonic::Status;

use super::FlowApi;
use super::flows::{audit_flow_change, flow_message, parse_source_here, save_failed};
use crate::domain::validate::ParsedFlow;
use crate::domain::{FlowKey, Namespace};
use crate::repo::flows as repo;

/// Most flows one import takes.
pub const MAX_FLOWS: usize = 1000;

/// How many refused documents an error message names before "and N more".
const PROBLEMS_IN_MESSAGE: usize = 20;

/// A flow of the request, checked.
struct Incoming {
    key: FlowKey,
    parsed: ParsedFlow,
    source: String,
}

/// Parses every source; INVALID_ARGUMENT naming each one that is wrong, a
/// flow outside `namespace`, or a flow sent twice.
fn check_all(sources: Vec<String>, namespace: Option<&Namespace>) -> Result<Vec<Incoming>, Status> {
    if sources.len() > MAX_FLOWS {
        return Err(Status::invalid_argument(format!(
            "at most {MAX_FLOWS} flows at once; this request has {}",
            sources.len()
        )));
    }
    let mut problems = Vec::new();
    let mut incoming = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, source) in sources.into_iter().enumerate() {
        let at = index + 1;
        let parsed = match parse_source_here(&source) {
            Ok(parsed) => parsed,
            Err(ServiceError::InvalidArgument(message)) => {
                problems.push(format!("flow {at}: {message}"));
                continue;
            }
            Err(other) => return Err(other.into()),
        };
        let key = match FlowKey::parse(&parsed.namespace, &parsed.id) {
            Ok(key) => key,
            Err(err) => {
                problems.push(format!("flow {at}: {err}"));
                continue;
            }
        };
        if let Some(namespace) = namespace
            && key.namespace.as_str() != namespace.as_str()
        {
            problems.push(format!(
                "flow {at}: {key} is not in namespace {}",
                namespace.as_str()
            ));
            continue;
        }
        if !seen.insert(key.to_string()) {
            problems.push(format!("flow {at}: {key} is sent twice"));
            continue;
        }
        incoming.push(Incoming {
            key,
            parsed,
            source,
        });
    }
    if !problems.is_empty() {
        let count = problems.len();
        problems.truncate(PROBLEMS_IN_MESSAGE);
        if count > PROBLEMS_IN_MESSAGE {
            problems.push(format!("and {} more", count - PROBLEMS_IN_MESSAGE));
        }
        return Err(Status::invalid_argument(format!(
            "nothing imported: {}",
            problems.join("; ")
        )));
    }
    Ok(incoming)
}

impl FlowApi {
    /// Whether the caller may create or update flows in `namespace`, or
    /// anywhere in the tenant when none is named.
    async fn may_write_flows(
        &self,
        call: &Call,
        namespace: Option<&Namespace>,
    ) -> Result<bool, Status> {
        use aerie_common::auth::NamespaceScope;
        for action in [Action::Create, Action::Update] {
            let scope = self
                .guard
                .scope(call, Grant(Permission::Flow, action))
                .await?;
            let allowed = match (&scope, namespace) {
                (NamespaceScope::Everywhere, _) => true,
                (NamespaceScope::Within(list), None) => !list.is_empty(),
                (NamespaceScope::Within(_), Some(namespace)) => scope.covers(namespace.as_str()),
            };
            if allowed {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub(super) async fn import(
        &self,
        call: &Call,
        body: pb::ImportFlowsRequest,
    ) -> Result<pb::ImportFlowsResponse, Status> {
        // Outsiders learn nothing, not even what is wrong with their YAML.
        self.guard.require_tenant_use(call).await?;
        let namespace = match body.namespace.as_str() {
            "" => None,
            text => Some(Namespace::parse(text)?),
        };
        if body.delete_missing && namespace.is_none() {
            return Err(Status::invalid_argument(
                "deleting the flows left out needs a namespace",
            ));
        }
        // Parsing is the expensive part: only a caller who may write flows
        // somewhere (in the namespace, when one is named) gets that far.
        if !self.may_write_flows(call, namespace.as_ref()).await? {
            return Err(Status::permission_denied(format!(
                "{} may not CREATE or UPDATE FLOW in {}",
                call.caller.name,
                namespace
                    .as_ref()
                    .map_or_else(|| call.tenant.to_string(), |n| format!("namespace {n}"))
            )));
        }
        // Off the async threads: a large import must not stall other
        // tenants' requests on this process.
        let checked_namespace = namespace.clone();
        let incoming = tokio::task::spawn_blocking(move || {
            check_all(body.sources, checked_namespace.as_ref())
        })
        .await
        .map_err(|e| Status::internal(format!("flow check stopped: {e}")))??;

        // Permissions first, from what exists now; the transaction below
        // finds a flow changed in between as a conflict.
        let (live, doomed) = {
            let tx = self.read(&call.tenant).await?;
            let mut live = Vec::with_capacity(incoming.len());
            for flow in &incoming {
                let found = repo::find(&tx, &flow.key)
                    .await
                    .map_err(ServiceError::from)?;
                live.push(found.is_some_and(|f| !f.deleted));
            }
            let doomed: Vec<FlowKey> = match &namespace {
                Some(namespace) if body.delete_missing => {
                    let keep: BTreeSet<String> = incoming
                        .iter()
                        .filter(|f| !f.parsed.deleted)
                        .map(|f| f.key.id.as_str().to_owned())
                        .collect();
                    repo::in_namespace(&tx, namespace.as_str())
                        .await
                        .map_err(ServiceError::from)?
                        .into_iter()
                        .filter(|f| !keep.contains(&f.id))
                        .map(|f| FlowKey::parse(&f.namespace, &f.id))
                        .collect::<Result<_, _>>()?
                }
                _ => Vec::new(),
            };
            (live, doomed)
        };
        for (flow, live) in incoming.iter().zip(&live) {
            // Whether a flow exists is for those who may read the
            // namespace: others get the same answer either way.
            self.guard
                .authorize(
                    call,
                    Grant(Permission::Flow, Action::Read),
                    flow.key.namespace.as_str(),
                    || format!("{} not found", call.tenant),
                )
                .await?;
            if flow.parsed.deleted {
                // A deleted source deletes its flow (nothing when there is
                // none, as Kestra's loading of it leaves none).
                self.guard
                    .authorize(
                        call,
                        Grant(Permission::Flow, Action::Delete),
                        flow.key.namespace.as_str(),
                        || format!("{} not found", call.tenant),
                    )
                    .await?;
                continue;
            }
            let action = if *live {
                Action::Update
            } else {
                Action::Create
            };
            self.guard
                .authorize(
                    call,
                    Grant(Permission::Flow, action),
                    flow.key.namespace.as_str(),
                    || format!("{} not found", call.tenant),
                )
                .await?;
        }
        if let Some(first) = doomed.first() {
            self.guard
                .authorize(
                    call,
                    Grant(Permission::Flow, Action::Delete),
                    first.namespace.as_str(),
                    || format!("{} not found", call.tenant),
                )
                .await?;
        }

        let tx = self.write(&call.tenant).await?;
        let mut flows = Vec::with_capacity(incoming.len());
        let (tombstones, incoming): (Vec<Incoming>, Vec<Incoming>) =
            incoming.into_iter().partition(|f| f.parsed.deleted);
        let doomed: Vec<FlowKey> = doomed
            .into_iter()
            .chain(tombstones.into_iter().map(|f| f.key))
            .collect();
        for flow in &incoming {
            let current = repo::find(&tx, &flow.key)
                .await
                .map_err(ServiceError::from)?;
            let live = current.as_ref().filter(|f| !f.deleted);
            if let Some(current) = live
                && current.source == flow.source
            {
                // Unchanged: no new revision, no audit entry.
                flows.push(flow_message(repo::to_flow(&tx, current.clone())));
                continue;
            }
            let action = if live.is_some() { "UPDATE" } else { "CREATE" };
            let saved = repo::save(&tx, &flow.key, &flow.parsed, &flow.source, current.as_ref())
                .await
                .map_err(|e| save_failed(&flow.key, e, live.is_none()))?;
            audit_flow_change(&tx, call, &flow.key, action, saved.revision).await?;
            flows.push(flow_message(saved));
        }
        let mut deleted = Vec::with_capacity(doomed.len());
        for key in &doomed {
            let Some(current) = repo::find(&tx, key)
                .await
                .map_err(ServiceError::from)?
                .filter(|f| !f.deleted)
            else {
                continue;
            };
            if repo::soft_delete(&tx, key)
                .await
                .map_err(ServiceError::from)?
                .is_none()
            {
                continue;
            }
            audit_flow_change(&tx, call, key, "DELETE", current.revision).await?;
            let mut gone = repo::to_flow(&tx, current);
            gone.deleted = true;
            deleted.push(flow_message(gone));
        }
        tx.commit().await.map_err(ServiceError::from)?;
        tracing::info!(tenant = %call.tenant, by = %call.caller.name, flows = flows.len(),
            deleted = deleted.len(), "flows imported");
        Ok(pb::ImportFlowsResponse { flows, deleted })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOW: &str = "id: f\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";

    #[test]
    fn every_wrong_document_is_named_and_nothing_passes() {
        let other = FLOW.replace("company.team", "company.other");
        let broken = FLOW.replace("log.Log", "log.Lg");
        let err = check_all(
            vec![FLOW.into(), other, FLOW.into(), broken],
            Some(&Namespace::parse("company.team").unwrap()),
        )
        .err()
        .expect("refused");
        let message = err.message();
        assert!(
            message.contains("flow 2: company.other.f is not in namespace company.team"),
            "{message}"
        );
        assert!(
            message.contains("flow 3: company.team.f is sent twice"),
            "{message}"
        );
        assert!(message.contains("flow 4: invalid flow"), "{message}");
        assert!(check_all(vec![FLOW.into()], None).is_ok());
    }
}
