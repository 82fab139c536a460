//! A flow's YAML as a tree whose every node knows its line and column, so
//! that findings can say where. Parsed with serde-saphyr: pure safe Rust,
//! with its default budgets against alias bombs and deep nesting, and
//! duplicate keys refused (flow YAML is untrusted tenant input).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A value and where it starts (1-based; 0 when unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    pub value: T,
    pub line: u32,
    pub column: u32,
}

/// Where a node starts, as a finding reports it.
pub fn at<T>(node: &Located<T>) -> (u32, u32) {
    (node.line, node.column)
}

/// The path of `key` inside `path` (`tasks[0]` and `id`: `tasks[0].id`).
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// One YAML node.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Located<Node>>),
    Map(Vec<(Located<String>, Located<Node>)>),
}

/// A problem in a flow: where (a path like `tasks[1].type`, and the line and
/// column when known) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "flow"
        } else {
            &self.path
        };
        if self.line > 0 {
            write!(
                f,
                "{path} (line {}, column {}): {}",
                self.line, self.column, self.message
            )
        } else {
            write!(f, "{path}: {}", self.message)
        }
    }
}

impl Node {
    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Located<Node>> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| k.value == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(text) => Some(text),
            _ => None,
        }
    }

    /// A scalar's text where Kestra expects a string (`id: 1` is "1").
    pub fn text(&self) -> Option<String> {
        match self {
            Node::Str(text) => Some(text.clone()),
            Node::Int(n) => Some(n.to_string()),
            // As JSON prints it (`1.0`), like the executor's reading.
            Node::Float(x) => Some(serde_json::Number::from_f64(*x)?.to_string()),
            Node::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// What kind of node this is, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Int(_) => "an integer",
            Node::Float(_) => "a number",
            Node::Str(_) => "a string",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a mapping",
        }
    }

    /// The node as JSON (for stored trigger definitions and KV values).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Int(i) => Value::from(*i),
            Node::Float(x) => serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number),
            Node::Str(s) => Value::String(s.clone()),
            Node::Seq(items) => Value::Array(items.iter().map(|i| i.value.to_json()).collect()),
            Node::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.value.clone(), v.value.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Parses YAML text into a located tree; a syntax error is one finding.
pub fn parse(source: &str) -> Result<Located<Node>, Finding> {
    match serde_saphyr::from_str_with_options::<Spanned<RawNode>>(source, super::yaml_options()) {
        Ok(root) => Ok(located(root)),
        Err(err) => {
            let (line, column) = err
                .location()
                .map_or((0, 0), |l| (clamp(l.line()), clamp(l.column())));
            let text = err.without_snippet().to_string();
            // The parser prefixes "error: line L column C: "; the finding
            // carries the location in its own fields.
            let message = text
                .trim_start_matches("error: ")
                .split_once(": ")
                .filter(|(head, _)| head.starts_with("line "))
                .map_or(text.as_str(), |(_, rest)| rest)
                .lines()
                .next()
                .unwrap_or("invalid YAML")
                .to_owned();
            // The parser's advice names its own functions; ours names routes.
            let message = if message.contains("multiple YAML documents") {
                "several documents (separated by ---) where one flow is expected; \
                 POST /flows/{namespace} or /flows/import take several"
                    .to_owned()
            } else {
                message
            };
            Err(Finding {
                path: String::new(),
                line,
                column,
                message: format!("invalid YAML: {message}"),
            })
        }
    }
}

fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn located(spanned: Spanned<RawNode>) -> Located<Node> {
    let value = match spanned.value {
        RawNode::Null => Node::Null,
        RawNode::Bool(b) => Node::Bool(b),
        RawNode::Int(i) => Node::Int(i),
        RawNode::Float(x) => Node::Float(x),
        RawNode::Str(s) => Node::Str(s),
        RawNode::Seq(items) => Node::Seq(items.into_iter().map(located).collect()),
        RawNode::Map(entries) => Node::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let key = Located {
                        line: clamp(k.referenced.line()),
                        column: clamp(k.referenced.column()),
                        value: k.value,
                    };
                    (key, located(v))
                })
                .collect(),
        ),
    };
    Located {
        value,
        line: clamp(spanned.referenced.line()),
        column: clamp(spanned.referenced.column()),
    }
}

/// The tree as the parser hands it over, with serde-saphyr's spans.
enum RawNode {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<RawNode>>),
    Map(Vec<(Spanned<String>, Spanned<RawNode>)>),
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawNodeVisitor)
    }
}

struct RawNodeVisitor;

impl<'de> Visitor<'de> for RawNodeVisitor {
    type Value = RawNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_unit<E>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }

    fn visit_none<E>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawNode, D::Error> {
        RawNode::deserialize(d)
    }

    fn visit_bool<E>(self, v: bool) -> Result<RawNode, E> {
        Ok(RawNode::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<RawNode, E> {
        Ok(RawNode::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawNode, E> {
        // Beyond i64: keep the digits rather than lose precision.
        Ok(i64::try_from(v).map_or_else(|_| RawNode::Str(v.to_string()), RawNode::Int))
    }

    fn visit_f64<E>(self, v: f64) -> Result<RawNode, E> {
        Ok(RawNode::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<RawNode, E> {
        Ok(RawNode::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<RawNode, E> {
        Ok(RawNode::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawNode, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<RawNode>>()? {
            items.push(item);
        }
        Ok(RawNode::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawNode, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<RawNode>>()?;
            entries.push((key, value));
        }
        Ok(RawNode::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_know_where_they_are() {
        let root = parse("id: hello\ntasks:\n  - id: a\n    n: 5\n").expect("valid");
        let tasks = root.value.get("tasks").expect("tasks");
        let Node::Seq(items) = &tasks.value else {
            panic!("tasks is a list")
        };
        let n = items[0].value.get("n").expect("n");
        assert_eq!((n.value.clone(), n.line, n.column), (Node::Int(5), 4, 8));
        assert_eq!(root.value.to_json()["tasks"][0]["id"], "a");
    }

    #[test]
    fn syntax_errors_and_duplicate_keys_say_where() {
        let err = parse("id: [a\nfoo: }\n").expect_err("invalid");
        assert_eq!(err.line, 2);
        assert!(err.message.starts_with("invalid YAML"), "{err}");
        let err = parse("id: a\n---\nid: b\n").unwrap_err();
        assert!(
            err.message.contains("/flows/import") && !err.message.contains("from_str"),
            "{err}"
        );
        let err = parse("id: a\nid: b\n").expect_err("duplicate");
        assert_eq!((err.line, err.column), (2, 1));
        assert!(err.message.contains("duplicate"), "{err}");
    }
}
