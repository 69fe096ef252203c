//! `domo users list|create|update|delete`, `domo groups list|members|create|update|delete|add-member|remove-member`:
//! who exists, for policies and previews, and changing it.

use std::collections::HashMap;

use anyhow::bail;
use clap::{Args, Subcommand};
use domo_model::{Group, GroupCreate, GroupId, GroupUpdate, Role, User, UserCreate, UserId, UserUpdate};
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
    /// Create a user; prints its id (the whole user with --format json). Needs the `directory.manage` grant.
    #[command(after_help = concat!(
        "Examples:\n",
        "  domo users create --name \"Emmy Noether\" --email noether@example.com --role Participant\n",
        "  domo users create --name Ada --email ada@example.com --role Privileged --title Analyst --format json",
    ))]
    Create {
        /// The display name.
        #[arg(long)]
        name: String,
        /// The primary email address.
        #[arg(long)]
        email: String,
        /// The role: Admin, Privileged, Participant or a custom role.
        #[arg(long)]
        role: String,
        #[command(flatten)]
        profile: UserProfileArgs,
        /// Output format.
        #[arg(long, value_parser = output::formats(output::REPORT), default_value = "table")]
        format: Format,
    },
    /// Change a user's fields; those not given keep their value.
    #[command(after_help = concat!(
        "Examples:\n",
        "  domo users update 1002 --title \"Professor\"\n",
        "  domo users update 1002 --role Privileged",
    ))]
    Update {
        /// The user id.
        id: u64,
        /// A new display name.
        #[arg(long)]
        name: Option<String>,
        /// A new email address.
        #[arg(long)]
        email: Option<String>,
        /// A new role.
        #[arg(long)]
        role: Option<String>,
        #[command(flatten)]
        profile: UserProfileArgs,
        /// Output format.
        #[arg(long, value_parser = output::formats(output::REPORT), default_value = "table")]
        format: Format,
    },
    /// Delete a user. Refused (409) while a PDP policy names them or they own a DataSet.
    #[command(after_help = "Examples:\n  domo users delete 1002 --yes")]
    Delete {
        /// The user id.
        id: u64,
        /// Delete without asking.
        #[arg(long)]
        yes: bool,
    },
}

/// The optional fields of a user, for `create` and `update`.
#[derive(Debug, Args)]
struct UserProfileArgs {
    /// The job title.
    #[arg(long)]
    title: Option<String>,
    /// A phone number.
    #[arg(long)]
    phone: Option<String>,
    /// A location.
    #[arg(long)]
    location: Option<String>,
    /// An employee number.
    #[arg(long)]
    employee_number: Option<String>,
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
    /// Create a group; prints its id (the whole group with --format json). Needs the `directory.manage` grant.
    #[command(after_help = "Examples:\n  domo groups create --name \"Party Planners\"")]
    Create {
        /// The group's name.
        #[arg(long)]
        name: String,
        /// Output format.
        #[arg(long, value_parser = output::formats(output::REPORT), default_value = "table")]
        format: Format,
    },
    /// Rename a group.
    #[command(after_help = "Examples:\n  domo groups update 1324037627 --name \"Party Planners\"")]
    Update {
        /// The group id.
        id: u64,
        /// A new name.
        #[arg(long)]
        name: String,
        /// Output format.
        #[arg(long, value_parser = output::formats(output::REPORT), default_value = "table")]
        format: Format,
    },
    /// Delete a group. Refused (409) while a PDP policy names it.
    #[command(after_help = "Examples:\n  domo groups delete 1324037627 --yes")]
    Delete {
        /// The group id.
        id: u64,
        /// Delete without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Add users to a group: they gain the rows of every policy that names it.
    #[command(after_help = "Examples:\n  domo groups add-member 1324037627 1002 1003")]
    AddMember {
        /// The group id.
        group: u64,
        /// The user ids.
        #[arg(required = true)]
        users: Vec<u64>,
    },
    /// Remove users from a group: they lose the rows they saw only through it.
    #[command(after_help = "Examples:\n  domo groups remove-member 1324037627 1002")]
    RemoveMember {
        /// The group id.
        group: u64,
        /// The user ids.
        #[arg(required = true)]
        users: Vec<u64>,
    },
}

pub(crate) fn users(args: UsersArgs) -> anyhow::Result<Outcome> {
    let connection = args.connection.connect()?;
    let format = match args.command {
        UsersCommand::List { format } => format,
        command => return write_users(&connection.client, command),
    };
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
        command @ (GroupsCommand::Create { .. }
        | GroupsCommand::Update { .. }
        | GroupsCommand::Delete { .. }
        | GroupsCommand::AddMember { .. }
        | GroupsCommand::RemoveMember { .. }) => return write_groups(client, command),
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

/// Prints a user as `create` and `update` answer it: its id, or the whole user as JSON.
fn print_user(user: &User, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => output::json(user),
        Format::Table | Format::Csv | Format::Markdown => output::text(&user.id.to_string()),
    }
}

fn print_group(group: &Group, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => output::json(group),
        Format::Table | Format::Csv | Format::Markdown => output::text(&group.id.to_string()),
    }
}

