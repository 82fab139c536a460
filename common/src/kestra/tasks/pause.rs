//! Pause: stops the execution until it is resumed, or for `delay`.
//! `timeout` (a common property) is how long the pause may last before
//! the task fails. `onResume` declares the inputs a resume gives; they
//! become the task's `onResume` output.

use serde_json::{Map, Value};

use super::{Checks, TaskKind, TaskType, task_types, text};
use crate::kestra::document::{Located, Node, at, join};
use crate::kestra::inputs::{InputDef, MAX_INPUTS, Problem};

pub const TYPE: TaskType = TaskType {
    name: task_types::PAUSE,
    kind: TaskKind::Pause,
    required: &[],
    optional: &["delay", "onResume", "tasks", "errors"],
    child_lists: &["tasks", "errors"],
    check,
};

fn check(task: &Located<Node>, path: &str, checks: &mut dyn Checks) {
    checks.duration(task, path, "delay");
    let Some(node) = task.value.get("onResume") else {
        return;
    };
    let path = join(path, "onResume");
    let Node::Seq(items) = &node.value else {
        let problem = "onResume must be a list of inputs".to_owned();
        checks.report(&path, at(node), problem);
        return;
    };
    if items.len() > MAX_INPUTS {
        let problem = format!("onResume declares at most {MAX_INPUTS} inputs");
        checks.report(&path, at(node), problem);
        return;
    }
    let mut seen = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("{path}[{i}]");
        let problem = match on_resume_input(&item.value.to_json()) {
            Ok(declared) if seen.contains(&declared.id) => Problem {
                property: "id",
                message: format!("input id '{}' is declared twice", declared.id),
            },
            Ok(declared) => {
                seen.push(declared.id);
                continue;
            }
            Err(problem) => problem,
        };
        let place = item.value.get(problem.property).unwrap_or(item);
        let full = match problem.property {
            "" => path,
            property => join(&path, property),
        };
        checks.report(&full, at(place), problem.message);
    }
}

/// One `onResume` entry, read by the code that reads a flow's inputs.
fn on_resume_input(declared: &Value) -> Result<InputDef, Problem> {
    let input = InputDef::parse(declared)?;
    if input.kind == "SECRET" {
        // A resume's values become plain outputs: a secret would show.
        return Err(Problem {
            property: "type",
            message: "a SECRET input is not supported in onResume: its value would be stored as a plain output".into(),
        });
    }
    Ok(input)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pause {
    /// A template giving an ISO-8601 duration: the execution resumes by
    /// itself after it.
    pub delay: Option<String>,
    /// The `onResume` declarations as written (read with
    /// [`Pause::on_resume`]).
    on_resume: Vec<Value>,
}

impl Pause {
    pub(super) fn read(props: &Map<String, Value>) -> Pause {
        Pause {
            delay: text(props, "delay"),
            on_resume: match props.get("onResume") {
                Some(Value::Array(items)) => items.clone(),
                _ => Vec::new(),
            },
        }
    }

    /// Whether a resume gives this task inputs.
    pub fn takes_inputs(&self) -> bool {
        !self.on_resume.is_empty()
    }

    /// The inputs a resume gives, checked as when the flow was saved.
    pub fn on_resume(&self) -> Result<Vec<InputDef>, Problem> {
        self.on_resume.iter().map(on_resume_input).collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn on_resume_declares_checked_inputs_and_refuses_secrets() {
        let props = json!({"onResume": [{"id": "asked", "type": "STRING"},
                                        {"id": "n", "type": "INT", "min": 1, "required": false}]});
        let pause = Pause::read(props.as_object().expect("map"));
        assert!(pause.takes_inputs());
        let declared = pause.on_resume().expect("valid");
        assert_eq!(declared.len(), 2);
        assert_eq!(
            declared[1].check(json!("0")),
            Err("it must be more than `1`".into())
        );

        let secret = json!({"onResume": [{"id": "pw", "type": "SECRET"}]});
        let problem = Pause::read(secret.as_object().expect("map"))
            .on_resume()
            .expect_err("refused");
        assert_eq!(problem.property, "type");
        assert!(problem.message.contains("SECRET"), "{}", problem.message);

        let none = Pause::read(&Map::new());
        assert!(!none.takes_inputs());
        assert!(none.on_resume().expect("nothing").is_empty());
    }
}
