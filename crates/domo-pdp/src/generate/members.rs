//! The `user_group` column: users by id, email or name, groups by id or name, resolved against the directory.

use std::collections::HashMap;

use domo_model::{Directory, GroupId, UserId};

use crate::table::shorten;

/// A user or a group a policy applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Member {
    User(UserId),
    Group(GroupId),
}

/// Which kinds an entry may name: `user:` and `group:` prefixes narrow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kinds {
    Both,
    Users,
    Groups,
}

/// The directory indexed for resolving entries, and the member sets seen so far.
#[derive(Debug)]
pub(crate) struct Members<'d> {
    directory: &'d Directory,
    user_ids: HashMap<u64, usize>,
    group_ids: HashMap<u64, usize>,
    /// Lower-cased email to users.
    emails: HashMap<String, Vec<usize>>,
    user_names: HashMap<&'d str, Vec<usize>>,
    group_names: HashMap<&'d str, Vec<usize>>,
    /// Each distinct `user_group` cell, resolved once: its member set, or the problems.
    cells: HashMap<String, Result<u32, Vec<String>>>,
    sets: HashMap<Vec<Member>, u32>,
    set_list: Vec<Vec<Member>>,
}

impl<'d> Members<'d> {
    pub(crate) fn new(directory: &'d Directory) -> Self {
        let mut members = Self {
            directory,
            user_ids: HashMap::new(),
            group_ids: HashMap::new(),
            emails: HashMap::new(),
            user_names: HashMap::new(),
            group_names: HashMap::new(),
            cells: HashMap::new(),
            sets: HashMap::new(),
            set_list: Vec::new(),
        };
        for (index, user) in directory.users.iter().enumerate() {
            members.user_ids.entry(user.id.get()).or_insert(index);
            if let Some(email) = &user.email {
                members.emails.entry(email.to_lowercase()).or_default().push(index);
            }
            members.user_names.entry(user.name.as_str()).or_default().push(index);
        }
        for (index, group) in directory.groups.iter().enumerate() {
            members.group_ids.entry(group.id.get()).or_insert(index);
            members.group_names.entry(group.name.as_str()).or_default().push(index);
        }
        members
    }

    /// The member set of a `user_group` cell (`|`-separated entries), or what is wrong with it.
    pub(crate) fn resolve(&mut self, cell: &str) -> Result<u32, Vec<String>> {
        if let Some(known) = self.cells.get(cell) {
            return known.clone();
        }
        let resolved = self.resolve_new(cell);
        self.cells.insert(cell.to_owned(), resolved.clone());
        resolved
    }

    /// The members of a set returned by [`Members::resolve`], sorted.
    pub(crate) fn set(&self, id: u32) -> &[Member] {
        self.set_list.get(id as usize).map_or(&[], Vec::as_slice)
    }

    fn resolve_new(&mut self, cell: &str) -> Result<u32, Vec<String>> {
        let mut problems = Vec::new();
        let mut set = Vec::new();
        if cell.trim().is_empty() {
            return Err(vec![
                "no user or group: name at least one (users by id, email or name, groups by id or name, `|`-separated)"
                    .to_owned(),
            ]);
        }
        for (position, entry) in cell.split('|').enumerate() {
            let entry = entry.trim();
            if entry.is_empty() {
                problems.push(format!("entry {} is empty (`{}`)", position + 1, shorten(cell.as_bytes())));
                continue;
            }
            match self.entry(entry) {
                Ok(member) => set.push(member),
                Err(problem) => problems.push(problem),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        set.sort_unstable();
        set.dedup();
        let next = u32::try_from(self.set_list.len()).unwrap_or(u32::MAX);
        let id = *self.sets.entry(set.clone()).or_insert(next);
        if id == next {
            self.set_list.push(set);
        }
        Ok(id)
    }

    /// One entry: `27`, `guest@example.com`, `Guest`, `Sales`, or any of these after `user:` or `group:`.
    fn entry(&self, entry: &str) -> Result<Member, String> {
        let (kinds, name) = match entry.split_once(':') {
            Some((prefix, rest)) if prefix.trim().eq_ignore_ascii_case("user") => (Kinds::Users, rest.trim()),
            Some((prefix, rest)) if prefix.trim().eq_ignore_ascii_case("group") => (Kinds::Groups, rest.trim()),
            _ => (Kinds::Both, entry),
        };
        let mut found: Vec<Member> = Vec::new();
        let users = kinds != Kinds::Groups;
        let groups = kinds != Kinds::Users;
        if let Ok(id) = name.parse::<u64>() {
            if users && let Some(&i) = self.user_ids.get(&id) {
                found.extend(self.directory.users.get(i).map(|u| Member::User(u.id)));
            }
            if groups && let Some(&i) = self.group_ids.get(&id) {
                found.extend(self.directory.groups.get(i).map(|g| Member::Group(g.id)));
            }
        }
        if users && name.contains('@') {
            for &i in self.emails.get(&name.to_lowercase()).map_or(&[][..], Vec::as_slice) {
                found.extend(self.directory.users.get(i).map(|u| Member::User(u.id)));
            }
        }
        if users {
            for &i in self.user_names.get(name).map_or(&[][..], Vec::as_slice) {
                found.extend(self.directory.users.get(i).map(|u| Member::User(u.id)));
            }
        }
        if groups {
            for &i in self.group_names.get(name).map_or(&[][..], Vec::as_slice) {
                found.extend(self.directory.groups.get(i).map(|g| Member::Group(g.id)));
            }
        }
        found.sort_unstable();
        found.dedup();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => {
                let what = match kinds {
                    Kinds::Both => "user or group",
                    Kinds::Users => "user",
                    Kinds::Groups => "group",
                };
                Err(format!(
                    "unknown {what} `{}`: no {what} in the directory has this id{}name",
                    shorten(entry.as_bytes()),
                    if groups && !users { " or " } else { ", email or " }
                ))
            }
            many => {
                let named: Vec<String> = many.iter().map(|m| self.describe(*m)).collect();
                Err(format!(
                    "`{}` is ambiguous: it names {} (write `user:ID` or `group:ID` to pick one)",
                    shorten(entry.as_bytes()),
                    named.join(" and ")
                ))
            }
        }
    }

    pub(crate) fn describe(&self, member: Member) -> String {
        match member {
            Member::User(id) => match self.directory.user(id) {
                Some(user) => format!("user {id} `{}`", shorten(user.name.as_bytes())),
                None => format!("user {id}"),
            },
            Member::Group(id) => match self.directory.group(id) {
                Some(group) => format!("group {id} `{}`", shorten(group.name.as_bytes())),
                None => format!("group {id}"),
            },
        }
    }
}
