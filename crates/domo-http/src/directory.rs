//! Users and groups: listing them, one user, group members, the directory file built from them, and
//! the User and Group APIs' writes.
//!
//! Every list here stops with [`Error::Paging`] on a page that repeats an item
//! already listed and past [`MAX_LIST_PAGES`](crate::MAX_LIST_PAGES) pages or
//! [`ClientBuilder::max_list_items`](crate::ClientBuilder::max_list_items) items.

use domo_model::{
    Directory, DirectoryGroup, Group, GroupCreate, GroupId, GroupUpdate, User, UserCreate, UserId, UserUpdate,
};
use futures_util::{Stream, StreamExt as _, TryStreamExt as _};
use http::Method;

use crate::client::{Call, Client};
use crate::error::Error;
use crate::paths::with_query;

/// Domo's largest page of users, groups and members.
const PAGE: u32 = 500;
/// Groups whose members are fetched at the same time by [`Client::directory`].
const PARALLEL_GROUPS: usize = 4;

impl Client {
    /// `GET /v1/users`: every user, 500 at a time until an empty page.
    pub fn list_users(&self) -> impl Stream<Item = Result<User, Error>> + Send + 'static {
        self.paged(0, |offset| page("/v1/users".to_owned(), offset))
    }

    /// `GET /v1/users/{id}`: one user, with the groups they belong to.
    pub async fn get_user(&self, id: UserId) -> Result<User, Error> {
        self.json(Call::new(Method::GET, format!("/v1/users/{id}"))).await
    }

    /// `GET /v1/groups`: every group, 500 at a time until an empty page.
    pub fn list_groups(&self) -> impl Stream<Item = Result<Group, Error>> + Send + 'static {
        self.paged(0, |offset| page("/v1/groups".to_owned(), offset))
    }

    /// `GET /v1/groups/{id}/users`: the ids of a group's members, 500 at a time.
    pub fn list_group_members(&self, group: GroupId) -> impl Stream<Item = Result<UserId, Error>> + Send + 'static {
        self.paged(0, move |offset| page(format!("/v1/groups/{group}/users"), offset))
    }

    /// `POST /v1/users`: creates a user and returns it with its new id.
    pub async fn create_user(&self, user: &UserCreate) -> Result<User, Error> {
        self.json(Call::new(Method::POST, "/v1/users".to_owned()).json_body(user)?).await
    }

    /// `PUT /v1/users/{id}`: changes the fields given; the others keep their value.
    pub async fn update_user(&self, id: UserId, update: &UserUpdate) -> Result<User, Error> {
        self.json(Call::new(Method::PUT, format!("/v1/users/{id}")).json_body(update)?).await
    }

    /// `DELETE /v1/users/{id}`.
    pub async fn delete_user(&self, id: UserId) -> Result<(), Error> {
        self.no_content(Call::new(Method::DELETE, format!("/v1/users/{id}"))).await
    }

    /// `POST /v1/groups`: creates a group and returns it with its new id.
    pub async fn create_group(&self, group: &GroupCreate) -> Result<Group, Error> {
        self.json(Call::new(Method::POST, "/v1/groups".to_owned()).json_body(group)?).await
    }

    /// `PUT /v1/groups/{id}`: changes the fields given. Domo's answer carries
    /// no documented body, so the group is read again after the change.
    pub async fn update_group(&self, id: GroupId, update: &GroupUpdate) -> Result<Group, Error> {
        self.no_content(Call::new(Method::PUT, format!("/v1/groups/{id}")).json_body(update)?).await?;
        self.get_group(id).await
    }

    /// `GET /v1/groups/{id}`.
    pub async fn get_group(&self, id: GroupId) -> Result<Group, Error> {
        self.json(Call::new(Method::GET, format!("/v1/groups/{id}"))).await
    }

    /// `DELETE /v1/groups/{id}`.
    pub async fn delete_group(&self, id: GroupId) -> Result<(), Error> {
        self.no_content(Call::new(Method::DELETE, format!("/v1/groups/{id}"))).await
    }

    /// `PUT /v1/groups/{group}/users/{user}`: adds a member (a member already there stays).
    pub async fn add_group_member(&self, group: GroupId, user: UserId) -> Result<(), Error> {
        self.no_content(Call::new(Method::PUT, format!("/v1/groups/{group}/users/{user}"))).await
    }

    /// `DELETE /v1/groups/{group}/users/{user}`: removes a member.
    pub async fn remove_group_member(&self, group: GroupId, user: UserId) -> Result<(), Error> {
        self.no_content(Call::new(Method::DELETE, format!("/v1/groups/{group}/users/{user}"))).await
    }

    /// The directory file that local previews read: every user, and every
    /// group with its members' ids (members of four groups fetched at a time).
    pub async fn directory(&self) -> Result<Directory, Error> {
        self.directory_with(PARALLEL_GROUPS).await
    }

    /// [`Client::directory`] with at most `parallel` requests in flight (at least one).
    ///
    /// # Errors
    /// As [`Client::directory`].
    pub async fn directory_with(&self, parallel: usize) -> Result<Directory, Error> {
        let users: Vec<User> = self.list_users().try_collect().await?;
        let groups: Vec<Group> = self.list_groups().try_collect().await?;
        let groups = futures_util::stream::iter(groups)
            .map(|group| async move {
                let user_ids: Vec<UserId> = self.list_group_members(group.id).try_collect().await?;
                Ok::<_, Error>(DirectoryGroup { id: group.id, name: group.name, user_ids })
            })
            .buffered(parallel.max(1))
            .try_collect()
            .await?;
        Ok(Directory { users, groups, roles: Vec::new() })
    }
}

fn page(path: String, offset: u64) -> String {
    with_query(path, [("limit", PAGE.to_string()), ("offset", offset.to_string())])
}
