//! Kestra's vocabulary, shared by the service that validates flows and the
//! one that runs them: task, trigger and input type names, ISO-8601 durations, retry policies.

pub mod concurrency;
pub mod document;
pub mod duration;
pub mod flow;
pub mod flow_trigger;
pub mod inputs;
pub mod jq;
pub mod outputs;
pub mod pebble;
pub mod plugin_defaults;
pub mod retry;
pub mod sla;
pub mod source;
pub mod tasks;
pub mod triggers;

/// How deep flowable tasks (Sequential, Parallel, If, Switch, ForEach...)
/// may sit inside one another. The executor runs a nested task inside its
/// parent's future, so each level takes room on a worker thread's stack:
/// the limit (with [`RUNTIME_THREAD_STACK`]) keeps a tenant's flow from
/// overflowing it and aborting the process for every tenant. Kestra's own
/// test flows nest three deep at most.
pub const MAX_TASK_NESTING: usize = 10;

/// The stack of each async runtime thread. Measured with ForEach loops
/// nested in one another: a debug build takes about 0.5 MiB of stack per
/// level (a release build far less), so [`MAX_TASK_NESTING`] levels fit
/// with room to spare. Untouched stack costs address space, not memory.
pub const RUNTIME_THREAD_STACK: usize = 16 << 20;

/// Log levels, lowest first, as Kestra names them.
pub const LOG_LEVELS: [&str; 5] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];

/// The core task types (and the legacy names Kestra still accepts).
pub mod task_types {
    pub const LOG: &str = "io.kestra.plugin.core.log.Log";
    pub const RETURN: &str = "io.kestra.plugin.core.debug.Return";
    pub const OUTPUT_VALUES: &str = "io.kestra.plugin.core.output.OutputValues";
    pub const SEQUENTIAL: &str = "io.kestra.plugin.core.flow.Sequential";
    pub const PARALLEL: &str = "io.kestra.plugin.core.flow.Parallel";
    pub const IF: &str = "io.kestra.plugin.core.flow.If";
    pub const FOR_EACH: &str = "io.kestra.plugin.core.flow.ForEach";
    pub const SLEEP: &str = "io.kestra.plugin.core.flow.Sleep";
    pub const FAIL: &str = "io.kestra.plugin.core.execution.Fail";
    pub const KV_SET: &str = "io.kestra.plugin.core.kv.Set";
    pub const KV_GET: &str = "io.kestra.plugin.core.kv.Get";
    pub const WRITE: &str = "io.kestra.plugin.core.storage.Write";
    pub const SWITCH: &str = "io.kestra.plugin.core.flow.Switch";
    pub const LABELS: &str = "io.kestra.plugin.core.execution.Labels";
    pub const PAUSE: &str = "io.kestra.plugin.core.flow.Pause";
    pub const SUBFLOW: &str = "io.kestra.plugin.core.flow.Subflow";
    pub const FOR_EACH_ITEM: &str = "io.kestra.plugin.core.flow.ForEachItem";

    /// Older names of the same tasks.
    pub const ALIASES: &[(&str, &str)] = &[
        ("io.kestra.core.tasks.log.Log", LOG),
        ("io.kestra.core.tasks.debugs.Return", RETURN),
        ("io.kestra.core.tasks.flows.Sequential", SEQUENTIAL),
        ("io.kestra.core.tasks.flows.Parallel", PARALLEL),
        ("io.kestra.core.tasks.flows.If", IF),
        ("io.kestra.core.tasks.flows.Switch", SWITCH),
        ("io.kestra.core.tasks.executions.Fail", FAIL),
        ("io.kestra.core.tasks.flows.Pause", PAUSE),
        ("io.kestra.core.tasks.flows.Subflow", SUBFLOW),
        ("io.kestra.core.tasks.flows.Flow", SUBFLOW),
        ("io.kestra.core.tasks.flows.ForEachItem", FOR_EACH_ITEM),
    ];
}

/// The trigger types.
pub mod trigger_types {
    pub const SCHEDULE: &str = "io.kestra.plugin.core.trigger.Schedule";
    pub const WEBHOOK: &str = "io.kestra.plugin.core.trigger.Webhook";
    pub const FLOW: &str = "io.kestra.plugin.core.trigger.Flow";

