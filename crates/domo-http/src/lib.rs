//! A small, complete HTTPS client for Domo's DataSet, PDP policy, user, group,
//! stream and query APIs, typed by [`domo_model`].
//!
//! What it is for: everything the `domo` CLI and its users do against
//! `https://api.domo.com` (or a local emulator at `http://127.0.0.1:PORT`):
//! create DataSets, import and export their data without holding it in memory,
//! manage PDP policies, read users and groups for local previews, and upload
//! large files through streams.
//!
//! Main types:
//! - [`Client`]: one pooled HTTP/1.1 + HTTP/2 connection set over rustls, shared
//!   by its clones, with the API as async methods (`create_dataset`,
//!   `import_data`, `export_data`, `create_policy`, `list_users`, `directory`,
//!   `upload_csv_file`, `query`, …). Built with [`Client::new`] or
//!   [`Client::builder`].
//! - [`Credentials`]: the client-credentials grant (tokens are fetched, cached,
//!   renewed before they expire and once after a 401, one request at a time
//!   however many calls wait) or a ready token.
//! - [`RetryPolicy`]: bounded retries with exponential backoff and jitter on
//!   connection failures, timeouts, 429, 502, 503, 504 and HTML maintenance
//!   pages, honouring `Retry-After`, for requests that are safe to repeat.
//! - [`CsvSource`], [`ImportOptions`], [`Progress`]: what an import reads from
//!   (bytes, a file, a reader), gzip, and progress reports.
//! - [`Error`]: one error type naming the stage that failed (a success whose
//!   body is an HTML page or otherwise not what the call expects is an error
//!   too, never data), with
//!   [`Error::is_timeout`], [`Error::status`] and [`Error::is_retryable`].
//!   Tokens and the client secret never appear in `Debug`, `Display`, logs or
//!   errors.
//!
//! The quickstart: create the "Leonhard Euler Party" DataSet, import its CSV
//! (rows only, no header, as Domo expects), and create the "Only Show
//! Attendees" policy.
//!
//! ```no_run
//! use domo_http::{Client, CsvSource, Credentials, ImportOptions};
//! use domo_model::{
//!     Column, ColumnType, DatasetCreate, DatasetUpdate, FilterOperator, Policy, PolicyFilter,
//!     PolicyType, Schema, Scope, UpdateMethod, UserId,
//! };
//!
//! # async fn quickstart() -> Result<(), domo_http::Error> {
//! let credentials = Credentials::client_credentials(
//!     std::env::var("DOMO_CLIENT_ID").unwrap_or_default(),
//!     std::env::var("DOMO_CLIENT_SECRET").unwrap_or_default(),
//!     [Scope::Data, Scope::User],
//! );
//! let domo = Client::new("https://api.domo.com", credentials)?;
//!
//! let dataset = domo
//!     .create_dataset(&DatasetCreate {
//!         name: "Leonhard Euler Party".to_owned(),
//!         description: Some("Mathematician Guest List".to_owned()),
//!         rows: Some(0),
//!         schema: Schema {
//!             columns: vec![
//!                 Column::new(ColumnType::String, "Friend"),
//!                 Column::new(ColumnType::String, "Attending"),
//!             ],
//!         },
//!     })
//!     .await?;
//!
//! let csv = "Pythagoras,FALSE\nAlan Turing,TRUE\nGottfried Leibniz,FALSE\n";
//! domo.import_data(&dataset.id, UpdateMethod::Replace, CsvSource::bytes(csv), &ImportOptions::default())
//!     .await?;
//! // A large file streams instead: `CsvSource::file("guests.csv")`.
//!
//! let policy = domo
//!     .create_policy(
//!         &dataset.id,
//!         &Policy {
//!             id: None,
//!             policy_type: PolicyType::User,
//!             name: "Only Show Attendees".to_owned(),
//!             filters: vec![PolicyFilter {
//!                 column: "Attending".to_owned(),
//!                 values: vec!["TRUE".to_owned()],
//!                 operator: FilterOperator::Equals,
//!                 not: false,
//!             }],
//!             users: vec![UserId(27)],
//!             virtual_users: vec![],
//!             groups: vec![],
//!         },
//!     )
//!     .await?;
//! domo.update_dataset(&dataset.id, &DatasetUpdate { pdp_enabled: Some(true), ..DatasetUpdate::default() })
//!     .await?;
//! println!("DataSet {} has policy {:?}", dataset.id, policy.id);
//! # Ok(())
//! # }
//! ```
//!
//! Exports stream into any `tokio::io::AsyncWrite` ([`Client::export_data`]) or
//! a file ([`Client::export_data_to_file`]), or stop after their first rows
//! ([`Client::export_data_head`], for a sample); pass a [`Progress`] to either, or
//! in [`ImportOptions::progress`], to draw a progress bar.
#![deny(missing_docs)]

mod body;
mod client;
mod config;
mod datasets;
mod directory;
mod error;
mod head;
mod paging;
mod paths;
mod policies;
mod query;
mod response;
mod retry;
mod streams;

pub use body::{Compression, CsvSource, Direction, ImportOptions, Progress, Transferred};
pub use client::{Client, ClientBuilder, DEFAULT_BASE_URL};
pub use config::{CreateRetry, Credentials, MAX_LIST_ITEMS, MAX_LIST_PAGES, RetryPolicy};
pub use datasets::ExportedHead;
pub use error::{BodyRead, ConnectionFailure, Error, ServiceBody};
pub use streams::{PartUploadOptions, PartUploadSummary};