fn write_users(client: &domo_http::Client, command: UsersCommand) -> anyhow::Result<Outcome> {
    match command {
        UsersCommand::List { .. } => {}
        UsersCommand::Create { name, email, role, profile, format } => {
            let create = UserCreate {
                name,
                email,
                role: Role::from(role.as_str()),
                send_invite: None,
                title: profile.title,
                alternate_email: None,
                phone: profile.phone,
                location: profile.location,
                timezone: None,
                locale: None,
                employee_number: profile.employee_number,
            };
            let user = super::block_on(async { Ok(client.create_user(&create).await?) })?;
            output::note(format!("created user {} `{}`", user.id, user.name));
            print_user(&user, format)?;
        }
        UsersCommand::Update { id, name, email, role, profile, format } => {
            let update = UserUpdate {
                name,
                email,
                role: role.as_deref().map(Role::from),
                title: profile.title,
                phone: profile.phone,
                location: profile.location,
                employee_number: profile.employee_number,
                ..UserUpdate::default()
            };
            if update == UserUpdate::default() {
                bail!(
                    "nothing to update: give --name, --email, --role, --title, --phone, --location or --employee-number"
                );
            }
            let user = super::block_on(async { Ok(client.update_user(UserId(id), &update).await?) })?;
            print_user(&user, format)?;
        }
        UsersCommand::Delete { id, yes } => {
            let id = UserId(id);
            let user = super::block_on(async { Ok(client.get_user(id).await?) })?;
            if !output::confirm(&format!("delete user {id} `{}`", user.name), yes)? {
                output::note("delete cancelled: nothing deleted");
                return Ok(Outcome::Findings);
            }
            super::block_on(async { Ok(client.delete_user(id).await?) })?;
            output::note(format!("deleted user {id} `{}`", user.name));
        }
    }
    Ok(Outcome::Ok)
}

fn write_groups(client: &domo_http::Client, command: GroupsCommand) -> anyhow::Result<Outcome> {
    match command {
        GroupsCommand::List { .. } | GroupsCommand::Members { .. } => {}
        GroupsCommand::Create { name, format } => {
            let group = super::block_on(async {
                Ok(client.create_group(&GroupCreate { name, default: None, active: None }).await?)
            })?;
            output::note(format!("created group {} `{}`", group.id, group.name));
            print_group(&group, format)?;
        }
        GroupsCommand::Update { id, name, format } => {
            let update = GroupUpdate { name: Some(name), active: None };
            let group = super::block_on(async { Ok(client.update_group(GroupId(id), &update).await?) })?;
            print_group(&group, format)?;
        }
        GroupsCommand::Delete { id, yes } => {
            let id = GroupId(id);
            let group = super::block_on(async { Ok(client.get_group(id).await?) })?;
            let members = group.member_count.map(|n| format!(" and its {n} memberships")).unwrap_or_default();
            if !output::confirm(&format!("delete group {id} `{}`{members}", group.name), yes)? {
                output::note("delete cancelled: nothing deleted");
                return Ok(Outcome::Findings);
            }
            super::block_on(async { Ok(client.delete_group(id).await?) })?;
            output::note(format!("deleted group {id} `{}`", group.name));
        }
        GroupsCommand::AddMember { group, users } => {
            let group = GroupId(group);
            for user in users.into_iter().map(UserId) {
                super::block_on(async { Ok(client.add_group_member(group, user).await?) })?;
                output::note(format!("added user {user} to group {group}"));
            }
        }
        GroupsCommand::RemoveMember { group, users } => {
            let group = GroupId(group);
            for user in users.into_iter().map(UserId) {
                super::block_on(async { Ok(client.remove_group_member(group, user).await?) })?;
                output::note(format!("removed user {user} from group {group}"));
            }
        }
    }
    Ok(Outcome::Ok)
}
