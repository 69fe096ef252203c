//! The one diagnostic type of compile and lint: severity, code, the policy, filter and user named, and the message.

use std::fmt;

use domo_model::{Policy, PolicyId, UserId};

use super::PolicyHandle;
use crate::table::shorten;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Certainly wrong: the policies do not compile, or a policy can never match.
    Error,
    /// Probably wrong: the policies compile, but worth a look before uploading.
    Warning,
    /// Worth knowing, often intended (lint only; compiling gives errors and warnings).
    Note,
}

impl Severity {
    /// `error`, `warning` or `note`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a diagnostic is about, for tools that sort or count them. The first
/// group comes out of [`crate::PolicySet::compile`]; the second out of
/// [`crate::lint`]'s analyses. [`DiagnosticCode::as_str`] gives a stable
/// kebab-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DiagnosticCode {
    /// A filter names a column the schema does not have (error).
    UnknownColumn,
    /// A filter has no values (error).
    EmptyValues,
    /// A filter has the wrong number of values for its operator (error).
    ValueCount,
    /// A value does not parse as the column's type (error).
    BadValue,
    /// LIKE, BEGINS_WITH, ENDS_WITH or CONTAINS on a non-STRING column (error).
    TextOperatorOnNonString,
    /// BETWEEN with low > high: the filter matches nothing (warning).
    BetweenReversed,
    /// The policy's values exceed Domo's 255-character limit (a compile
    /// warning; lint makes it an error, since Domo's API rejects the policy).
    ValuesTooLong,
    /// A policy names a user the directory does not know (warning).
    UnknownUser,
    /// A policy names a group the directory does not know (warning).
    UnknownGroup,
    /// A non-All-Rows policy without filters: its members see every row (warning).
    NoFilters,
    /// The All Rows policy has filters; they are ignored (warning).
    AllRowsWithFilters,
    /// PDP is enabled but there are no policies, so PDP is off (warning).
    NoPolicies,
    /// A filter names a column the schema holds more than once (error).
    AmbiguousColumn,
    /// A policy type other than `user`, `open` and `system`: compiled as a `user` policy (warning).
    UnknownPolicyType,
    /// Lint: rows that no one but the owner and Admins sees.
    RowsOnlyPrivileged,
    /// Lint: a user of the directory who sees no row.
    UserSeesNothing,
    /// Lint: a policy that applies to no one.
    PolicyWithoutMembers,
    /// Lint: a policy that admits no row of the data.
    PolicyMatchesNoRow,
    /// Lint: a policy with filters that admits every row of the data.
    PolicyMatchesEveryRow,
    /// Lint: a policy whose rows and members are all covered by another policy.
    RedundantPolicy,
    /// Lint: two policies with the same filters and the same members.
    IdenticalPolicies,
    /// Lint: filters that no row can ever pass, whatever the data.
    FilterNeverMatches,
    /// Lint: EQUALS on a value that no row of the data holds.
    ValueNotInData,
    /// Lint: LIKE with a pattern that has no `%` or `_`: it behaves like EQUALS.
    LikeWithoutWildcards,
    /// Lint: the directory lists a user or group twice, or a group lists an unknown user or itself (error).
    InvalidDirectory,
}

impl DiagnosticCode {
    /// The code as a stable name: `unknown-column`, `filter-never-matches`.
    pub fn as_str(self) -> &'static str {
        match self {
            DiagnosticCode::UnknownColumn => "unknown-column",
            DiagnosticCode::EmptyValues => "empty-values",
            DiagnosticCode::ValueCount => "value-count",
            DiagnosticCode::BadValue => "bad-value",
            DiagnosticCode::TextOperatorOnNonString => "text-operator-on-non-string",
            DiagnosticCode::BetweenReversed => "between-reversed",
            DiagnosticCode::ValuesTooLong => "values-too-long",
            DiagnosticCode::UnknownUser => "unknown-user",
            DiagnosticCode::UnknownGroup => "unknown-group",
            DiagnosticCode::NoFilters => "no-filters",
            DiagnosticCode::AllRowsWithFilters => "all-rows-with-filters",
            DiagnosticCode::NoPolicies => "no-policies",
            DiagnosticCode::AmbiguousColumn => "ambiguous-column",
            DiagnosticCode::UnknownPolicyType => "unknown-policy-type",
            DiagnosticCode::RowsOnlyPrivileged => "rows-only-privileged",
            DiagnosticCode::UserSeesNothing => "user-sees-nothing",
            DiagnosticCode::PolicyWithoutMembers => "policy-without-members",
            DiagnosticCode::PolicyMatchesNoRow => "policy-matches-no-row",
            DiagnosticCode::PolicyMatchesEveryRow => "policy-matches-every-row",
            DiagnosticCode::RedundantPolicy => "redundant-policy",
            DiagnosticCode::IdenticalPolicies => "identical-policies",
            DiagnosticCode::FilterNeverMatches => "filter-never-matches",
            DiagnosticCode::ValueNotInData => "value-not-in-data",
            DiagnosticCode::LikeWithoutWildcards => "like-without-wildcards",
            DiagnosticCode::InvalidDirectory => "invalid-directory",
        }
    }

    /// Whether compiling the policies finds this (rather than one of lint's analyses).
    pub fn is_compile(self) -> bool {
        matches!(
            self,
            DiagnosticCode::UnknownColumn
                | DiagnosticCode::EmptyValues
                | DiagnosticCode::ValueCount
                | DiagnosticCode::BadValue
                | DiagnosticCode::TextOperatorOnNonString
                | DiagnosticCode::BetweenReversed
                | DiagnosticCode::ValuesTooLong
                | DiagnosticCode::UnknownUser
                | DiagnosticCode::UnknownGroup
                | DiagnosticCode::NoFilters
                | DiagnosticCode::AllRowsWithFilters
                | DiagnosticCode::NoPolicies
                | DiagnosticCode::AmbiguousColumn
                | DiagnosticCode::UnknownPolicyType
        )
    }
}

