//! The PDP policy engine: which rows of a Domo DataSet each user sees, and why.
//!
//! Domo's Personalized Data Permissions (PDP) attach policies to a DataSet;
//! each policy has filters (ANDed) and principals (users, groups, virtual
//! users); a user sees the rows admitted by any policy they are in. This crate
//! answers, locally and fast, the questions Domo's API does not:
//!
//! 1. [`Evaluation::visible_rows`]: the rows a user sees, in DataSet order;
//! 2. [`Evaluation::visible_counts`]: for every user in the directory, how many
//!    rows they see and why ([`Reason`]);
//! 3. [`Evaluation::viewers`]: who sees a row;
//! 4. [`Evaluation::explain`]: the policies that grant a row and the
//!    membership path, or for each policy the first filter that fails.
//!
//! The pieces:
//!
//! - [`Table`]: rows loaded from CSV ([`Table::from_csv`], any [`std::io::Read`])
//!   and typed by the DataSet's schema, stored by column; strings are
//!   dictionary-encoded. Errors ([`LoadCsvError`]) name the row (1-based, as a
//!   spreadsheet shows it), the column and the text.
//! - [`PolicySet`]: policies compiled against the schema, owner, `pdpEnabled`
//!   and a [`Directory`](domo_model::Directory) ([`PolicySet::compile`]). Every
//!   error comes out here ([`CompilePolicyError`]), each naming the policy, the
//!   filter and the problem; warnings are [`Diagnostic`]s.
//! - [`Evaluation`]: a policy set evaluated on a table ([`PolicySet::evaluate`]):
//!   each policy's [`RowSet`] computed once, then combined per user; users with
//!   equal policy sets share the work.
//! - [`manage_authority`]: the one rule of who may manage a DataSet (its
//!   owner, Admins, roles holding `dataset.manage.all`), who therefore sees
//!   every row despite PDP ([`Reason::Owner`], [`Reason::Admin`],
//!   [`Reason::RoleGrant`]).
//! - [`impact`]: a change judged on every possible row, not a sample: for each
//!   user, whether the new policies admit a row the old ones do not (and the
//!   reverse), each "yes" with a witness row checked by the engine, or
//!   "unknown" with the reason; [`lint_for_any_row`] for policies that never
//!   admit a row or add nothing. The procedure is in
//!   `crates/domo-pdp/docs/impact.md`.
//! - [`lint`]: compile problems and what the policies do to the data and the
//!   users, each a [`Diagnostic`] (the one type of compile and lint findings);
//!   [`Linter`] and [`LintRows`] take the rows in batches, keeping counts and
//!   samples only, so that lint's memory does not grow with the rows.
//! - [`PolicySet::write_visible_csv`]: one user's rows streamed from a CSV
//!   reader to a writer in a single pass, each record byte-exact.
//! - Streaming in bounded memory, whatever the row count: [`Table::for_each_batch`]
//!   and [`Table::map_batches`] read a CSV a [`TableBatch`] at a time (typed
//!   on [`Threads`] workers, errors naming the file's row);
//!   [`PolicySet::all_counts_csv`] gives every principal's count
//!   ([`AllCounts`]) and [`run_policy_tests_csv`] the policy tests' outcomes
//!   without holding the table.
//! - [`PolicySet::sql_predicate`], [`PolicySet::sql_select`],
//!   [`PolicySet::sql_visible_counts`], [`PolicySet::sql_hidden_rows`],
//!   [`PolicySet::sql_viewers`] and [`PolicySet::sql_diff`]: the same answers as
//!   SQL text for a warehouse ([`Dialect`]: DuckDB, PostgreSQL, Spark SQL,
//!   Snowflake, BigQuery, Trino), with [`sql_create_table`] for the column types
//!   they expect and [`sql_load`] for loading the CSV into them as the engine
//!   reads it. The rules and each dialect's choices are in
//!   `docs/sql.md`.
//!
//! The crate does no file or network I/O of its own and knows nothing of HTTP.
//! The rules it follows are in `crates/domo-pdp/docs/semantics.md`, one rule a line, each with
//! the test that backs it; how it is fast (posting lists, bitmaps, shared row
//! sets, a two-thread load) and what it measures is in
//! `crates/domo-pdp/docs/engine.md` (paths from the workspace root).
//!
//! # Example
//!
//! ```
//! use domo_model::{Column, ColumnType, Dataset, Directory, Policy, Role, Schema, User, UserId};
//! use domo_pdp::{HeaderRow, PolicySet, Reason, StreamOptions, Table};
//!
//! let schema = Schema {
//!     columns: vec![Column::new(ColumnType::String, "Friend"), Column::new(ColumnType::String, "Attending")],
//! };
//! let csv = "Friend,Attending\nLeonhard,TRUE\nJohann,FALSE\nDaniel,TRUE\n";
//! let table = Table::from_csv(csv.as_bytes(), &schema, HeaderRow::Present)?;
//!
//! let dataset: Dataset = serde_json::from_value(serde_json::json!({
//!     "id": "euler-party", "name": "Euler party", "pdpEnabled": true, "owner": {"id": 1},
//!     "schema": {"columns": [{"type": "STRING", "name": "Friend"}, {"type": "STRING", "name": "Attending"}]}
//! }))?;
//! let policy: Policy = serde_json::from_value(serde_json::json!({
//!     "id": 8, "type": "user", "name": "Only Show Attendees",
//!     "filters": [{"column": "Attending", "values": ["TRUE"], "operator": "EQUALS", "not": false}],
//!     "users": [27], "virtualUsers": [], "groups": []
//! }))?;
//! let directory = Directory {
//!     users: vec![
//!         User::new(UserId(1), "Owner", Role::Participant),
//!         User::new(UserId(27), "Guest", Role::Participant),
//!         User::new(UserId(30), "Stranger", Role::Participant),
//!     ],
//!     groups: vec![],
//!     roles: vec![],
//! };
//! let policies = PolicySet::compile(&dataset, &[policy], &directory)?;
//! let evaluation = policies.evaluate(&table)?;
//!
//! // 1. Rows user 27 sees: Leonhard (row 0) and Daniel (row 2).
//! let rows: Vec<usize> = evaluation.visible_rows(UserId(27)).iter().collect();
//! assert_eq!(rows, [0, 2]);
//!
//! // 2. Everyone's counts and reasons.
//! let counts = evaluation.visible_counts();
//! assert_eq!((counts[0].rows, counts[0].reason), (3, Reason::Owner));
//! assert_eq!((counts[1].rows, counts[1].reason), (2, Reason::Policies));
//! assert_eq!((counts[2].rows, counts[2].reason), (0, Reason::NoPolicy));
//!
//! // 3. Who sees Johann's row: only the owner.
//! assert_eq!(evaluation.viewers(1), [UserId(1)]);
//!
//! // 4. Why user 27 does not see it: filter 0 of "Only Show Attendees" fails on `FALSE`.
//! let why = evaluation.explain(UserId(27), 1).unwrap();
//! assert!(!why.visible);
//! assert_eq!(why.refusals[0].cell.as_deref(), Some("FALSE"));
//! assert_eq!(why.refusals[0].expected, ["TRUE"]);
//!
//! // User 27's rows as CSV, straight from the input, in one pass.
//! let mut out = Vec::new();
//! policies.write_visible_csv(UserId(27), csv.as_bytes(), &mut out, StreamOptions::default())?;
//! assert_eq!(out, b"Friend,Attending\nLeonhard,TRUE\nDaniel,TRUE\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod audit;
mod authority;
mod compile;
mod csv_split;
mod diff;
mod eval;
mod filter;
mod generate;
mod header;
mod impact;
mod like;
mod lint;
mod parse;
mod policy_tests;
mod reconcile;
mod rowset;
mod shared;
mod sql;
mod table;
mod visible_csv;

