//! `domo users list`, `domo groups list|members`: who exists, for policies and previews.

use std::collections::HashMap;

use clap::{Args, Subcommand};
use domo_model::{Group, GroupId, User, UserId};
use futures_util::TryStreamExt as _;
use serde::Serialize;

use super::config::ConnectionArgs;
use super::output::{self, Align, Format};
use crate::exit::Outcome;

/// `domo users`.
#[derive(Debug, Args)]
pub(crate) struct UsersArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(subcommand)]
    command: UsersCommand,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// List every user, 500 per request.
    #[command(visible_alias = "ls", after_help = concat!(
        "Examples:\n",
        "  domo users list\n",
        "  domo users list --format json",
    ))]
    List {
        /// Output format: table (the default), json or csv.
        #[arg(long, value_parser = output::formats(output::TABULAR), default_value = "table")]
        format: Format,
    },
}

/// `domo groups`.
#[derive(Debug, Args)]
pub(crate) struct GroupsArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(subcommand)]
    command: GroupsCommand,
}

#[derive(Debug, Subcommand)]
enum GroupsCommand {
    /// List every group, 500 per request.
    #[command(visible_alias = "ls", after_help = concat!(
        "Examples:\n",
        "  domo groups list\n",
        "  domo groups list --format json",
    ))]
    List {
        /// Output format: table (the default), json or csv.
        #[arg(long, value_parser = output::formats(output::TABULAR), default_value = "table")]
        format: Format,
    },
    /// List a group's members, with their names.
    #[command(after_help = concat!(
        "Examples:\n",
        "  domo groups members 1324037627\n",
        "  domo groups members 1324037627 --format json",
    ))]
    Members {
        /// The group id.
        group: u64,
        /// Output format: table (the default), json or csv.
        #[arg(long, value_parser = output::formats(output::TABULAR), default_value = "table")]
        format: Format,
    },
}

pub(crate) fn users(args: UsersArgs) -> anyhow::Result<Outcome> {
    let connection = args.connection.connect()?;
    let UsersCommand::List { format } = args.command;
    let users: Vec<User> = super::block_on(async { Ok(connection.client.list_users().try_collect().await?) })?;
    let rows = users.iter().map(|u| {
        vec![
            u.id.to_string(),
            u.name.clone(),
            u.email.clone().unwrap_or_default(),
            u.role.as_ref().map(ToString::to_string).unwrap_or_default(),
        ]
    });
    output::rows(
        format,
        &users,
        &["id", "name", "email", "role"],
        &[Align::Right, Align::Left, Align::Left, Align::Left],
        rows.collect(),
        &output::count(users.len(), "user", "users"),
    )?;
    Ok(Outcome::Ok)
}

#[derive(Debug, Serialize)]
struct Member {
    id: UserId,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

pub(crate) fn groups(args: GroupsArgs) -> anyhow::Result<Outcome> {
    let connection = args.connection.connect()?;
    let client = &connection.client;
    match args.command {
        GroupsCommand::List { format } => {
            let groups: Vec<Group> = super::block_on(async { Ok(client.list_groups().try_collect().await?) })?;
            let rows = groups.iter().map(|g| {
                vec![
                    g.id.to_string(),
                    g.name.clone(),
                    g.member_count.map(|n| n.to_string()).unwrap_or_default(),
                    g.active.map(|a| if a { "yes" } else { "no" }.to_owned()).unwrap_or_default(),
                ]
            });
            output::rows(
                format,
                &groups,
                &["id", "name", "members", "active"],
                &[Align::Right, Align::Left, Align::Right, Align::Left],
                rows.collect(),
                &output::count(groups.len(), "group", "groups"),
            )?;
        }
        GroupsCommand::Members { group, format } => {
            let members = super::block_on(async {
                let ids: Vec<UserId> = client.list_group_members(GroupId(group)).try_collect().await?;
                // Names need every user; a refusal there (no `user` scope) still lists
                // the ids, with a warning. Any other failure is an error.
                let names: HashMap<UserId, String> = match client.list_users().try_collect::<Vec<User>>().await {
                    Ok(users) => users.into_iter().map(|u| (u.id, u.name)).collect(),
                    Err(error) if matches!(error.status(), Some(401 | 403)) => {
                        output::note(format!("warning: members listed without names: {error}"));
                        HashMap::new()
                    }
                    Err(error) => return Err(error.into()),
                };
                Ok(ids.into_iter().map(|id| Member { id, name: names.get(&id).cloned() }).collect::<Vec<_>>())
            })?;
            let rows = members.iter().map(|m| vec![m.id.to_string(), m.name.clone().unwrap_or_default()]);
            output::rows(
                format,
                &members,
                &["id", "name"],
                &[Align::Right, Align::Left],
                rows.collect(),
                &format!("{} of group {group}", output::count(members.len(), "member", "members")),
            )?;
        }
    }
    Ok(Outcome::Ok)
}
