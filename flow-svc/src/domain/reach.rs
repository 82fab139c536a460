//! How far a running flow reaches into KV and secrets. A flow acts with its
//! own namespace's reach, never its creator's: it reads its own namespace
//! and its parents, writes only its own, and reaches any other namespace
//! only when that namespace's settings allow the flow's namespace (an
//! allowed entry covers the namespace and its children, as bindings do).

use super::Namespace;

/// What a flow does to another namespace's store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Read,
    Write,
    /// Start one of its flows (a Subflow task).
    Execute,
}

/// Whether `namespace` is `scope` or one of its children.
pub fn covers(scope: &str, namespace: &str) -> bool {
    namespace == scope
        || namespace
            .strip_prefix(scope)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// Whether a flow of `flow` may `reach` the store of `target`, whose
/// settings allow `allowed`.
pub fn flow_may(reach: Reach, flow: &Namespace, target: &Namespace, allowed: &[String]) -> bool {
    let own_or_parent = match reach {
        Reach::Read => covers(target.as_str(), flow.as_str()),
        Reach::Write | Reach::Execute => target == flow,
    };
    own_or_parent || allowed.iter().any(|scope| covers(scope, flow.as_str()))
}

/// The refusal a flow sees, naming the rule and how to change it.
pub fn refusal(reach: Reach, flow: &Namespace, target: &Namespace) -> String {
    let what = match reach {
        Reach::Read => "read",
        Reach::Write => "write",
        Reach::Execute => "start the flows of",
    };
    format!(
        "a flow of namespace {flow} may not {what} namespace {target}: flows read their own namespace and its parents, write their own and start their own namespace's flows; \
         add {flow} to the allowed namespaces of {target} to let it"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(text: &str) -> Namespace {
        Namespace::parse(text).expect("namespace")
    }

    #[test]
    fn a_flow_reads_its_namespace_and_parents_and_writes_its_own() {
        let flow = ns("company.team-a");
        assert!(flow_may(Reach::Read, &flow, &ns("company.team-a"), &[]));
        assert!(flow_may(Reach::Read, &flow, &ns("company"), &[]));
        assert!(flow_may(Reach::Write, &flow, &ns("company.team-a"), &[]));
        assert!(!flow_may(Reach::Write, &flow, &ns("company"), &[]));
        assert!(!flow_may(Reach::Read, &flow, &ns("company.team-b"), &[]));
        assert!(!flow_may(
            Reach::Read,
            &flow,
            &ns("company.team-a.sub"),
            &[]
        ));
        assert!(!flow_may(Reach::Read, &flow, &ns("comp"), &[]));
        assert!(flow_may(Reach::Execute, &flow, &ns("company.team-a"), &[]));
        assert!(!flow_may(Reach::Execute, &flow, &ns("company"), &[]));
        assert!(!flow_may(
            Reach::Execute,
            &flow,
            &ns("company.team-a.sub"),
            &[]
        ));
        assert!(flow_may(
            Reach::Execute,
            &flow,
            &ns("company.shared"),
            &["company.team-a".into()]
        ));
    }

    #[test]
    fn another_namespace_is_reached_only_when_it_allows_the_flow() {
        let flow = ns("team-a.jobs");
        let target = ns("team-b");
        assert!(flow_may(Reach::Read, &flow, &target, &["team-a".into()]));
        assert!(flow_may(
            Reach::Write,
            &flow,
            &target,
            &["team-a.jobs".into()]
        ));
        assert!(!flow_may(
            Reach::Read,
            &flow,
            &target,
            &["team-a.jobs.x".into()]
        ));
        assert!(!flow_may(Reach::Read, &flow, &target, &["team".into()]));
    }
}
