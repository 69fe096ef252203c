//! The API's handlers, one module per resource.

pub(crate) mod data;
pub(crate) mod datasets;
pub(crate) mod directory;
pub(crate) mod directory_writes;
pub(crate) mod policies;
pub(crate) mod query;
pub(crate) mod streams;
pub(crate) mod strict;
pub(crate) mod token;
