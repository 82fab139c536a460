//! Templates (`{{ ... }}`, `{% ... %}`) rendered with minijinja against the
//! execution's variables, with `secret('KEY')` and `kv('KEY')` answered by
//! the execution's own tenant and namespace. An undefined variable is an
//! error, so a typo fails the task instead of rendering nothing.

use std::sync::Arc;

use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior};
use serde_json::Value;

use super::scope::Scope;

/// Where `secret()` and `kv()` find their values. Implementations block:
/// templates that call them are rendered off the async threads.
pub trait Lookups: Send + Sync {
    fn secret(&self, key: &str) -> Result<String, String>;
    /// The value of a KV entry; `None` when there is no such key.
    fn kv(&self, key: &str, namespace: Option<&str>) -> Result<Option<Value>, String>;
    /// The ERROR log lines of the running execution, oldest first, as
    /// Kestra's `errorLogs()` gives them.
    fn error_logs(&self) -> Result<Value, String>;
    /// The text of an internal-storage file (`kestra:///...`) that the
    /// running execution may read: its own, or its parent's.
    fn read(&self, uri: &str) -> Result<String, String>;
}

/// Instructions one render may execute (a loop of about 100k steps).
const TEMPLATE_FUEL: u64 = 1_000_000;

/// Renders templates for one execution.
#[derive(Clone)]
pub struct Renderer {
    env: Arc<Environment<'static>>,
}

/// Whether `text` holds template syntax at all (plain text is used as is).
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// Whether rendering `text` may call out for a secret, a KV value or the
/// execution's logs (`render()` may: the text it renders is known only
/// then). A word test, not a call test: `secret ('K')` and
/// `{% set s = secret %}` call it too, and a lookup made on an async thread
/// would stop the process's runtime; a false positive only costs a render
/// on a blocking thread.
pub fn needs_lookups(text: &str) -> bool {
    is_template(text)
        && ["secret", "kv", "render", "errorLogs", "read"]
            .iter()
            .any(|word| text.contains(word))
}

/// How deep `render()` may nest (a variable rendering itself stops here).
const MAX_RENDER_DEPTH: u32 = 5;

