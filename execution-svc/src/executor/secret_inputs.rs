//! SECRET inputs (Kestra's `type: SECRET`): checked like a STRING, sealed
//! under the master key before the execution row is written, so the
//! database and every API show ciphertext only; opened for the run, where
//! the value renders in templates and is masked in its logs and outputs.

use std::collections::BTreeMap;

use aerie_common::TenantId;
use aerie_common::crypto::{InputAddress, SecretBox};
use serde_json::{Map, Value};

use super::Engine;
use crate::domain::inputs;
use crate::domain::plan::InputSpec;

/// The SECRET inputs among `specs`.
fn secret_specs(specs: &[InputSpec]) -> impl Iterator<Item = &InputSpec> {
    specs.iter().filter(|s| s.kind == "SECRET")
}

impl Engine {
    /// The inputs of a new execution of `namespace`/`flow_id` at
    /// `revision`, checked against `specs` (every problem, as
    /// [`inputs::resolve`]), with each SECRET value sealed for the row.
    pub(crate) fn resolve_inputs(
        &self,
        tenant: &TenantId,
        (namespace, flow_id, revision): (&str, &str, i32),
        specs: &[InputSpec],
        given: &Map<String, Value>,
        files: &BTreeMap<String, String>,
    ) -> Result<Map<String, Value>, Vec<String>> {
        let mut resolved = inputs::resolve(specs, given, files)?;
        for spec in secret_specs(specs) {
            if let Some(Value::String(plain)) = resolved.get(&spec.id) {
                let at = InputAddress {
                    namespace,
                    flow_id,
                    revision,
                    input: &spec.id,
                };
                let sealed = self.secret_inputs.seal_input(tenant, &at, plain);
                resolved.insert(spec.id.clone(), Value::String(sealed));
            }
        }
        Ok(resolved)
    }

    /// The plain values of an execution's SECRET inputs, by input id, from
    /// its stored inputs; why not when one does not open (another revision
    /// or master key, or a value copied from elsewhere).
    pub(crate) fn open_secret_inputs(
        &self,
        tenant: &TenantId,
        (namespace, flow_id, revision): (&str, &str, i32),
        specs: &[InputSpec],
        stored: &Value,
    ) -> Result<Map<String, Value>, String> {
        let mut opened = Map::new();
        for spec in secret_specs(specs) {
            if let Some(Value::String(sealed)) = stored.get(&spec.id) {
                let at = InputAddress {
                    namespace,
                    flow_id,
                    revision,
                    input: &spec.id,
                };
                let plain = self
                    .secret_inputs
                    .open_input(tenant, &at, sealed)
                    .map_err(|_| {
                        format!(
                            "the SECRET input '{}' does not open: it was sealed for another revision of this flow (a replay at another revision) or under another secrets master key; start a new execution",
                            spec.id
                        )
                    })?;
                opened.insert(spec.id.clone(), Value::String(plain));
            }
        }
        Ok(opened)
    }
}

/// The ids of `specs`' SECRET inputs.
pub(crate) fn secret_input_ids(specs: &[InputSpec]) -> Vec<&str> {
    secret_specs(specs).map(|s| s.id.as_str()).collect()
}

/// One side of a reseal: the box that seals and the tenant it seals for.
pub(crate) type SealedBy<'a> = (&'a SecretBox, &'a TenantId);

/// An execution row's stored inputs (`stored`, JSON text) with each SECRET
/// value of `specs` opened as `from` sealed it and sealed again as `to`
/// seals: a tenant's executions carried in an archive (under its transfer
/// key) and back into a tenant (under the master key). Answers the new
/// text and how many values it resealed.
pub(crate) fn reseal(
    stored: &str,
    specs: &[InputSpec],
    (namespace, flow_id, revision): (&str, &str, i32),
    from: SealedBy<'_>,
    to: SealedBy<'_>,
) -> Result<(String, usize), String> {
    let Ok(Value::Object(mut inputs)) = serde_json::from_str::<Value>(stored) else {
        return Ok((stored.to_owned(), 0));
    };
    let mut resealed = 0;
    for spec in secret_specs(specs) {
        let Some(Value::String(sealed)) = inputs.get(&spec.id) else {
            continue;
        };
        let at = InputAddress {
            namespace,
            flow_id,
            revision,
            input: &spec.id,
        };
        let plain = from.0.open_input(from.1, &at, sealed).map_err(|_| {
            format!(
                "the SECRET input '{}' of an execution of {namespace}/{flow_id} does not open with this key",
                spec.id
            )
        })?;
        let again = to.0.seal_input(to.1, &at, &plain);
        inputs.insert(spec.id.clone(), Value::String(again));
        resealed += 1;
    }
    if resealed == 0 {
        return Ok((stored.to_owned(), 0));
    }
    Ok((Value::Object(inputs).to_string(), resealed))
}