    /// Older names Kestra still accepts.
    pub const ALIASES: &[(&str, &str)] = &[
        ("io.kestra.core.models.triggers.types.Schedule", SCHEDULE),
        ("io.kestra.core.models.triggers.types.Webhook", WEBHOOK),
        ("io.kestra.core.models.triggers.types.Flow", FLOW),
    ];

    /// The current name of a trigger type, older names resolved.
    pub fn canonical(kind: &str) -> &str {
        ALIASES
            .iter()
            .find(|(alias, _)| *alias == kind)
            .map_or(kind, |(_, canonical)| canonical)
    }
}

/// How every reader of flow YAML reads it: booleans as YAML 1.2 spells
/// them (only `true` and `false`), so `message: no` or `- id: n` keep their
/// text as in Kestra; serde-saphyr's default budgets against alias bombs
/// and deep nesting, and duplicate keys refused (flow YAML is tenant input).
/// The flow label that makes the flow's web UI page read-only (Kestra's
/// one `system.` label a flow may set): for flows kept in git and changed
/// through the API.
pub const READ_ONLY_LABEL: &str = "system.readOnly";

pub fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! { strict_booleans: true }
}

/// A scalar's text where Kestra expects a string (`id: 1` is the id "1");
/// `None` for null, lists and mappings.
pub fn scalar_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Number(_) | serde_json::Value::Bool(_) => Some(value.to_string()),
        _ => None,
    }
}

/// The one condition type Aerie evaluates (on Webhook triggers), by its
/// current name and the older ones Kestra still accepts.
pub mod condition_types {
    pub const EXPRESSION: &str = "io.kestra.plugin.core.condition.Expression";
    pub const NAMES: &[&str] = &[
        EXPRESSION,
        "io.kestra.plugin.core.condition.ExpressionCondition",
        "io.kestra.core.models.conditions.types.VariableCondition",
    ];

    /// Kestra's truth of a rendered condition: anything but blank or
    /// `false`.
    pub fn holds(rendered: &str) -> bool {
        let text = rendered.trim();
        !(text.is_empty() || text == "false")
    }
}

pub use inputs::INPUT_TYPES;

/// A size as Kestra writes one (`512`, `10KB`, `1.5MB`, `2GB`; units of
/// 1024), in bytes; `None` for anything else or for zero.
pub fn parse_byte_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" | "K" => 1 << 10,
        "MB" | "M" => 1 << 20,
        "GB" | "G" => 1 << 30,
        _ => return None,
    };
    let bytes = number * scale as f64;
    (bytes >= 1.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// Why an identifier is not acceptable (no I/O, no status codes).
pub fn namespace_problem(text: &str) -> Option<String> {
    let mut chars = text.chars();
    let ok = text.len() <= 150
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    (!ok).then(|| {
        format!(
            "namespace '{}' must match ^[a-z0-9][a-z0-9._-]* and be 1 to 150 characters",
            shorten(text)
        )
    })
}

/// Why a flow, task, input or trigger id is not acceptable.
pub fn id_problem(what: &str, text: &str, max: usize) -> Option<String> {
    let mut chars = text.chars();
    let ok = text.len() <= max
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    (!ok).then(|| {
        format!(
            "{what} '{}' must match ^[a-zA-Z0-9][a-zA-Z0-9._-]* and be 1 to {max} characters",
            shorten(text)
        )
    })
}

/// At most 100 characters of user text, for messages.
pub fn shorten(text: &str) -> String {
    text.chars().take(100).collect()
}

/// Whether a value is a template, rendered when the flow runs (what it
/// must give is checked then).
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// The current name of a task type, older names resolved.
pub fn canonical_task_type(kind: &str) -> &str {
    task_types::ALIASES
        .iter()
        .find(|(alias, _)| *alias == kind)
        .map_or(kind, |(_, canonical)| canonical)
}

#[cfg(test)]
mod tests {
    use super::parse_byte_size;

    #[test]
    fn byte_sizes_read_as_kestra_writes_them() {
        assert_eq!(parse_byte_size("512"), Some(512));
        assert_eq!(parse_byte_size("10KB"), Some(10 * 1024));
        assert_eq!(parse_byte_size("1.5MB"), Some(3 << 19));
        assert_eq!(parse_byte_size("2gb"), Some(2 << 30));
        for bad in ["", "0", "0KB", "MB", "10 parsecs", "-1KB", "1e9"] {
            assert_eq!(parse_byte_size(bad), None, "{bad}");
        }
    }
}
