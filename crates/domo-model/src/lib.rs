//! Domo's wire types: DataSets, schemas, PDP policies, users, groups, tokens,
//! streams, queries and errors, exactly as Domo's public API speaks them.
//!
//! This crate is the bottom layer of the `domo` workspace. It holds serde types
//! and nothing else: no I/O, no HTTP, no policy evaluation. The policy engine
//! (`domo-pdp`), the HTTP client (`domo-http`), the emulator and the CLI all
//! speak in these types.
//!
//! - [`Dataset`], [`DatasetCreate`], [`DatasetUpdate`], [`DatasetSummary`],
//!   [`Schema`], [`Column`], [`ColumnType`]: DataSets and their schemas.
//! - [`Policy`], [`PolicyFilter`], [`FilterOperator`], [`PolicyType`]: PDP
//!   policies as an AST.
//! - [`User`], [`Group`], [`Directory`]: who exists and who is in which group;
//!   [`Grant`], [`RoleDefinition`]: what each role may do.
//! - [`TokenResponse`], [`ErrorBody`], [`Stream`], [`Execution`],
//!   [`QueryResponse`]: the rest of the API.
//!
//! Responses from Domo tolerate unknown fields (plain `serde_json`). Files a
//! person writes are read with [`read_user_file`], which rejects unknown fields
//! and names the file, the JSON path and the field.
//!
//! ```
//! use domo_model::{FilterOperator, Policy, UserId};
//!
//! let json = r#"{
//!   "id": 8, "type": "user", "name": "Only Show Attendees",
//!   "filters": [{"column": "Attending", "values": ["TRUE"], "operator": "EQUALS", "not": false}],
//!   "users": [27], "virtualUsers": [], "groups": []
//! }"#;
//! let policy: Policy = serde_json::from_str(json)?;
//! assert_eq!(policy.users, vec![UserId(27)]);
//! assert_eq!(policy.filters[0].operator, FilterOperator::Equals);
//! # Ok::<(), serde_json::Error>(())
//! ```
#![deny(missing_docs)]

mod auth;
mod dataset;
mod directory;
mod directory_writes;
mod error;
mod grants;
mod ids;
mod known_fields;
mod lenient;
mod policy;
mod policy_test_file;
mod policy_use;
mod query;
mod secret;
mod stream;
mod string_enum;
mod suggest;
mod user_file;

pub use auth::{Scope, TokenResponse};
pub use dataset::{
    Column, ColumnType, Dataset, DatasetCreate, DatasetSummary, DatasetUpdate, ExportOptions, Header, ListDatasets,
    Owner, Schema, Sort, UpdateMethod,
};
pub use directory::{Directory, DirectoryGroup, DirectoryProblem, Group, GroupRef, Role, User, role_of};
pub use directory_writes::{GroupCreate, GroupUpdate, UserCreate, UserUpdate};
pub use error::{ErrorBody, UnknownValueError};
pub use grants::{Grant, RoleDefinition};
pub use ids::{DatasetId, ExecutionId, GroupId, PolicyId, StreamId, UserId};
pub use jiff::Timestamp;
pub use policy::{FilterOperator, Policy, PolicyFilter, PolicyType};
pub use policy_test_file::{PolicyTestCase, PolicyTestFile, RowSelector};
pub use policy_use::PolicyUse;
pub use query::{QueryColumnMetadata, QueryRequest, QueryResponse};
pub use secret::Secret;
pub use stream::{Execution, ExecutionState, Stream, StreamCreate, StreamDataset};
pub use suggest::did_you_mean;
pub use user_file::{UserFileError, read_user_file};
