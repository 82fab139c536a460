//! A task's `retry` policy as Kestra writes it (`constant`, `exponential`,
//! `random`), read once here for both the validator and the executor, so
//! what is accepted at creation is exactly what runs.
//!
//! A failed task is retried in place (`behavior: RETRY_FAILED_TASK`,
//! Kestra's default), or the execution ends RETRIED and a new one starts
//! (`CREATE_NEW_EXECUTION`).

use std::time::Duration;

use serde_json::Value;

use super::duration::parse_iso_duration;

/// The shortest wait between two attempts. A tenant's retry loop is
/// bookkeeping the whole instance pays for (a write per attempt), so a
/// zero-interval loop is refused rather than run hot.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// The most attempts one task run may make: each rewrites the task run,
/// whose history grows with every attempt.
pub const MAX_ATTEMPTS: u32 = 100;

/// When and how often a failed task is tried again.
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    pub backoff: Backoff,
    /// Attempts in all, the first included.
    pub max_attempt: Option<u32>,
    /// No attempt starts later than this after the first one started.
    pub max_duration: Option<Duration>,
    /// A task that needed more than one attempt ends WARNING.
    pub warning_on_retry: bool,
    /// `behavior: CREATE_NEW_EXECUTION`: a failure is not retried in place;
    /// the execution ends RETRIED and a new execution of the flow starts
    /// after the delay (attempts and duration count across executions).
    pub new_execution: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Backoff {
    Constant {
        interval: Duration,
    },
    /// `interval * delayFactor^(n-1)` before attempt n+1, at most `max_interval`.
    Exponential {
        interval: Duration,
        max_interval: Duration,
        factor: f64,
    },
    Random {
        min_interval: Duration,
        max_interval: Duration,
    },
}

const COMMON: &[&str] = &[
    "type",
    "maxAttempt",
    "maxAttempts",
    "maxDuration",
    "warningOnRetry",
    "behavior",
];