thread_local! {
    /// `render()` calls in progress on this thread: a render runs on one
    /// thread from start to end.
    static RENDER_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    /// The variables of the renders in progress on this thread, innermost
    /// last: what `render()` renders against.
    static CONTEXTS: std::cell::RefCell<Vec<minijinja::Value>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Lookups for a render that may make none (a Flow trigger's EXPRESSION
/// filter, rendered for every end in the tenant): each says so.
pub struct NoLookups(pub &'static str);

impl Lookups for NoLookups {
    fn secret(&self, _: &str) -> Result<String, String> {
        Err(format!("secret() is not available in {}", self.0))
    }
    fn kv(&self, _: &str, _: Option<&str>) -> Result<Option<Value>, String> {
        Err(format!("kv() is not available in {}", self.0))
    }
    fn error_logs(&self) -> Result<Value, String> {
        Err(format!("errorLogs() is not available in {}", self.0))
    }
    fn read(&self, _: &str) -> Result<String, String> {
        Err(format!("read() is not available in {}", self.0))
    }
}

/// The longest text `is json` parses.
const MAX_JSON_TEST_BYTES: usize = 1 << 20;

/// How deeply a value handed to JSON (printing, `json`, `jq`) may nest:
/// deeper, it is refused rather than walked recursively.
const MAX_VALUE_DEPTH: usize = 128;

/// Whether `value` nests deeper than [`MAX_VALUE_DEPTH`], found without
/// recursion (a value nested beyond any stack must not take one down).
fn too_deep(value: &minijinja::Value) -> bool {
    use minijinja::value::ValueKind;
    let mut pending = vec![(value.clone(), 1usize)];
    while let Some((value, depth)) = pending.pop() {
        if !matches!(value.kind(), ValueKind::Seq | ValueKind::Map) {
            continue;
        }
        if depth > MAX_VALUE_DEPTH {
            return true;
        }
        let Ok(items) = value.try_iter() else {
            continue;
        };
        for item in items {
            let child = match value.kind() {
                ValueKind::Map => value.get_item(&item).unwrap_or_default(),
                _ => item,
            };
            pending.push((child, depth + 1));
        }
    }
    false
}

fn check_depth(value: &minijinja::Value) -> Result<(), Error> {
    match too_deep(value) {
        true => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("a value nested more than {MAX_VALUE_DEPTH} levels deep"),
        )),
        false => Ok(()),
    }
}

impl Renderer {
    pub fn new(lookups: Arc<dyn Lookups>) -> Renderer {
        Renderer::with_fuel(lookups, TEMPLATE_FUEL)
    }

    /// A renderer whose renders may each execute at most `fuel`
    /// instructions.
    pub fn with_fuel(lookups: Arc<dyn Lookups>, fuel: u64) -> Renderer {
        let mut env = Environment::new();
        // minijinja's `namespace()` is the one way a template carries a
        // value from one loop step to the next: with it, a loop builds a
        // list nested a hundred thousand deep, which printing or dropping
        // walks recursively. Kestra's Pebble has no such function.
        env.remove_global("namespace");
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Pebble keeps a template's last newline (a YAML `|` block ends
        // with one).
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .keep_trailing_newline(true)
                .build()
                .expect("the default delimiters are valid"),
        );
        // Templates are tenant input: bound the work one render may do.
        env.set_fuel(Some(fuel));
        // Values print as Kestra prints them: true and false, null as
        // nothing, maps and lists as JSON.
        env.set_formatter(|out, state, value| match value.kind() {
            minijinja::value::ValueKind::Bool => {
                write!(out, "{}", value.is_true()).map_err(Error::from)
            }
            minijinja::value::ValueKind::None => Ok(()),
            minijinja::value::ValueKind::Map | minijinja::value::ValueKind::Seq => {
                write!(out, "{}", to_json(value)?).map_err(Error::from)
            }
            _ => minijinja::escape_formatter(out, state, value),
        });
        // Pebble's JSON filters and functions, under Kestra's names.
        for name in ["json", "toJson"] {
            env.add_filter(name, |value: minijinja::Value| to_json(&value));
        }
        // Kestra's `is json`: a text that parses as JSON (a map or list
        // already is JSON data).
        // Parsing is work the template budget does not count: a text over
        // 1 MiB is refused rather than parsed at every step of a loop.
        env.add_test("json", |value: minijinja::Value| match value.kind() {
            minijinja::value::ValueKind::String => {
                let text = value.as_str().unwrap_or_default();
                if text.len() > MAX_JSON_TEST_BYTES {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!(
                            "is json tests a text of at most 1 MiB; this one has {} bytes",
                            text.len()
                        ),
                    ));
                }
                Ok(serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok())
            }
            minijinja::value::ValueKind::Map | minijinja::value::ValueKind::Seq => Ok(true),
            _ => Ok(false),
        });
        // Kestra's `jq(expression)`: the values the program streams, as a
        // list; a text input is read as JSON first.
        env.add_filter("jq", |value: minijinja::Value, program: String| {
            let invalid = |why: String| Error::new(ErrorKind::InvalidOperation, why);
            let program = aerie_common::kestra::jq::Program::parse(&program).map_err(invalid)?;
            check_depth(&value)?;
            let input: Value = match value.as_str() {
                Some(text) if value.kind() == minijinja::value::ValueKind::String => {
                    serde_json::from_str(text).map_err(|e| {
                        invalid(format!(
                            "jq: '{}' is not JSON: {e}",
                            aerie_common::kestra::shorten(text)
                        ))
                    })?
                }
                _ => serde_json::to_value(&value).map_err(|e| invalid(format!("jq: {e}")))?,
            };
            let out = program
                .run(&input)
                .map_err(|e| invalid(format!("jq: {e}")))?;
            Ok(minijinja::Value::from(minijinja::value::Serde(out)))
        });
        env.add_function("now", || {
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        });
        for name in ["json", "fromJson"] {
            env.add_function(name, |text: String| {
                serde_json::from_str::<Value>(&text)
                    .map(|value| minijinja::Value::from(minijinja::value::Serde(value)))
                    .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("not JSON: {e}")))
            });
        }
        env.add_function("render", render_again);
        env.add_function("currentEachOutput", current_each_output);
        let logs = lookups.clone();
        env.add_function("errorLogs", move || {
            logs.error_logs()
                .map(|value| minijinja::Value::from(minijinja::value::Serde(value)))
                .map_err(|why| Error::new(ErrorKind::InvalidOperation, why))
        });
        let files = lookups.clone();
        env.add_function("read", move |uri: String| {
            files
                .read(&uri)
                .map_err(|why| Error::new(ErrorKind::InvalidOperation, why))
        });
        let secrets = lookups.clone();
        env.add_function("secret", move |key: String| {
            secrets
                .secret(&key)
                .map_err(|why| Error::new(ErrorKind::InvalidOperation, why))
        });
        // Kestra's kv(key, namespace, errorOnMissing): a missing key is
        // null unless errorOnMissing is true.
        env.add_function(
            "kv",
            move |key: String, namespace: Option<String>, error_on_missing: Option<bool>| {
                let found = lookups
                    .kv(&key, namespace.as_deref())
                    .map_err(|why| Error::new(ErrorKind::InvalidOperation, why))?;
                match found {
                    Some(value) => Ok(minijinja::Value::from(minijinja::value::Serde(value))),
                    None if error_on_missing == Some(true) => Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!(
                            "The key '{key}' does not exist in the namespace '{}'.",
                            namespace.as_deref().unwrap_or("of the flow")
                        ),
                    )),
                    None => Ok(minijinja::Value::from(())),
                }
            },
        );
        Renderer { env: Arc::new(env) }
    }

    /// `template` rendered against `context`.
    pub fn render(&self, template: &str, context: &Scope) -> Result<String, String> {
        if !is_template(template) {
            return Ok(template.to_owned());
        }
        CONTEXTS.with(|c| c.borrow_mut().push(context.clone()));
        let rendered = self
            .env
            .render_str(&aerie_common::kestra::pebble::translate(template), context);
        CONTEXTS.with(|c| c.borrow_mut().pop());
        rendered.map_err(|err| describe(&err))
    }

    /// Every string inside `value` rendered; other values unchanged.
    pub fn render_value(&self, value: &Value, context: &Scope) -> Result<Value, String> {
        Ok(match value {
            Value::String(s) => Value::String(self.render(s, context)?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.render_value(v, context))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.render_value(v, context)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }
}

/// Pebble's `render(text, recursive=true)`: `text` (a variable holding a
/// template, usually) rendered against the same variables; again while it
/// still holds a template, unless `recursive` is false. The work of each
/// inner render is charged to the outer one's fuel, and nesting is bounded,
/// so a template cannot multiply its budget through render().
fn render_again(
    state: &minijinja::State,
    text: minijinja::Value,
    recursive: Option<bool>,
) -> Result<minijinja::Value, Error> {
    let Some(mut text) = text.as_str().map(str::to_owned) else {
        return Ok(text);
    };
    let context = CONTEXTS
        .with(|c| c.borrow().last().cloned())
        .unwrap_or_default();
    for _ in 0..MAX_RENDER_DEPTH {
        if !is_template(&text) {
            break;
        }
        let depth = RENDER_DEPTH.with(|d| d.get());
        if depth >= MAX_RENDER_DEPTH {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("render() nested more than {MAX_RENDER_DEPTH} deep"),
            ));
        }
        RENDER_DEPTH.with(|d| d.set(depth + 1));
        let rendered = state
            .env()
            .template_from_str(&aerie_common::kestra::pebble::translate(&text))
            .and_then(|template| template.render_captured(context.clone()))
            .map(|captured| {
                let used = captured.state().fuel_levels().map_or(0, |(used, _)| used);
                (captured.into_output(), used)
            });
        RENDER_DEPTH.with(|d| d.set(depth));
        let (rendered, used) = rendered?;
        state.consume_fuel(used)?;
        let unchanged = rendered == text;
        text = rendered;
        if unchanged || !recursive.unwrap_or(true) {
            break;
        }
    }
    Ok(minijinja::Value::from(text))
}

