//! The error body Domo sends with a failed call, and errors of this crate's own.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Domo's error body: `{"status":400,"statusReason":"Bad Request","message":"…","toe":"…"}`.
/// `statusReason` does not always match `status`; `toe` is a support trace id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// The HTTP status Domo reports.
    pub status: u16,
    /// A reason phrase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// What went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A trace id for Domo support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toe: Option<String>,
    /// The request path, sometimes present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A short summary, in bodies shaped as RFC 9457 problem details
    /// (`title`/`detail`) rather than Domo's `message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What went wrong, in problem-details bodies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// A short error code or reason (`invalid_client`, `Method Not Allowed`),
    /// as OAuth and Spring error bodies carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What went wrong, in OAuth error bodies.
    #[serde(rename = "error_description", default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

impl ErrorBody {
    /// What went wrong, from whichever field the body carries: `message`,
    /// then `detail`, `error_description`, `title`, `error`. `None` when
    /// the body names nothing.
    pub fn text(&self) -> Option<String> {
        let said =
            |field: &Option<String>| field.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned);
        if let Some(message) = said(&self.message) {
            return Some(message);
        }
        let summary = said(&self.title).or_else(|| said(&self.error));
        let detail = said(&self.detail).or_else(|| said(&self.error_description));
        match (summary, detail) {
            (Some(summary), Some(detail)) if summary != detail => Some(format!("{summary}: {detail}")),
            (summary, detail) => detail.or(summary),
        }
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status)?;
        if let Some(reason) = &self.status_reason {
            write!(f, " {reason}")?;
        }
        if let Some(text) = self.text() {
            write!(f, ": {text}")?;
        }
        if let Some(toe) = &self.toe {
            write!(f, " (toe {toe})")?;
        }
        Ok(())
    }
}

/// A string that is not one of the values an enum of Domo's accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}` ({}expected one of: {})", suggestion(value, expected), expected.join(", "))]
pub struct UnknownValueError {
    /// What kind of value it was (`operator`, `column type`, …).
    pub what: &'static str,
    /// The value given.
    pub value: String,
    /// Every accepted value.
    pub expected: &'static [&'static str],
}

/// `did you mean `EQUALS`? ` when one accepted value is close to `value`, else nothing.
fn suggestion(value: &str, expected: &[&str]) -> String {
    crate::did_you_mean(value, expected.iter().copied())
        .map(|close| format!("did you mean `{close}`? "))
        .unwrap_or_default()
}
