//! The trigger vocabulary, declared once: each trigger type's properties
//! (flow-svc's validation refuses any other) and its typed form as the
//! services that act on it read it. The Flow trigger's full model is
//! [`flow_trigger`](super::flow_trigger).

use serde_json::Value;

use super::{scalar_text, trigger_types};

pub mod schedule;
pub mod webhook;

pub use schedule::Schedule;
pub use webhook::Webhook;

/// The properties a trigger of `kind` (a canonical name) takes; `None`
/// for a type Aerie does not run.
pub fn properties(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        trigger_types::SCHEDULE => Some(schedule::PROPERTIES),
        trigger_types::WEBHOOK => Some(webhook::PROPERTIES),
        trigger_types::FLOW => Some(super::flow_trigger::PROPERTIES),
        _ => None,
    }
}

/// The triggers of one type in a flow's `triggers` (older names resolved).
pub fn of_type<'a>(triggers: Option<&'a Value>, kind: &'a str) -> impl Iterator<Item = &'a Value> {
    let all = match triggers {
        Some(Value::Array(triggers)) => triggers.as_slice(),
        _ => &[],
    };
    all.iter().filter(move |t| {
        t.get("type")
            .and_then(Value::as_str)
            .map(trigger_types::canonical)
            == Some(kind)
    })
}

/// A trigger's id, as text.
fn id(trigger: &Value) -> Option<String> {
    scalar_text(trigger.get("id")?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_type_is_read_from_its_own_entries_and_older_names_count() {
        let triggers = json!([
            {"id": "hook", "type": "io.kestra.core.models.triggers.types.Webhook", "key": "k",
             "conditions": [{"type": "io.kestra.plugin.core.condition.Expression", "expression": "{{ true }}"}]},
            {"id": "off", "type": trigger_types::WEBHOOK, "key": "k2", "disabled": true},
            {"id": 1, "type": trigger_types::SCHEDULE, "cron": "* * * * *",
             "inputs": {"n": 1}, "labels": {"team": "a"}},
        ]);
        let hooks = Webhook::enabled(Some(&triggers));
        assert_eq!(hooks.len(), 1);
        assert_eq!((hooks[0].id.as_str(), hooks[0].key.as_str()), ("hook", "k"));
        assert_eq!(hooks[0].conditions, ["{{ true }}"]);
        let schedules = Schedule::all(Some(&triggers));
        assert_eq!(schedules["1"].inputs["n"], 1);
        assert_eq!(schedules["1"].labels["team"], "a");
        assert!(properties(trigger_types::FLOW).is_some());
        assert!(properties("io.kestra.plugin.kafka.Trigger").is_none());
    }
}