/// Pebble's `currentEachOutput(outputs.t)`: inside a ForEach, the outputs
/// of task `t` of the current iteration (`outputs.t[taskrun.value]`).
fn current_each_output(
    state: &minijinja::State,
    outputs: minijinja::Value,
) -> Result<minijinja::Value, Error> {
    let value = state
        .lookup("taskrun")
        .and_then(|taskrun| taskrun.get_attr("value").ok())
        .filter(|value| !value.is_undefined() && !value.is_none())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                "currentEachOutput() is only meaningful inside a ForEach",
            )
        })?;
    // Inside nested loops, the enclosing iterations' values first
    // (outermost first), as the outputs are keyed.
    let mut outputs = outputs;
    if let Some(parents) = state.lookup("parents")
        && let Ok(parents) = parents.try_iter()
    {
        let enclosing: Vec<minijinja::Value> = parents
            .filter_map(|parent| parent.get_attr("taskrun").ok())
            .filter_map(|taskrun| taskrun.get_attr("value").ok())
            .filter(|value| !value.is_undefined() && !value.is_none())
            .collect();
        for value in enclosing.iter().rev() {
            outputs = outputs.get_item(value)?;
        }
    }
    let found = outputs.get_item(&value)?;
    if found.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            format!("no outputs for the current iteration ({value})"),
        ));
    }
    Ok(found)
}

