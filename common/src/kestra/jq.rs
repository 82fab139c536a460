//! The part of jq that Kestra's `jq` filter is used for: paths into JSON
//! (`.key`, `.a.b`, `."k"`, `.["k"]`, `.[0]`, `.[-1]`, `.[]`, with `?`)
//! joined by pipes, and the builtins `length`, `keys`, `first` and `last`.
//! A program beyond it is refused by name where it is written (an
//! expression checked when the flow is saved), never half run. Every
//! program here runs in time linear in its input: tenant templates may
//! not loop.

use serde_json::Value;

/// A jq program, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    stages: Vec<Vec<Step>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// `.key`, `."key"`, `.["key"]`; `optional` for a trailing `?`.
    Field {
        name: String,
        optional: bool,
    },
    /// `.[n]`, negative from the end.
    Index {
        at: i64,
        optional: bool,
    },
    /// `.[]`: each element of an array or value of an object.
    Each {
        optional: bool,
    },
    Length,
    Keys,
    First,
    Last,
}

impl Program {
    /// Parses `text`; the error says what is outside the part Aerie runs.
    pub fn parse(text: &str) -> Result<Program, String> {
        let stages = pipe_stages(text)
            .into_iter()
            .map(|stage| stage_of(stage.trim(), text))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Program { stages })
    }

    /// The values the program outputs for `input`, as jq streams them.
    pub fn run(&self, input: &Value) -> Result<Vec<Value>, String> {
        let mut values = vec![input.clone()];
        for stage in &self.stages {
            for step in stage {
                let mut next = Vec::with_capacity(values.len());
                for value in values {
                    step.apply(value, &mut next)?;
                }
                values = next;
            }
        }
        Ok(values)
    }
}

/// `text` cut at each `|` outside a quoted key.
fn pipe_stages(text: &str) -> Vec<&str> {
    let mut stages = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '|' if !quoted => {
                stages.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    stages.push(&text[start..]);
    stages
}

fn unsupported(program: &str, part: &str) -> String {
    format!(
        "jq '{program}': '{part}' is not supported; Aerie's jq takes paths (.key, .a.b, .[0], .[], with ?) joined by |, and length, keys, first, last"
    )
}

fn stage_of(stage: &str, program: &str) -> Result<Vec<Step>, String> {
    match stage {
        "." => return Ok(Vec::new()),
        "length" => return Ok(vec![Step::Length]),
        "keys" => return Ok(vec![Step::Keys]),
        "first" => return Ok(vec![Step::First]),
        "last" => return Ok(vec![Step::Last]),
        "" => return Err(format!("jq '{program}': an empty stage between pipes")),
        _ => {}
    }
    if !stage.starts_with('.') {
        return Err(unsupported(program, stage));
    }
    let chars: Vec<char> = stage.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let step = match chars[i] {
            '.' if chars.get(i + 1) == Some(&'[') => {
                i += 1;
                continue;
            }
            '.' if chars.get(i + 1) == Some(&'"') => {
                let (name, end) =
                    quoted(&chars, i + 1).ok_or_else(|| unsupported(program, stage))?;
                i = end;
                Step::Field {
                    name,
                    optional: false,
                }
            }
            '.' => {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && (chars[end].is_alphanumeric() || chars[end] == '_') {
                    end += 1;
                }
                if end == start || chars[start].is_ascii_digit() {
                    return Err(unsupported(program, stage));
                }
                i = end;
                Step::Field {
                    name: chars[start..end].iter().collect(),
                    optional: false,
                }
            }
            '[' => {
                let close = match chars.get(i + 1) {
                    Some('"') => quoted(&chars, i + 1)
                        .map(|(_, end)| end)
                        .filter(|end| chars.get(*end) == Some(&']')),
                    _ => chars[i..].iter().position(|c| *c == ']').map(|p| p + i),
                }
                .ok_or_else(|| unsupported(program, stage))?;
                let inside: String = chars[i + 1..close].iter().collect();
                let inside = inside.trim();
                let step = if inside.is_empty() {
                    Step::Each { optional: false }
                } else if inside.starts_with('"') {
                    let inner: Vec<char> = inside.chars().collect();
                    match quoted(&inner, 0) {
                        Some((name, end)) if end == inner.len() => Step::Field {
                            name,
                            optional: false,
                        },
                        _ => return Err(unsupported(program, stage)),
                    }
                } else {
                    Step::Index {
                        at: inside.parse().map_err(|_| unsupported(program, inside))?,
                        optional: false,
                    }
                };
                i = close + 1;
                step
            }
            _ => return Err(unsupported(program, stage)),
        };
        steps.push(step);
        if chars.get(i) == Some(&'?') {
            i += 1;
            match steps.last_mut() {
                Some(
                    Step::Field { optional, .. }
                    | Step::Index { optional, .. }
                    | Step::Each { optional },
                ) => *optional = true,
                _ => unreachable!("a path step was just pushed"),
            }
        }
    }
    Ok(steps)
}

