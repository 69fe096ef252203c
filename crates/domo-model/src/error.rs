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
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status)?;
        if let Some(reason) = &self.status_reason {
            write!(f, " {reason}")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
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
