//! A replay from a task run, as Kestra's: the new execution starts with
//! copies of the task runs that started before the chosen one; the chosen
//! task and everything after it run again. The flowable tasks around the
//! chosen one are copied RUNNING, so the executor goes back into them.

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::{ExecutionId, State, push_history};
use crate::repo::entities::task_runs;

/// The task runs a replay of `original` from the task run `chosen` starts
/// with, ids new and pointing at `execution`; `None` when `chosen` is no
/// task run of it. Runs of tasks `in_flow` says the replayed revision
/// lacks are left out, with what they hold.
pub(crate) fn runs_before(
    original: &[task_runs::Model],
    chosen: &str,
    execution: &ExecutionId,
    now: chrono::DateTime<chrono::Utc>,
    in_flow: impl Fn(&str) -> bool,
) -> Option<Vec<task_runs::Model>> {
    let by_id: BTreeMap<&str, &task_runs::Model> =
        original.iter().map(|run| (run.id.as_str(), run)).collect();
    let target = by_id.get(chosen)?;
    let mut around = BTreeSet::new();
    let mut parent = target.parent_id.as_str();
    while let Some(run) = by_id.get(parent) {
        if !around.insert(run.id.as_str()) {
            break;
        }
        parent = run.parent_id.as_str();
    }
    // Run ids are time-ordered (UUID v7): they sort as the runs were made.
    let started_before = |run: &task_runs::Model| {
        (run.start_time, run.id.as_str()) < (target.start_time, target.id.as_str())
            && run.start_time.is_some()
    };
    let kept: Vec<&task_runs::Model> = original
        .iter()
        .filter(|run| around.contains(run.id.as_str()) || (run.id != chosen && started_before(run)))
        .filter(|run| in_flow(&run.task_id))
        .collect();
    let new_ids: BTreeMap<&str, String> = kept
        .iter()
        .map(|run| (run.id.as_str(), uuid::Uuid::now_v7().to_string()))
        .collect();
    // A run whose parent is not kept would be orphaned (a parent starts
    // before its children, so this drops only what the chosen run holds).
    // Kept only when every run above it is kept too.
    let by_kept: BTreeMap<&str, &task_runs::Model> =
        kept.iter().map(|run| (run.id.as_str(), *run)).collect();
    let rooted = |run: &task_runs::Model| {
        let mut parent = run.parent_id.as_str();
        for _ in 0..=by_kept.len() {
            if parent.is_empty() {
                return true;
            }
            match by_kept.get(parent) {
                Some(above) => parent = above.parent_id.as_str(),
                None => return false,
            }
        }
        false
    };
    let copies = kept
        .iter()
        .copied()
        .filter(|run| rooted(run))
        .map(|run| {
            let mut copy = run.clone();
            copy.id = new_ids[run.id.as_str()].clone();
            copy.execution_id = execution.as_str().to_owned();
            copy.parent_id = new_ids
                .get(run.parent_id.as_str())
                .cloned()
                .unwrap_or_default();
            if around.contains(run.id.as_str()) {
                copy.state = State::Running.as_str().to_owned();
                copy.histories = push_history(&run.histories, State::Restarted, now);
                copy.histories = push_history(&copy.histories, State::Running, now);
                copy.update_time = now;
            }
            copy
        })
        .collect();
    Some(copies)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, Utc};

    use super::*;

    fn run(id: &str, parent: &str, task: &str, second: i64) -> task_runs::Model {
        let start = Utc::now() - TimeDelta::hours(1) + TimeDelta::seconds(second);
        task_runs::Model {
            tenant_id: String::new(),
            id: id.to_owned(),
            execution_id: "old".to_owned(),
            parent_id: parent.to_owned(),
            task_id: task.to_owned(),
            value: String::new(),
            state: State::Success.as_str().to_owned(),
            histories: "[]".to_owned(),
            outputs: format!("{{\"value\":\"{task}\"}}"),
            attempts: 1,
            start_time: Some(start),
            update_time: start,
        }
    }

    #[test]
    fn the_runs_before_the_chosen_one_are_copied_and_its_parents_run_again() {
        let original = [
            run("r1", "", "first", 1),
            run("r2", "", "group", 2),
            run("r3", "r2", "inside", 3),
            run("r4", "r2", "chosen", 4),
            run("r5", "r4", "child", 5),
            run("r6", "r2", "later", 6),
            run("r7", "", "last", 7),
        ];
        let execution = ExecutionId::generate();
        let copies = runs_before(&original, "r4", &execution, Utc::now(), |_| true).expect("found");
        let tasks: Vec<&str> = copies.iter().map(|c| c.task_id.as_str()).collect();
        assert_eq!(tasks, ["first", "group", "inside"]);
        let group = &copies[1];
        assert_eq!(group.state, "RUNNING");
        assert!(group.histories.contains("RESTARTED"), "{}", group.histories);
        assert_eq!(
            copies[2].parent_id, group.id,
            "children follow their parent's new id"
        );
        assert_eq!(copies[0].state, "SUCCESS");
        assert_eq!(copies[0].outputs, "{\"value\":\"first\"}");
        for copy in &copies {
            assert_eq!(copy.execution_id, execution.as_str());
            assert!(original.iter().all(|o| o.id != copy.id), "new ids");
        }
        assert!(runs_before(&original, "nope", &execution, Utc::now(), |_| true).is_none());
        // The first task: nothing is copied.
        let none = runs_before(&original, "r1", &execution, Utc::now(), |_| true).expect("found");
        assert!(none.is_empty());
        // A revision without `group`: it and what it held are left out.
        let other =
            runs_before(&original, "r7", &execution, Utc::now(), |t| t != "group").expect("found");
        let tasks: Vec<&str> = other.iter().map(|c| c.task_id.as_str()).collect();
        assert_eq!(tasks, ["first"]);
    }
}