impl Retry {
    /// Reads a `retry` mapping; the error names the property at fault.
    pub fn parse(node: &Value) -> Result<Retry, String> {
        let Value::Object(map) = node else {
            return Err(
                "retry must be a mapping with a type: constant, exponential or random".into(),
            );
        };
        let kind = map
            .get("type")
            .and_then(Value::as_str)
            .ok_or("retry needs a type: constant, exponential or random")?;
        let own: &[&str] = match kind {
            "constant" => &["interval"],
            "exponential" => &["interval", "maxInterval", "delayFactor"],
            "random" => &["minInterval", "maxInterval"],
            other => {
                return Err(format!(
                    "unknown retry type '{other}'; use constant, exponential or random"
                ));
            }
        };
        for key in map.keys() {
            if !COMMON.contains(&key.as_str()) && !own.contains(&key.as_str()) {
                return Err(format!("unknown property '{key}' for a {kind} retry"));
            }
        }
        let new_execution = match map.get("behavior").map(|b| b.as_str()) {
            None | Some(Some("RETRY_FAILED_TASK")) => false,
            Some(Some("CREATE_NEW_EXECUTION")) => true,
            Some(_) => {
                return Err(
                    "retry behavior must be RETRY_FAILED_TASK or CREATE_NEW_EXECUTION".into(),
                );
            }
        };
        let duration = |key: &str| -> Result<Option<Duration>, String> {
            match map.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => parse_iso_duration(text).map(Some).ok_or_else(|| {
                    format!("retry {key} must be an ISO-8601 duration such as PT30S")
                }),
                Some(_) => Err(format!(
                    "retry {key} must be an ISO-8601 duration such as PT30S"
                )),
            }
        };
        let interval = |key: &str| -> Result<Duration, String> {
            let value = duration(key)?.ok_or_else(|| format!("a {kind} retry needs {key}"))?;
            if value < MIN_INTERVAL {
                return Err(format!("retry {key} must be at least PT0.1S"));
            }
            Ok(value)
        };
        let backoff = match kind {
            "constant" => Backoff::Constant {
                interval: interval("interval")?,
            },
            "exponential" => {
                let factor = match map.get("delayFactor") {
                    None | Some(Value::Null) => 2.0,
                    Some(value) => value
                        .as_f64()
                        .filter(|f| f.is_finite() && *f >= 1.0)
                        .ok_or("retry delayFactor must be a number, 1 or more")?,
                };
                let (interval, max_interval) = (interval("interval")?, interval("maxInterval")?);
                if interval >= max_interval {
                    return Err("retry interval must be less than maxInterval".into());
                }
                Backoff::Exponential {
                    interval,
                    max_interval,
                    factor,
                }
            }
            _ => {
                let (min_interval, max_interval) =
                    (interval("minInterval")?, interval("maxInterval")?);
                if min_interval >= max_interval {
                    return Err("retry minInterval must be less than maxInterval".into());
                }
                Backoff::Random {
                    min_interval,
                    max_interval,
                }
            }
        };
        // Kestra has written both spellings.
        if map.contains_key("maxAttempt") && map.contains_key("maxAttempts") {
            return Err("retry takes maxAttempt or maxAttempts, not both".into());
        }
        let max_attempt = match map.get("maxAttempt").or_else(|| map.get("maxAttempts")) {
            None | Some(Value::Null) => None,
            Some(value) => Some(
                value
                    .as_u64()
                    .filter(|n| (1..=u64::from(MAX_ATTEMPTS)).contains(n))
                    .ok_or_else(|| {
                        format!("retry maxAttempt must be a whole number from 1 to {MAX_ATTEMPTS}")
                    })? as u32,
            ),
        };
        let max_duration = duration("maxDuration")?;
        if max_attempt.is_none() && max_duration.is_none() {
            return Err(
                "retry needs maxAttempt or maxDuration: Aerie does not retry without end".into(),
            );
        }
        let warning_on_retry = match map.get("warningOnRetry") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err("retry warningOnRetry must be true or false".into()),
        };
        Ok(Retry {
            backoff,
            max_attempt,
            max_duration,
            warning_on_retry,
            new_execution,
        })
    }

    /// The wait before the next attempt, after `attempts` attempts have
    /// failed and `since_first` has passed since the first one started;
    /// `None` when the policy is spent (as Kestra: no attempt would start
    /// past `maxDuration`).
    pub fn next_delay(&self, attempts: u32, since_first: Duration) -> Option<Duration> {
        let cap = self.max_attempt.unwrap_or(MAX_ATTEMPTS).min(MAX_ATTEMPTS);
        if attempts >= cap {
            return None;
        }
        let delay = match &self.backoff {
            Backoff::Constant { interval } => *interval,
            Backoff::Exponential {
                interval,
                max_interval,
                factor,
            } => {
                let power = factor.powi(attempts.saturating_sub(1).min(64) as i32);
                Duration::try_from_secs_f64(interval.as_secs_f64() * power)
                    .unwrap_or(*max_interval)
                    .min(*max_interval)
            }
            Backoff::Random {
                min_interval,
                max_interval,
            } => {
                let spread = (*max_interval - *min_interval).as_millis() as u64;
                *min_interval + Duration::from_millis(rand::random_range(0..=spread))
            }
        };
        match self.max_duration {
            Some(limit) if since_first + delay > limit => None,
            _ => Some(delay),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn retry(value: Value) -> Retry {
        Retry::parse(&value).unwrap()
    }

    #[test]
    fn max_attempt_counts_every_attempt_and_max_duration_stops_late_ones() {
        let policy = retry(json!({"type": "constant", "interval": "PT1S", "maxAttempt": 4}));
        let waits: Vec<_> = (1..=5)
            .map(|n| policy.next_delay(n, Duration::ZERO))
            .collect();
        let second = Some(Duration::from_secs(1));
        assert_eq!(waits, [second, second, second, None, None]);

        // Kestra's retry-failed-task-duration: PT6S at PT2S makes 3 attempts.
        let policy = retry(json!({"type": "constant", "interval": "PT2S", "maxDuration": "PT6S"}));
        let at = |secs: f64| Duration::from_secs_f64(secs);
        assert!(policy.next_delay(1, at(0.05)).is_some());
        assert!(policy.next_delay(2, at(2.1)).is_some());
        assert_eq!(policy.next_delay(3, at(4.15)), None);
    }

    #[test]
    fn exponential_grows_to_its_cap_and_random_stays_in_range() {
        let policy = retry(json!({"type": "exponential", "interval": "PT1S",
            "maxInterval": "PT5S", "maxAttempt": 10}));
        let waits: Vec<_> = (1..=5)
            .map(|n| policy.next_delay(n, Duration::ZERO).unwrap().as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
        let policy = retry(json!({"type": "random", "minInterval": "PT0.2S",
            "maxInterval": "PT0.4S", "maxAttempt": 3}));
        for _ in 0..50 {
            let wait = policy.next_delay(1, Duration::ZERO).unwrap();
            assert!((200..=400).contains(&wait.as_millis()), "{wait:?}");
        }
    }

    #[test]
    fn what_cannot_be_applied_is_refused_with_its_name() {
        let refused = |value: Value| Retry::parse(&value).unwrap_err();
        assert!(
            refused(json!({"type": "constant", "interval": "PT1S"}))
                .contains("maxAttempt or maxDuration")
        );
        assert!(
            refused(json!({"type": "constant", "interval": "PT0S", "maxAttempt": 2}))
                .contains("at least PT0.1S")
        );
        assert!(
            refused(
                json!({"type": "constant", "interval": "PT1S", "maxAttempts": 2, "maxAttempt": 2})
            )
            .contains("not both")
        );
        assert_eq!(
            retry(json!({"type": "constant", "interval": "PT1S", "maxAttempts": 2})).max_attempt,
            Some(2)
        );
        assert!(
            retry(
                json!({"type": "constant", "interval": "PT1S", "maxAttempt": 2,
            "behavior": "CREATE_NEW_EXECUTION"})
            )
            .new_execution
        );
        assert!(
            refused(json!({"type": "constant", "interval": "PT1S", "behavior": "AGAIN"}))
                .contains("RETRY_FAILED_TASK or CREATE_NEW_EXECUTION")
        );
        assert!(refused(json!({"type": "linear"})).contains("unknown retry type"));
        assert!(
            refused(
                json!({"type": "exponential", "interval": "PT5S", "maxInterval": "PT1S",
            "maxAttempt": 2})
            )
            .contains("less than maxInterval")
        );
        assert!(
            refused(json!({"type": "constant", "interval": "PT1S", "maxAttempt": 0}))
                .contains("from 1")
        );
    }
}
