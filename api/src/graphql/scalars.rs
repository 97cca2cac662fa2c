//! Custom scalars: each with a real description and the specification it follows
//! (`@specifiedBy`), so generated clients can map them.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{NaiveDate, Utc};

/// A calendar date, ISO 8601 (`YYYY-MM-DD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

/// A calendar date, ISO 8601 (`YYYY-MM-DD`), the `full-date` of RFC 3339.
#[Scalar(
    name = "Date",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
)]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| InputValueError::custom("expected a date as YYYY-MM-DD")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

/// An instant: the GraphQL scalar `DateTime`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub chrono::DateTime<Utc>);

impl From<chrono::DateTime<Utc>> for Timestamp {
    fn from(instant: chrono::DateTime<Utc>) -> Self {
        Self(instant)
    }
}

impl From<Timestamp> for chrono::DateTime<Utc> {
    fn from(instant: Timestamp) -> Self {
        instant.0
    }
}

/// An instant, RFC 3339 `date-time` with a time zone offset (e.g.
/// `2026-03-01T09:30:00Z` or `2026-03-01T10:30:00+01:00`). Answers are in UTC
/// (`+00:00`), with fractional seconds when there are any; inputs may use any offset.
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
)]
impl ScalarType for Timestamp {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => s
                .parse::<chrono::DateTime<Utc>>()
                .map(Timestamp)
                .map_err(|_| {
                    InputValueError::custom(
                        "expected an RFC 3339 date-time with an offset, e.g. 2026-03-01T09:30:00Z",
                    )
                }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339())
    }
}

/// Any JSON value (RFC 8259): an object, array, string, number, boolean or null.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Json(pub serde_json::Value);

/// Any JSON value (RFC 8259): an object, array, string, number, boolean or null.
/// Its shape is described by the field that returns it.
#[Scalar(
    name = "JSON",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc8259"
)]
impl ScalarType for Json {
    fn parse(value: Value) -> InputValueResult<Self> {
        value
            .into_json()
            .map(Json)
            .map_err(|e| InputValueError::custom(format!("not JSON: {e}")))
    }

    fn to_value(&self) -> Value {
        Value::from_json(self.0.clone()).unwrap_or(Value::Null)
    }
}
