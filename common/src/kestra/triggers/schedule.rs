//! Schedule: starts the flow at each tick of a cron expression.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{id, of_type, trigger_types};
use crate::kestra::tasks::labels;

pub const PROPERTIES: &[&str] = &[
    "id",
    "type",
    "description",
    "disabled",
    "cron",
    "timezone",
    "withSeconds",
    "inputs",
    "recoverMissedSchedules",
    "labels",
];

/// What a Schedule trigger gives the executions it starts. (Its cron and
/// time zone are read by flow-svc when the flow is saved and kept with
/// the trigger, where the scheduler finds them.)
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schedule {
    /// Input values as written (templates are refused in them).
    pub inputs: Map<String, Value>,
    pub labels: BTreeMap<String, String>,
}

impl Schedule {
    /// The Schedule triggers of a flow's `triggers`, by id.
    pub fn all(triggers: Option<&Value>) -> BTreeMap<String, Schedule> {
        of_type(triggers, trigger_types::SCHEDULE)
            .filter_map(|t| {
                let schedule = Schedule {
                    inputs: match t.get("inputs") {
                        Some(Value::Object(inputs)) => inputs.clone(),
                        _ => Map::new(),
                    },
                    labels: labels(t.get("labels")),
                };
                Some((id(t)?, schedule))
            })
            .collect()
    }
}