pub use audit::{AuditFinding, AuditInput, AuditKind, UserSees, audit, user_access};
pub use authority::{ManageAuthority, grant_holder, manage_authority};
pub use compile::{
    Access, CompilePolicyError, CompiledPolicy, Diagnostic, DiagnosticCode, Membership, PdpMode, PolicyHandle,
    PolicyMembership, PolicyRef, PolicySet, Principal, Reason, Severity,
};
pub use diff::{
    ChangedRows, DiffAccumulator, DiffCsvError, DiffOptions, MergeDiffError, PolicyChange, PolicyChangeKind,
    PolicyDiff, UserChange, VirtualUserChange, diff_policies, diff_policies_with, policy_changes,
};
pub use eval::{AllCounts, Evaluation, Explanation, Grant, Refusal, SchemaMismatchError, VirtualCount, VisibleCount};
pub use filter::CompiledFilter;
pub use generate::{
    EntitlementField, EntitlementProblem, GeneratePoliciesError, Generated, GeneratedDataset, Targets,
    generate_policies,
};
pub use impact::{
    Admitter, Answer, ImpactError, ImpactOptions, ImpactReport, ProvenFinding, Subject, UserImpact, Verdict, Witness,
    WitnessCell, impact, lint_for_any_row,
};
pub use jiff::civil::Date;
pub use lint::{LintReport, LintRows, Linter, lint};
pub use policy_tests::{
    CaseOutcome, Expectation, PolicyTestCsvError, PolicyTestError, run_policy_tests, run_policy_tests_csv,
};
pub use reconcile::{
    ApplyStatus, ApplySummary, ChangeCounts, DatasetPlan, Matched, PdpSwitch, PlanSummary, ReconcileError,
    Reconciliation, Unmatched, UpdateStep, fingerprint, live_changes, narrowing_step, order_changes, order_with_switch,
    reconcile, staleness, update_steps,
};
pub use rowset::{RowSet, Rows};
pub use rust_decimal::Decimal;
pub use shared::{SharedPolicyError, expand_shared};
pub use sql::{
    CountsQuery, CsvSource, Dialect, MembershipRow, MembershipSource, RenderSqlError, SPARK_NULL_SENTINEL, SqlOptions,
    sql_create_table, sql_load,
};
pub use table::{
    BatchOptions, CsvLimits, Datetime, EXTRA_FIELDS, HeaderRow, LoadCsvError, ParseValueError, Table, TableBatch,
    Threads, Value,
};
pub use visible_csv::{StreamCsvError, StreamOptions, StreamSummary};
