//! What the wire types mean in the terms REST and storage use: JSON values
//! as `google.protobuf.Struct`, and enum values by their short names
//! (`EXECUTION_STATE_SUCCESS` is `SUCCESS` everywhere but gRPC).

use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Value};
use serde_json::Value as Json;

/// A JSON object as a Struct; `None` for anything that is not an object
/// (Struct holds objects only).
pub fn to_struct(json: Json) -> Option<Struct> {
    match json {
        Json::Object(map) => Some(Struct {
            fields: map.into_iter().map(|(k, v)| (k, to_value(v))).collect(),
        }),
        _ => None,
    }
}

/// A JSON object given as text, as a Struct; `None` when the text is empty
/// or not an object.
pub fn struct_from_text(text: &str) -> Option<Struct> {
    serde_json::from_str(text).ok().and_then(to_struct)
}

/// A Struct as a JSON object (an absent one is `null`).
pub fn from_struct(value: Option<Struct>) -> Json {
    match value {
        Some(s) => Json::Object(
            s.fields
                .into_iter()
                .map(|(k, v)| (k, from_value(v)))
                .collect(),
        ),
        None => Json::Null,
    }
}

pub fn to_value(json: Json) -> Value {
    let kind = match json {
        Json::Null => Kind::NullValue(0),
        Json::Bool(b) => Kind::BoolValue(b),
        Json::Number(n) => number_kind(&n),
        Json::String(s) => Kind::StringValue(s),
        Json::Array(items) => Kind::ListValue(ListValue {
            values: items.into_iter().map(to_value).collect(),
        }),
        Json::Object(map) => Kind::StructValue(Struct {
            fields: map.into_iter().map(|(k, v)| (k, to_value(v))).collect(),
        }),
    };
    Value { kind: Some(kind) }
}

/// Struct numbers are doubles. An integer a double cannot hold exactly
/// (beyond 2^53, such as a 64-bit id) travels as its decimal text instead,
/// as protobuf's JSON mapping carries 64-bit integers, so that no digit is
/// lost on the way to a gRPC client or to REST.
fn number_kind(n: &serde_json::Number) -> Kind {
    let exact = match (n.as_i64(), n.as_u64()) {
        (Some(i), _) => i.unsigned_abs() <= EXACT_INTEGER as u64,
        (None, Some(u)) => u <= EXACT_INTEGER as u64,
        (None, None) => true,
    };
    match n.as_f64() {
        Some(f) if exact => Kind::NumberValue(f),
        _ => Kind::StringValue(n.to_string()),
    }
}

/// 2^53: every integer up to it is exact as a double.
const EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// A Struct value as JSON. A whole number within the exact range of a
/// double comes back as an integer, so `3` stays `3` rather than `3.0`;
/// NaN and infinities, which JSON cannot hold, become null.
pub fn from_value(value: Value) -> Json {
    match value.kind {
        None | Some(Kind::NullValue(_)) => Json::Null,
        Some(Kind::BoolValue(b)) => Json::Bool(b),
        Some(Kind::NumberValue(n)) => number(n),
        Some(Kind::StringValue(s)) => Json::String(s),
        Some(Kind::ListValue(list)) => {
            Json::Array(list.values.into_iter().map(from_value).collect())
        }
        Some(Kind::StructValue(s)) => from_struct(Some(s)),
    }
}

fn number(n: f64) -> Json {
    if n.fract() == 0.0 && n.abs() <= EXACT_INTEGER {
        Json::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number)
    }
}

/// Short names for the enums REST shows as words: `short_name()` drops
/// the enum's prefix, `from_short_name()` reads it back (`None` for an
/// unknown word and for UNSPECIFIED).
macro_rules! short_names {
    ($($ty:ty => $prefix:literal),* $(,)?) => {$(
        impl $ty {
            pub fn short_name(self) -> &'static str {
                let full = self.as_str_name();
                full.strip_prefix($prefix).unwrap_or(full)
            }

            pub fn from_short_name(name: &str) -> Option<Self> {
                if name.is_empty() || name.eq_ignore_ascii_case("UNSPECIFIED") {
                    return None;
                }
                Self::from_str_name(&format!("{}{name}", $prefix))
            }
        }
    )*};
}

short_names! {
    crate::execution::v1::ExecutionState => "EXECUTION_STATE_",
    crate::execution::v1::LogLevel => "LOG_LEVEL_",
    crate::auth::v1::Permission => "PERMISSION_",
    crate::auth::v1::Action => "ACTION_",
    crate::auth::v1::BindingType => "BINDING_TYPE_",
    crate::auth::v1::SyncOutcome => "SYNC_OUTCOME_",
    crate::changes::internal::v1::PrincipalKind => "PRINCIPAL_KIND_",
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::execution::v1::ExecutionState;

    #[test]
    fn json_objects_survive_the_struct_round_trip() {
        let value = json!({
            "n": 3, "neg": -7, "f": 1.5, "s": "x", "b": true, "null": null,
            "list": [1, "two", [3.25], {"k": false}], "big": 9007199254740992_i64,
        });
        assert_eq!(from_struct(to_struct(value.clone())), value);
        assert_eq!(from_struct(struct_from_text(&value.to_string())), value);
    }

    #[test]
    fn integers_a_double_cannot_hold_travel_as_their_digits() {
        for big in [
            json!(9007199254740993_u64),
            json!(-9007199254740993_i64),
            json!(u64::MAX),
            json!(i64::MIN),
        ] {
            let sent = to_value(big.clone());
            assert_eq!(sent.kind, Some(Kind::StringValue(big.to_string())));
            assert_eq!(from_value(sent), Json::String(big.to_string()));
        }
        for exact in [
            json!(9007199254740992_u64),
            json!(-9007199254740992_i64),
            json!(0.1),
        ] {
            assert_eq!(from_value(to_value(exact.clone())), exact);
        }
    }

    #[test]
    fn what_a_struct_cannot_hold_is_said_plainly() {
        assert_eq!(to_struct(json!([1, 2])), None);
        assert_eq!(struct_from_text(""), None);
        assert_eq!(struct_from_text("not json"), None);
        assert_eq!(from_struct(None), Json::Null);
        assert_eq!(from_value(to_value(json!(f64::MAX))), json!(f64::MAX));
        let nan = Value {
            kind: Some(Kind::NumberValue(f64::NAN)),
        };
        assert_eq!(from_value(nan), Json::Null);
    }

    #[test]
    fn short_names_drop_the_enum_prefix_and_read_back() {
        assert_eq!(ExecutionState::Success.short_name(), "SUCCESS");
        assert_eq!(
            ExecutionState::from_short_name("KILLED"),
            Some(ExecutionState::Killed)
        );
        assert_eq!(ExecutionState::from_short_name("UNSPECIFIED"), None);
        assert_eq!(ExecutionState::from_short_name(""), None);
        assert_eq!(
            ExecutionState::from_short_name("EXECUTION_STATE_KILLED"),
            None
        );
        assert_eq!(
            crate::auth::v1::BindingType::from_short_name("SERVICE_ACCOUNT"),
            Some(crate::auth::v1::BindingType::ServiceAccount)
        );
    }
}