/// The string quoted at `chars[at]` (a `"`), with `\"` and `\\`; and the
/// index past its closing quote.
fn quoted(chars: &[char], at: usize) -> Option<(String, usize)> {
    let mut text = String::new();
    let mut i = at + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                text.push(*chars.get(i + 1)?);
                i += 2;
            }
            '"' => return Some((text, i + 1)),
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    None
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl Step {
    fn apply(&self, value: Value, out: &mut Vec<Value>) -> Result<(), String> {
        match self {
            Step::Field { name, optional } => match value {
                Value::Object(mut map) => out.push(map.remove(name).unwrap_or(Value::Null)),
                Value::Null => out.push(Value::Null),
                _ if *optional => {}
                other => {
                    return Err(format!("Cannot index {} with \"{name}\"", kind(&other)));
                }
            },
            Step::Index { at, optional } => match value {
                Value::Array(mut items) => {
                    let len = items.len() as i64;
                    let index = if *at < 0 { len + at } else { *at };
                    out.push(if (0..len).contains(&index) {
                        items.swap_remove(index as usize)
                    } else {
                        Value::Null
                    });
                }
                Value::Null => out.push(Value::Null),
                _ if *optional => {}
                other => return Err(format!("Cannot index {} with number", kind(&other))),
            },
            Step::Each { optional } => match value {
                Value::Array(items) => out.extend(items),
                Value::Object(map) => out.extend(map.into_iter().map(|(_, v)| v)),
                _ if *optional => {}
                other => return Err(format!("Cannot iterate over {}", kind(&other))),
            },
            Step::Length => out.push(match &value {
                Value::Null => Value::from(0),
                Value::Bool(_) => return Err("boolean has no length".into()),
                Value::Number(n) => Value::from(n.as_f64().unwrap_or(0.0).abs()),
                Value::String(s) => Value::from(s.chars().count()),
                Value::Array(items) => Value::from(items.len()),
                Value::Object(map) => Value::from(map.len()),
            }),
            Step::Keys => match value {
                Value::Object(map) => {
                    let mut keys: Vec<String> = map.into_iter().map(|(k, _)| k).collect();
                    keys.sort();
                    out.push(Value::from(keys));
                }
                Value::Array(items) => out.push(Value::from((0..items.len()).collect::<Vec<_>>())),
                other => return Err(format!("{} has no keys", kind(&other))),
            },
            Step::First | Step::Last => match value {
                Value::Array(mut items) => out.push(match self {
                    Step::First if !items.is_empty() => items.swap_remove(0),
                    Step::Last => items.pop().unwrap_or(Value::Null),
                    _ => Value::Null,
                }),
                Value::Null => out.push(Value::Null),
                other => return Err(format!("Cannot index {} with number", kind(&other))),
            },
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn jq(program: &str, input: Value) -> Result<Vec<Value>, String> {
        Program::parse(program)?.run(&input)
    }

    #[test]
    fn paths_pipes_and_builtins_stream_as_jq_does() {
        let input = json!({"key": "my-complex", "value": {"sub": 1, "a b": [1, 2, 3]},
                           "items": [{"id": "x"}, {"id": "y"}]});
        assert_eq!(jq(".key", input.clone()), Ok(vec![json!("my-complex")]));
        assert_eq!(jq(".value.sub", input.clone()), Ok(vec![json!(1)]));
        assert_eq!(jq(".value[\"a b\"][-1]", input.clone()), Ok(vec![json!(3)]));
        // A quoted key may hold | and ].
        let odd = json!({"a|b": {"c]": 7}});
        assert_eq!(jq(".\"a|b\" | .[\"c]\"]", odd), Ok(vec![json!(7)]));
        assert_eq!(
            jq(".value.\"a b\" | length", input.clone()),
            Ok(vec![json!(3)])
        );
        assert_eq!(
            jq(".items[].id", input.clone()),
            Ok(vec![json!("x"), json!("y")])
        );
        assert_eq!(jq(".items | .[] | .id", input.clone()).unwrap().len(), 2);
        assert_eq!(
            jq(".items | first | .id", input.clone()),
            Ok(vec![json!("x")])
        );
        assert_eq!(
            jq(".items | last", input.clone()),
            Ok(vec![json!({"id": "y"})])
        );
        assert_eq!(
            jq(".value | keys", input.clone()),
            Ok(vec![json!(["a b", "sub"])])
        );
        assert_eq!(jq(".missing.deeper", input.clone()), Ok(vec![json!(null)]));
        assert_eq!(jq(".", json!(5)), Ok(vec![json!(5)]));
        assert_eq!(jq(".items[9]", input.clone()), Ok(vec![json!(null)]));
        // Errors as jq words them; `?` silences them.
        assert_eq!(
            jq(".key.sub", input.clone()),
            Err("Cannot index string with \"sub\"".into())
        );
        assert_eq!(jq(".key.sub?", input.clone()), Ok(vec![]));
        assert_eq!(jq(".key[]?", input), Ok(vec![]));
    }

    #[test]
    fn what_is_beyond_paths_is_refused_by_name() {
        for program in [
            "map(.id)",
            ".[] | select(.x)",
            ".a + 1",
            ".a, .b",
            "..",
            ".[1:2]",
            "[.a]",
            "{a: .b}",
            "",
            ".a |",
        ] {
            let err = Program::parse(program).expect_err(program);
            assert!(
                err.starts_with(&format!("jq '{program}'")),
                "{program}: {err}"
            );
        }
    }
}