impl fmt::Display for DiagnosticCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy named in a diagnostic: its handle, id and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PolicyRef {
    /// The policy's position in the list compiled (or linted), which is its place in the policies file.
    pub handle: PolicyHandle,
    /// Its id, if it has one.
    pub id: Option<PolicyId>,
    /// Its name.
    pub name: String,
}

impl PolicyRef {
    /// The policy at `handle`, as given.
    pub fn new(handle: PolicyHandle, policy: &Policy) -> Self {
        Self { handle, id: policy.id, name: policy.name.clone() }
    }
}

impl fmt::Display for PolicyRef {
    /// `policy 8 `Only Show Attendees``, or `policy #3 `West`` without an id (the name cut at 80 characters).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = shorten(self.name.as_bytes());
        match self.id {
            Some(id) => write!(f, "policy {id} `{name}`"),
            None => write!(f, "policy #{} `{name}`", self.handle.index() + 1),
        }
    }
}

/// One problem found while compiling or linting policies, naming the policy, filter or user it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// How serious it is.
    pub severity: Severity,
    /// What kind of problem.
    pub code: DiagnosticCode,
    /// The policy it is about, if one.
    pub policy: Option<PolicyRef>,
    /// The filter's 0-based index in the policy's `filters`, if about one filter.
    pub filter_index: Option<usize>,
    /// The user it is about, if one.
    pub user: Option<UserId>,
    /// What is wrong, in words (user input in backticks).
    pub message: String,
    /// Data rows involved (1-based), when it is about rows; at most a sample.
    pub rows: Vec<u64>,
}

impl Diagnostic {
    /// A diagnostic with only a severity, a code and a message; name the rest with the builder methods.
    pub(crate) fn new(severity: Severity, code: DiagnosticCode, message: String) -> Self {
        Self { severity, code, policy: None, filter_index: None, user: None, message, rows: Vec::new() }
    }

    /// About this policy.
    pub(crate) fn on_policy(mut self, policy: PolicyRef) -> Self {
        self.policy = Some(policy);
        self
    }

    /// About this filter of the policy.
    pub(crate) fn on_filter(mut self, filter_index: Option<usize>) -> Self {
        self.filter_index = filter_index;
        self
    }

    /// About this user.
    pub(crate) fn on_user(mut self, user: UserId) -> Self {
        self.user = Some(user);
        self
    }

    /// With these sample rows (1-based).
    pub(crate) fn with_rows(mut self, rows: Vec<u64>) -> Self {
        self.rows = rows;
        self
    }

    /// The kind lint reports (`kind` in `domo pdp lint --format json`): `compile-error` or
    /// `compile-warning` for a problem compiling finds (its [`DiagnosticCode`] says which),
    /// except `values-too-long`; the code's own name for the others.
    pub fn kind(&self) -> &'static str {
        match self.code {
            DiagnosticCode::ValuesTooLong => self.code.as_str(),
            code if code.is_compile() => match self.severity {
                Severity::Error => "compile-error",
                Severity::Warning | Severity::Note => "compile-warning",
            },
            code => code.as_str(),
        }
    }
}

impl fmt::Display for Diagnostic {
    /// `policy 8 `Only Show Attendees`, filters[0]: unknown column `Atending` (did you mean `Attending`?)`;
    /// the message alone when it is about no policy.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(policy) = &self.policy {
            write!(f, "{policy}")?;
            if let Some(filter) = self.filter_index {
                write!(f, ", filters[{filter}]")?;
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.message)
    }
}
