//! A local emulator of Domo's public API: DataSets, their CSV data, PDP
//! policies, users, groups and streams, served over HTTP on loopback, so that
//! programs written for Domo (the official SDKs included) can be developed and
//! tested without a Domo account. `domo serve` runs it from the command line.
//!
//! # What it speaks
//!
//! `/oauth/token` (GET with query parameters or POST with a form, HTTP Basic
//! client id and secret, scopes `data` and `user`), and every DataSet, data,
//! policy, user, group and stream call of Domo's API with Domo's status codes,
//! field names, paging limits (50 DataSets, 500 users or groups), `sort`,
//! `nameLike`, `updateMethod` (exactly `APPEND` appends, anything else
//! replaces), gzip request bodies, `includeHeader` and `fileName`. Every path
//! also answers with a trailing slash (`/v1/users/`), as Domo's does; the
//! calls of the official SDKs and the status codes they expect are listed in
//! `docs/emulator-compat.md`. Errors come
//! in Domo's shape, `{"status", "statusReason", "message", "toe"}`; a missing
//! or expired token gets 401 with `WWW-Authenticate: Bearer …
//! error="invalid_token"`, a token without the needed scope 403. The SQL
//! query endpoint runs one read-only query on an in-memory SQLite loaded with
//! only the caller's visible rows (`docs/sql-query.md`). A deleted DataSet
//! answers GET with 200, a subset of its fields and `deleted: true`.
//!
//! Its documented assumptions where Domo documents nothing:
//!
//! - **Export applies PDP** for the user behind the token, with the `domo-pdp`
//!   engine: those who may manage the DataSet see every row; with PDP off
//!   everyone does.
//! - **Writes need the right to manage the DataSet**, decided by the same
//!   rule ([`domo_pdp::manage_authority`]): its owner, Admins, and users whose
//!   role holds `dataset.manage.all` (roles and their grants come from the
//!   directory's `roles`). Updating a DataSet (`pdpEnabled` and `owner`
//!   included), deleting it, importing into it, writing its policies, and
//!   every stream write onto it answer anyone else 403 in Domo's shape and
//!   change nothing. Creating a DataSet or a stream needs `dataset.create`.
//!   The model is in `docs/permissions.md`.
//! - **Bodies a person writes are strict**: an unknown field, or a missing
//!   required one (a policy's `filters`), is a 400 naming it; only `user`
//!   policies can be created.
//! - Each new DataSet gets the All Rows policy (type `open`) listing its owner,
//!   and PDP off. Deleting the last policy turns PDP off.
//! - An API client acts as one user of the directory. A client whose user is
//!   missing from the directory is added to it: as a `Participant` when the
//!   client was given explicitly (fail closed: PDP applies to it), as an Admin
//!   for the client the emulator generates for the person running it.
//! - Users and groups are read only, seeded from a [`Directory`](domo_model::Directory).
//! - Tokens live in memory: after a restart clients ask for a new one (the
//!   SDKs do so on their own after a 401).
//! - A schema change must fit the rows already there and the columns that
//!   policies use.
//!
//! # HTTPS
//!
//! [`EmulatorBuilder::tls`] serves HTTPS instead of HTTP (the official Node
//! SDK speaks nothing else): with [`Tls::SelfSigned`] a certificate for
//! `localhost`, `127.0.0.1` and `::1` is made on first start and kept in the
//! data folder, so that clients told to trust it
//! ([`RunningEmulator::tls_cert`]) keep trusting it; [`Tls::Files`] uses one's
//! own. rustls with the ring provider, HTTP/1.1.
//!
//! # Storage
//!
//! A SQLite database in WAL mode (`state.db`, through `rusqlite`) holds the
//! state, one row per DataSet, policy, user, group, stream and deleted
//! DataSet, keyed by id; the rows of DataSets are immutable CSV files (an
//! APPEND adds a file, a REPLACE swaps the list), written to a temporary file,
//! fsynced and renamed into place. The rows a request changes, and only
//! those, are written in one transaction, committed with an fsync before the
//! answer (requests arriving meanwhile share the next commit), so a write
//! lands whole or not at all and costs the same in a small instance and a
//! large one; a write the database refuses (a full disk) changes nothing. An
//! upload is streamed to disk and checked against the schema in full before
//! the transaction that names its file, so a process killed mid-import leaves
//! the previous rows intact and a REPLACE never leaves half a file; leftovers
//! are removed at the next start. Every change goes through one lock, so
//! concurrent APPENDs to a DataSet are serialized and all land. The state is
//! also held in memory, which reads use. A `state.json` of the versions
//! before the database is migrated on the first start and renamed
//! `state.json.migrated`. Why SQLite (over `redb`): `docs/serve.md`.
//! A data folder is locked while an emulator uses it; a second one on the same
//! folder refuses to start ([`StartError::InUse`]).
//!
//! # Limits
//!
//! A maximum body size ([`EmulatorBuilder::max_body_bytes`], checked while
//! streaming and again after gunzip), a deadline for the request head
//! ([`EmulatorBuilder::header_read_timeout`]) and for the body
//! ([`EmulatorBuilder::request_timeout`]), both answered with 408 before
//! anything changes, an idle timeout for keep-alive connections
//! ([`EmulatorBuilder::idle_timeout`]), and a cap on open connections
//! ([`EmulatorBuilder::max_connections`]) at which the longest idle one is
//! closed to admit a new client. Every error reply is Domo's JSON, also for
//! requests the HTTP layer cannot parse; internal errors name the `toe` of the
//! log line that holds their cause, never a server path. It binds to loopback
//! unless told otherwise, and no endpoint but `/oauth/token` answers without a
//! token.
//!
//! Each request is logged at `info` (method, path, status, time; never a
//! query, header or body) with `tracing`.
//!
//! The package also builds a bare `domo-emulator` binary (`--data-dir DIR
//! --bind ADDR --client ID:SECRET:USER_ID`), which the crash tests kill and
//! restart; people use `domo serve`.
//!
//! # Example
//!
//! Start an emulator on a free loopback port, in process, and get its address:
//!
//! ```
//! use domo_emulator::Emulator;
//! use domo_model::UserId;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), domo_emulator::StartError> {
//! let emulator = Emulator::builder()
//!     .client("my-app", "my-secret", UserId(27))
//!     .token_ttl(std::time::Duration::from_secs(60))
//!     .start()
//!     .await?;
//! let addr = emulator.addr();
//! assert!(addr.ip().is_loopback() && addr.port() != 0);
//! assert_eq!(emulator.base_url(), format!("http://{addr}"));
//! // Point a Domo client at `emulator.base_url()`, then:
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod app;
mod auth;
mod csv_check;
mod error;
mod pdp;
mod permissions;
mod policy_check;
mod random;
mod request;
mod routes;
mod server;
mod state;
mod store;
mod tls;
mod upload;

pub use auth::ApiClient;
pub use error::{ParseClientError, StartError};
pub use server::{Emulator, EmulatorBuilder, RunningEmulator, StopSignals};
pub use state::ResponseShapes;
pub use tls::Tls;
