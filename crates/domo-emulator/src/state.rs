//! The shared state of a running emulator: the store, the tokens, the limits and how fully answers are filled.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::Auth;
use crate::store::Store;

/// How fully the emulator fills its answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseShapes {
    /// Every field the emulator knows (the default).
    #[default]
    Full,
    /// Only what the published reference's examples show, typed as they show
    /// it: a stream listed or searched carries only its DataSet's `id` and
    /// `pdpEnabled`, and a user's digits-only `employeeNumber` is a JSON
    /// number. Clients tested against this mode decode what Domo documents,
    /// not what the emulator happens to add.
    ReferenceMinimal,
}

/// Resource limits of a running emulator.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// Largest request body, and largest CSV after gunzip.
    pub(crate) max_body_bytes: u64,
    /// Longest a request body may take to arrive, from the end of the head.
    pub(crate) request_timeout: Duration,
    /// Most connections served at once; at the cap, the longest idle one is
    /// closed to admit a new one, and with none idle new ones wait.
    pub(crate) max_connections: usize,
    /// Longest a client may take to send a request head, from its first byte.
    pub(crate) header_read_timeout: Duration,
    /// Longest a keep-alive connection may wait for its next request.
    pub(crate) idle_timeout: Duration,
}

/// JSON bodies (DataSets, policies, streams) are small; they are read whole,
/// up to this size or the body limit, whichever is smaller.
const MAX_JSON_BYTES: u64 = 1024 * 1024;

/// What every handler shares.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) store: Arc<Store>,
    pub(crate) auth: Auth,
    pub(crate) limits: Limits,
    pub(crate) shapes: ResponseShapes,
    /// Held while row files are merged, so that merges do not pile up.
    pub(crate) compacting: tokio::sync::Mutex<()>,
}

impl App {
    pub(crate) fn max_json_bytes(&self) -> u64 {
        self.limits.max_body_bytes.min(MAX_JSON_BYTES)
    }
}
