//! A flow's `concurrency` as Kestra writes it: at most `limit` executions
//! of the flow run at once; past it a new one waits its turn (`QUEUE`, the
//! default), or ends at once `CANCELLED` or `FAILED`.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concurrency {
    pub limit: u32,
    pub behavior: Behavior,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    Queue,
    Cancel,
    Fail,
}

/// The largest limit: beyond it a limit bounds nothing the tenant's own
/// running quota does not.
pub const MAX_LIMIT: u32 = 10_000;

impl Concurrency {
    /// Reads a `concurrency` mapping; the error names the property at fault.
    pub fn parse(node: &Value) -> Result<Concurrency, String> {
        let Value::Object(map) = node else {
            return Err("concurrency must be a mapping with a limit".into());
        };
        if let Some(key) = map
            .keys()
            .find(|k| !["limit", "behavior"].contains(&k.as_str()))
        {
            return Err(format!("unknown property '{key}' for concurrency"));
        }
        let limit = map
            .get("limit")
            .and_then(Value::as_u64)
            .filter(|n| (1..=u64::from(MAX_LIMIT)).contains(n))
            .ok_or_else(|| {
                format!("concurrency needs a limit: a whole number from 1 to {MAX_LIMIT}")
            })? as u32;
        let behavior = match map.get("behavior").map(Value::as_str) {
            None | Some(Some("QUEUE")) => Behavior::Queue,
            Some(Some("CANCEL")) => Behavior::Cancel,
            Some(Some("FAIL")) => Behavior::Fail,
            Some(_) => return Err("concurrency behavior must be QUEUE, CANCEL or FAIL".into()),
        };
        Ok(Concurrency { limit, behavior })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn limits_and_behaviors_read_as_kestra_writes_them() {
        assert_eq!(
            Concurrency::parse(&json!({"limit": 2})),
            Ok(Concurrency {
                limit: 2,
                behavior: Behavior::Queue
            })
        );
        assert_eq!(
            Concurrency::parse(&json!({"limit": 1, "behavior": "CANCEL"})).map(|c| c.behavior),
            Ok(Behavior::Cancel)
        );
        for (bad, words) in [
            (json!({"limit": 0}), "limit"),
            (json!({}), "limit"),
            (
                json!({"limit": 1, "behavior": "DROP"}),
                "QUEUE, CANCEL or FAIL",
            ),
            (json!({"limit": 1, "max": 2}), "unknown property 'max'"),
        ] {
            let problem = Concurrency::parse(&bad).unwrap_err();
            assert!(problem.contains(words), "{problem}");
        }
    }
}
