//! Webhook: starts the flow when its key is called.

use serde_json::Value;

use super::{id, of_type, trigger_types};
use crate::kestra::scalar_text;

pub const PROPERTIES: &[&str] = &["id", "type", "description", "disabled", "key", "conditions"];

/// A Webhook trigger of a flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: String,
    /// The key as written: a template (`{{ flow.id }}`, `{{ secret('K') }}`)
    /// is rendered when a call comes in.
    pub key: String,
    /// Expression conditions: all must hold for a call to start the flow.
    pub conditions: Vec<String>,
}

impl Webhook {
    /// The enabled Webhook triggers of a flow's `triggers`.
    pub fn enabled(triggers: Option<&Value>) -> Vec<Webhook> {
        of_type(triggers, trigger_types::WEBHOOK)
            .filter(|t| !t.get("disabled").and_then(Value::as_bool).unwrap_or(false))
            .filter_map(|t| {
                let conditions = match t.get("conditions") {
                    Some(Value::Array(items)) => items
                        .iter()
                        .filter_map(|c| scalar_text(c.get("expression")?))
                        .collect(),
                    _ => Vec::new(),
                };
                Some(Webhook {
                    id: id(t)?,
                    key: scalar_text(t.get("key")?)?,
                    conditions,
                })
            })
            .collect()
    }
}