/// A template value as compact JSON.
fn to_json(value: &minijinja::Value) -> Result<String, Error> {
    check_depth(value)?;
    serde_json::to_string(value).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("cannot print as JSON: {e}"),
        )
    })
}

/// The error with its causes, on one line.
fn describe(err: &Error) -> String {
    let mut text = format!("template error: {err}");
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Whether a rendered condition counts as true (Kestra: anything but an
/// empty string, `false`, a zero or `null`).
pub fn is_truthy(rendered: &str) -> bool {
    let text = rendered.trim().to_ascii_lowercase();
    let zero = text.parse::<f64>().is_ok_and(|n| n == 0.0);
    !(zero || matches!(text.as_str(), "" | "false" | "null" | "none"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Fixed;

    impl Lookups for Fixed {
        fn secret(&self, key: &str) -> Result<String, String> {
            match key {
                "TOKEN" => Ok("s3cr3t".into()),
                _ => Err(format!("secret {key} not found")),
            }
        }
        fn kv(&self, key: &str, namespace: Option<&str>) -> Result<Option<Value>, String> {
            Ok((key != "missing").then(|| json!({"key": key, "ns": namespace})))
        }
        fn error_logs(&self) -> Result<Value, String> {
            Ok(json!([{"taskId": "boom", "message": "it broke", "level": "ERROR"}]))
        }
        fn read(&self, uri: &str) -> Result<String, String> {
            match uri {
                "kestra:///a.txt" => Ok("line\n".into()),
                _ => Err(format!("{uri}: file not found")),
            }
        }
    }

    #[test]
    fn no_value_nests_deep_enough_to_take_a_stack_down() {
        let r = Renderer::new(Arc::new(Fixed));
        // namespace() is gone: no loop carries a value from step to step.
        let err = r
            .render(
                "{% set ns = namespace(x=1) %}{% for i in range(3) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}",
                &minijinja::Value::from(()),
            )
            .unwrap_err();
        assert!(err.contains("namespace"), "{err}");
        // A value nested deeper than the bound (as data could be) is refused
        // when printed or given to jq, without recursion.
        let mut deep = minijinja::Value::from(1);
        for _ in 0..100_000 {
            deep = minijinja::Value::from(vec![deep]);
        }
        let ctx = minijinja::context! { deep => deep.clone() };
        for template in ["{{ deep }}", "{{ deep | jq('.[0]') }}", "{{ deep | json }}"] {
            let err = r.render(template, &ctx).unwrap_err();
            assert!(err.contains("nested more than 128"), "{template}: {err}");
        }
        // Built here in Rust only (a template no longer can): leaked rather
        // than dropped, since dropping it recurses.
        drop(ctx);
        std::mem::forget(deep);
        let shallow = minijinja::context! { v => vec![vec![1]] };
        assert_eq!(r.render("{{ v }}", &shallow).unwrap(), "[[1]]");
    }

    #[test]
    fn is_json_and_jq_read_json_as_kestra_does() {
        let r = Renderer::new(Arc::new(Fixed));
        let ctx = minijinja::Value::from(minijinja::value::Serde(json!({
            "text": "{\"key\": \"k\", \"items\": [{\"id\": 1}, {\"id\": 2}]}",
            "plain": "value 1",
            "map": {"key": "m"},
        })));
        let render = |t: &str| r.render(t, &ctx);
        assert_eq!(
            render("{{ text is json }} {{ plain is json }} {{ map is json }} {{ 3 is json }}")
                .unwrap(),
            "true false true false"
        );
        assert_eq!(render("{{ text | jq('.key') }}").unwrap(), r#"["k"]"#);
        assert_eq!(
            render("{{ text | jq('.items[].id') | first }}").unwrap(),
            "1"
        );
        assert_eq!(render("{{ map | jq('.key') | first }}").unwrap(), "m");
        let big = minijinja::context! { t => "[".repeat(2 << 20) };
        let err = r.render("{{ t is json }}", &big).unwrap_err();
        assert!(err.contains("at most 1 MiB"), "{err}");
        let err = render("{{ plain | jq('.key') }}").unwrap_err();
        assert!(err.contains("is not JSON"), "{err}");
        let err = render("{{ text | jq('.key.x') }}").unwrap_err();
        assert!(err.contains("Cannot index string"), "{err}");
    }

    #[test]
    fn read_gives_a_files_text() {
        let r = Renderer::new(Arc::new(Fixed));
        let ctx = minijinja::Value::from(minijinja::value::Serde(json!({"f": "kestra:///a.txt"})));
        assert_eq!(r.render("{{ read(f) }}", &ctx).unwrap(), "line\n");
        assert!(needs_lookups("{{ read(f) }}"));
        let err = r.render("{{ read('kestra:///b.txt') }}", &ctx).unwrap_err();
        assert!(err.contains("file not found"), "{err}");
    }

    #[test]
    fn a_missing_kv_key_is_null_unless_error_on_missing() {
        let r = Renderer::new(Arc::new(Fixed));
        let ctx = minijinja::Value::from(minijinja::value::Serde(json!({})));
        assert_eq!(r.render("{{ kv('k').key }}", &ctx).unwrap(), "k");
        assert_eq!(
            r.render("[{{ kv('missing').field ?? null }}]", &ctx)
                .unwrap(),
            "[]"
        );
        let err = r
            .render("{{ kv('missing', 'a.b', true) }}", &ctx)
            .unwrap_err();
        assert!(
            err.contains("The key 'missing' does not exist in the namespace 'a.b'."),
            "{err}"
        );
    }

    #[test]
    fn error_logs_and_the_current_iterations_outputs() {
        let r = Renderer::new(Arc::new(Fixed));
        let ctx = minijinja::Value::from(minijinja::value::Serde(json!({
            "taskrun": {"value": "b"},
            "outputs": {"t": {"a": {"value": 1}, "b": {"value": 2}}},
        })));
        assert_eq!(
            r.render(
                "{{ errorLogs()[0].taskId }}: {{ errorLogs()[0].message }}",
                &ctx
            )
            .unwrap(),
            "boom: it broke"
        );
        assert_eq!(
            r.render("{{ currentEachOutput(outputs.t).value }}", &ctx)
                .unwrap(),
            "2"
        );
        let outside = minijinja::Value::from(minijinja::value::Serde(json!({
            "taskrun": {"value": null}, "outputs": {"t": {}},
        })));
        assert!(
            r.render("{{ currentEachOutput(outputs.t) }}", &outside)
                .unwrap_err()
                .contains("only meaningful inside a ForEach")
        );
        assert!(needs_lookups("{{ errorLogs() }}"));
        for spaced in [
            "{{ secret ('K') }}",
            "{{ kv\n('k') }}",
            "{% set f = secret %}{{ f('K') }}",
        ] {
            assert!(needs_lookups(spaced), "{spaced}");
        }
        assert!(!needs_lookups("{{ inputs.user }}"));
    }

    #[test]
    fn render_renders_a_variable_holding_a_template_within_the_budget() {
        let r = Renderer::new(Arc::new(Fixed));
        let ctx = minijinja::Value::from(minijinja::value::Serde(json!({
            "inputs": {"date": "2026-01-01"},
            "vars": {
                "result": "done up to {{ inputs.date }}",
                "twice": "{{ '{{ inputs.date }}' }}",
                "itself": "{{ render(vars.itself) }}",
                "plain": "no template",
                "big": "{% for i in range(90000) %}{% endfor %}",
            },
        })));
        assert_eq!(
            r.render("{{ render(vars.result) }}", &ctx).unwrap(),
            "done up to 2026-01-01"
        );
        assert_eq!(
            r.render("{{ render(vars.plain) }}", &ctx).unwrap(),
            "no template"
        );
        // Recursive by default, as Pebble's render().
        assert_eq!(
            r.render("{{ render(vars.twice) }}", &ctx).unwrap(),
            "2026-01-01"
        );
        assert_eq!(
            r.render("{{ render(vars.twice, false) }}", &ctx).unwrap(),
            "{{ inputs.date }}"
        );
        assert_eq!(r.render("{{ render(42) }}", &ctx).unwrap(), "42");
        assert!(
            r.render("{{ render(vars.itself) }}", &ctx)
                .unwrap_err()
                .contains("nested more than"),
        );
        // Each inner render is charged to the outer one: twenty renders of
        // a loop that fits the budget once do not.
        assert!(r.render("{{ render(vars.big) }}", &ctx).is_ok());
        let err = r
            .render(
                "{% for i in range(20) %}{{ render(vars.big) }}{% endfor %}",
                &ctx,
            )
            .unwrap_err();
        assert!(err.contains("fuel"), "{err}");
    }

    #[test]
    fn variables_functions_and_errors() {
        let r = Renderer::new(Arc::new(Fixed));
        let ctx = minijinja::Value::from(minijinja::value::Serde(
            json!({"inputs": {"user": "ann", "n": 3}, "outputs": {"t": {"value": "x"}},
                   "flow": {"namespace": "a.b"}, "execution": {"id": "e1"}}),
        ));
        assert_eq!(
            r.render("Hello {{ inputs.user }} from {{ flow.namespace }}", &ctx)
                .unwrap(),
            "Hello ann from a.b"
        );
        assert_eq!(
            r.render("{{ outputs.t.value }}-{{ execution.id }}", &ctx)
                .unwrap(),
            "x-e1"
        );
        assert_eq!(r.render("{{ inputs.n > 1 }}", &ctx).unwrap(), "true");
        assert_eq!(r.render("{{ inputs.n < 1 }}", &ctx).unwrap(), "false");
        assert_eq!(
            r.render("{% for i in range(3) %}{{ i }}{% endfor %}", &ctx)
                .unwrap(),
            "012"
        );
        assert_eq!(r.render("{{ secret('TOKEN') }}", &ctx).unwrap(), "s3cr3t");
        assert_eq!(
            r.render("{{ kv('k').ns }}|{{ kv('k', 'o').ns }}", &ctx)
                .unwrap(),
            "|o",
            "null prints as nothing"
        );
        assert!(
            r.render("{{ secret('NOPE') }}", &ctx)
                .unwrap_err()
                .contains("secret NOPE not found")
        );
        assert!(
            r.render("{{ inputs.missing }}", &ctx)
                .unwrap_err()
                .contains("undefined")
        );
        assert!(r.render("{{ unclosed", &ctx).is_err());
        assert_eq!(
            r.render("plain {not a template}", &ctx).unwrap(),
            "plain {not a template}"
        );
        assert_eq!(
            r.render_value(&json!({"a": ["{{ inputs.user }}", 1]}), &ctx)
                .unwrap(),
            json!({"a": ["ann", 1]})
        );
        assert!(is_truthy("true") && is_truthy("yes") && !is_truthy(" False ") && !is_truthy("0"));
        assert!(!is_truthy("-0") && !is_truthy("0.0") && is_truthy("0.5"));
        let data = minijinja::Value::from(minijinja::value::Serde(
            json!({"m": {"value": "x", "n": [1, 2]}, "text": "{\"a\": 1}"}),
        ));
        assert_eq!(
            r.render("{{ m }}", &data).unwrap(),
            r#"{"n":[1,2],"value":"x"}"#,
            "maps print as JSON"
        );
        assert_eq!(
            r.render("{{ m.n }}|{{ m | json }}|{{ m.value | toJson }}", &data)
                .unwrap(),
            r#"[1,2]|{"n":[1,2],"value":"x"}|"x""#
        );
        assert_eq!(
            r.render("{{ fromJson(text).a }}{{ json(text).a }}", &data)
                .unwrap(),
            "11"
        );
        // Pebble's operators, as Kestra's flows write them.
        assert_eq!(
            r.render("{{ inputs.n == 3 ? 'ok' : ko }}", &ctx).unwrap(),
            "ok"
        );
        assert!(
            r.render("{{ inputs.n == 2 ? 'ok' : ko }}", &ctx).is_err(),
            "ko is undefined"
        );
        assert_eq!(
            r.render("{{ inputs.nothing ?? 'fallback' }}", &ctx)
                .unwrap(),
            "fallback"
        );
        assert_eq!(
            r.render("{{ inputs.nothing.deeper ?? 'fallback' }}", &ctx)
                .unwrap(),
            "fallback",
            "a missing parent falls back too"
        );
        assert_eq!(
            r.render("{{ inputs.user ?? 'fallback' }}", &ctx).unwrap(),
            "ann"
        );
        assert_eq!(
            r.render("{{ inputs.user equals 'ann' }}", &ctx).unwrap(),
            "true"
        );
        assert!(needs_lookups("{{ secret('A') }}") && !needs_lookups("secret('A')"));
    }
}
