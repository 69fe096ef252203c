//! Paged lists: offsets until an empty page, stopped on a repeated item or past a limit.

use std::collections::HashSet;

use futures_util::{Stream, StreamExt as _, TryStreamExt as _};
use http::Method;
use serde::de::DeserializeOwned;

use crate::client::{Call, Client};
use crate::config::MAX_LIST_PAGES;
use crate::error::Error;

impl Client {
    /// Pages through a list endpoint: `path(offset)` for each page, until an
    /// empty page. Fails with [`Error::Paging`] on a page that repeats an item
    /// already listed (a server that ignores `offset`, or a list that changed
    /// while it was read) and past [`MAX_LIST_PAGES`] pages or
    /// [`ClientBuilder::max_list_items`](crate::ClientBuilder::max_list_items) items, instead of paging for ever.
    pub(crate) fn paged<T, P>(&self, start: u64, path: P) -> impl Stream<Item = Result<T, Error>> + Send + 'static
    where
        T: DeserializeOwned + Listed + Send + 'static,
        P: Fn(u64) -> String + Send + Sync + 'static,
    {
        let client = self.clone();
        let state = Paging { client, offset: Some(start), path, seen: HashSet::new(), pages: 0 };
        let pages = futures_util::stream::try_unfold(state, move |mut state| async move {
            let Some(offset) = state.offset else { return Ok(None) };
            let call = Call::new(Method::GET, (state.path)(offset));
            let request = call.describe();
            let page: Vec<T> = state.client.json(call).await?;
            state.pages += 1;
            let paging = |what: String| Error::Paging { request: request.clone(), what };
            for item in &page {
                if !state.seen.insert(item.list_key()) {
                    return Err(paging(format!(
                        "the page at offset {offset} repeats {} `{}`, listed on an earlier page: the server \
                         ignores `offset` or the list changed while it was read",
                        T::WHAT,
                        item.list_key()
                    )));
                }
            }
            if !page.is_empty() && state.pages >= MAX_LIST_PAGES {
                return Err(paging(format!("stopped after {MAX_LIST_PAGES} pages (the most this client reads)")));
            }
            let limit = state.client.max_list_items();
            if state.seen.len() as u64 > limit {
                return Err(paging(format!("stopped past {limit} items (the most this client reads)")));
            }
            state.offset = if page.is_empty() { None } else { Some(offset.saturating_add(page.len() as u64)) };
            Ok(Some((page, state)))
        });
        pages
            .try_take_while(|page| futures_util::future::ready(Ok(!page.is_empty())))
            .map_ok(|page| futures_util::stream::iter(page.into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }
}

/// Where a paged list is.
struct Paging<P> {
    client: Client,
    offset: Option<u64>,
    path: P,
    /// The keys of the items listed so far.
    seen: HashSet<String>,
    pages: u64,
}

/// An item of a paged list, known by its id.
pub(crate) trait Listed {
    /// What the items are, for errors: `DataSet`, `user`.
    const WHAT: &'static str;
    /// The item's id as text.
    fn list_key(&self) -> String;
}

impl Listed for domo_model::DatasetSummary {
    const WHAT: &'static str = "DataSet";
    fn list_key(&self) -> String {
        self.id.to_string()
    }
}

impl Listed for domo_model::User {
    const WHAT: &'static str = "user";
    fn list_key(&self) -> String {
        self.id.to_string()
    }
}

impl Listed for domo_model::Group {
    const WHAT: &'static str = "group";
    fn list_key(&self) -> String {
        self.id.to_string()
    }
}

impl Listed for domo_model::UserId {
    const WHAT: &'static str = "member";
    fn list_key(&self) -> String {
        self.to_string()
    }
}
