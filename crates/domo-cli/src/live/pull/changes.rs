//! What a re-pull changes in a DataSet's files and in directory.json, in words: pure functions of old and new.

use std::collections::{BTreeMap, BTreeSet};

use domo_model::{Directory, Policy};
use serde_json::Value;

/// The policies of policies.json that a pull adds, changes and removes, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PolicyChanges {
    pub(crate) added: Vec<String>,
    /// `name`, or `old → new` for a policy renamed live.
    pub(crate) changed: Vec<String>,
    pub(crate) removed: Vec<String>,
}

impl PolicyChanges {
    /// `policies added `A`, changed `B`, removed `C``, or nothing.
    pub(crate) fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        for (verb, names) in [("added", &self.added), ("changed", &self.changed), ("removed", &self.removed)] {
            if !names.is_empty() {
                parts.push(format!("{verb} {}", names.join(", ")));
            }
        }
        (!parts.is_empty()).then(|| format!("policies {}", parts.join("; ")))
    }
}

/// Matches `old` policies to `new` ones, by id when both have one, else by
/// name (in order, for names given twice), and says what changed.
pub(crate) fn policy_changes(old: &[Policy], new: &[Policy]) -> PolicyChanges {
    let mut used = vec![false; new.len()];
    let mut changes = PolicyChanges::default();
    let mut unmatched_old = Vec::new();
    for policy in old {
        let by_id = policy.id.and_then(|id| new.iter().position(|p| p.id == Some(id)));
        match by_id {
            Some(index) => {
                if let Some(slot) = used.get_mut(index) {
                    *slot = true;
                }
                if let Some(now) = new.get(index) {
                    note_change(&mut changes, policy, now);
                }
            }
            None => unmatched_old.push(policy),
        }
    }
    for policy in unmatched_old {
        let by_name = new.iter().enumerate().position(|(i, p)| !is_used(&used, i) && p.name == policy.name);
        match by_name {
            Some(index) => {
                if let Some(slot) = used.get_mut(index) {
                    *slot = true;
                }
                if let Some(now) = new.get(index) {
                    note_change(&mut changes, policy, now);
                }
            }
            None => changes.removed.push(quote(&policy.name)),
        }
    }
    for (index, policy) in new.iter().enumerate() {
        if !is_used(&used, index) {
            changes.added.push(quote(&policy.name));
        }
    }
    changes
}

fn note_change(changes: &mut PolicyChanges, old: &Policy, new: &Policy) {
    if old == new {
        return;
    }
    if old.name == new.name {
        changes.changed.push(quote(&new.name));
    } else {
        changes.changed.push(format!("{} → {}", quote(&old.name), quote(&new.name)));
    }
}

fn is_used(used: &[bool], index: usize) -> bool {
    used.get(index).copied().unwrap_or(true)
}

fn quote(text: &str) -> String {
    format!("`{text}`")
}

/// The fields of dataset.json that decide who sees what, said first and in this order.
const MAIN: [&str; 5] = ["name", "owner", "pdpEnabled", "schema", "description"];

/// What differs between an old and a new dataset.json, in words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DatasetChanges {
    /// Name, owner, PDP switch, schema, description: `pdpEnabled false → true`,
    /// `owner 1001 → 27`, `schema: column `Region` added (STRING)`.
    pub(crate) main: Vec<String>,
    /// Every other field, by name: `rows 6 → 8`, `updatedAt changed`.
    pub(crate) details: Vec<String>,
}

/// What differs between an old and a new dataset.json, field by field.
pub(crate) fn dataset_changes(old: &Value, new: &Value) -> DatasetChanges {
    let empty = serde_json::Map::new();
    let (old, new) = (old.as_object().unwrap_or(&empty), new.as_object().unwrap_or(&empty));
    let keys: BTreeSet<&str> = old.keys().chain(new.keys()).map(String::as_str).collect();
    let mut ordered: Vec<&str> = MAIN.iter().copied().filter(|k| keys.contains(k)).collect();
    ordered.extend(keys.iter().copied().filter(|k| !MAIN.contains(k)));
    let mut changes = DatasetChanges::default();
    for key in ordered {
        let (before, after) = (old.get(key), new.get(key));
        if before == after {
            continue;
        }
        let change = match key {
            "schema" => format!("schema: {}", schema_changes(before, after).join(", ")),
            "owner" => {
                format!("owner {} → {}", show(before.and_then(|o| o.get("id"))), show(after.and_then(|o| o.get("id"))))
            }
            "name" | "pdpEnabled" | "rows" | "columns" => format!("{key} {} → {}", show(before), show(after)),
            _ => format!("{key} changed"),
        };
        if MAIN.contains(&key) { &mut changes.main } else { &mut changes.details }.push(change);
    }
    changes
}

/// A JSON value as a person reads it: strings quoted in backticks, `none` when absent.
fn show(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "none".to_owned(),
        Some(Value::String(text)) => quote(text),
        Some(other) => other.to_string(),
    }
}

/// Columns added, removed, retyped and reordered between two schemas.
fn schema_changes(old: Option<&Value>, new: Option<&Value>) -> Vec<String> {
    let columns = |schema: Option<&Value>| -> Vec<(String, String)> {
        schema
            .and_then(|s| s.get("columns"))
            .and_then(Value::as_array)
            .map(|columns| {
                columns
                    .iter()
                    .map(|c| {
                        let text = |field: &str| c.get(field).and_then(Value::as_str).unwrap_or_default().to_owned();
                        (text("name"), text("type"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (old, new) = (columns(old), columns(new));
    let old_types: BTreeMap<&str, &str> = old.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let new_types: BTreeMap<&str, &str> = new.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let mut changes = Vec::new();
    for (name, column_type) in &new {
        match old_types.get(name.as_str()) {
            None => changes.push(format!("column {} added ({column_type})", quote(name))),
            Some(before) if before != column_type => {
                changes.push(format!("column {} {before} → {column_type}", quote(name)));
            }
            Some(_) => {}
        }
    }
    for (name, _) in &old {
        if !new_types.contains_key(name.as_str()) {
            changes.push(format!("column {} removed", quote(name)));
        }
    }
    let order = |columns: &[(String, String)], other: &BTreeMap<&str, &str>| -> Vec<String> {
        columns.iter().filter(|(n, _)| other.contains_key(n.as_str())).map(|(n, _)| n.clone()).collect()
    };
    if changes.is_empty() && order(&old, &new_types) != order(&new, &old_types) {
        changes.push("columns reordered".to_owned());
    }
    if changes.is_empty() {
        changes.push("changed".to_owned());
    }
    changes
}

/// What differs between two directories: users and groups added and removed
/// (by id), and those changed (a name, a role, a group's members).
pub(crate) fn directory_changes(old: &Directory, new: &Directory) -> Vec<String> {
    let mut changes = Vec::new();
    let users = |d: &Directory| -> BTreeMap<String, String> {
        d.users.iter().map(|u| (u.id.to_string(), serde_json::to_string(u).unwrap_or_default())).collect()
    };
    let groups = |d: &Directory| -> BTreeMap<String, String> {
        d.groups.iter().map(|g| (g.id.to_string(), serde_json::to_string(g).unwrap_or_default())).collect()
    };
    for ((one, many), old, new) in
        [(("user", "users"), users(old), users(new)), (("group", "groups"), groups(old), groups(new))]
    {
        let added = new.keys().filter(|k| !old.contains_key(*k)).count();
        let removed = old.keys().filter(|k| !new.contains_key(*k)).count();
        let changed = new.iter().filter(|(k, v)| old.get(*k).is_some_and(|o| o != *v)).count();
        let mut parts = Vec::new();
        for (count, verb) in [(added, "added"), (removed, "removed"), (changed, "changed")] {
            if count > 0 {
                parts.push(format!("{} {verb}", crate::output::count(count, one, many)));
            }
        }
        if !parts.is_empty() {
            changes.push(parts.join(", "));
        }
    }
    if changes.is_empty() && old.roles != new.roles {
        changes.push("roles changed".to_owned());
    }
    changes
}

#[cfg(test)]
mod tests {
    use domo_model::{FilterOperator, PolicyFilter, PolicyId, PolicyType, UserId};
    use serde_json::json;

    use super::*;

    fn policy(id: Option<u64>, name: &str, value: &str) -> Policy {
        Policy {
            id: id.map(PolicyId),
            policy_type: PolicyType::User,
            name: name.to_owned(),
            filters: vec![PolicyFilter {
                column: "Region".to_owned(),
                values: vec![value.to_owned()],
                operator: FilterOperator::Equals,
                not: false,
            }],
            users: vec![UserId(27)],
            virtual_users: vec![],
            groups: vec![],
        }
    }

    fn check(old: Vec<Policy>, new: Vec<Policy>, expected: Option<&str>) {
        assert_eq!(policy_changes(&old, &new).describe().as_deref(), expected);
    }

    #[test]
    fn policies_are_matched_by_id_then_by_name() {
        let east = policy(Some(1), "East", "East");
        let west = policy(Some(2), "West", "West");
        check(vec![east.clone(), west.clone()], vec![east.clone(), west.clone()], None);
        check(vec![east.clone()], vec![east.clone(), west.clone()], Some("policies added `West`"));
        check(vec![east.clone(), west.clone()], vec![west.clone()], Some("policies removed `East`"));
        check(vec![east.clone()], vec![policy(Some(1), "East", "North")], Some("policies changed `East`"));
        check(
            vec![east.clone()],
            vec![policy(Some(1), "Eastern", "East")],
            Some("policies changed `East` → `Eastern`"),
        );
        // Recreated live under a new id: the same name, so a change, not a removal and an addition.
        check(vec![east.clone()], vec![policy(Some(9), "East", "East")], Some("policies changed `East`"));
        check(
            vec![east.clone(), west],
            vec![policy(Some(1), "East", "North"), policy(Some(3), "South", "South")],
            Some("policies added `South`; changed `East`; removed `West`"),
        );
        // A local file without ids (written by hand or generated) matches by name.
        check(vec![policy(None, "East", "East")], vec![east], Some("policies changed `East`"));
    }

    #[test]
    fn dataset_fields_are_said_in_words() {
        let old = json!({"id": "d", "name": "Sales", "rows": 6, "pdpEnabled": false, "owner": {"id": 1001, "name": "Euler"},
            "schema": {"columns": [{"type": "STRING", "name": "Region"}, {"type": "LONG", "name": "Amount"}]},
            "updatedAt": "2026-01-01T00:00:00Z"});
        assert_eq!(dataset_changes(&old, &old), DatasetChanges::default());
        let new = json!({"id": "d", "name": "Sales EMEA", "rows": 8, "pdpEnabled": true, "owner": {"id": 27, "name": "Support"},
            "schema": {"columns": [{"type": "STRING", "name": "Region"}, {"type": "DOUBLE", "name": "Amount"},
                                   {"type": "DATE", "name": "Day"}]},
            "updatedAt": "2026-01-02T00:00:00Z"});
        let changes = dataset_changes(&old, &new);
        assert_eq!(
            changes.main,
            [
                "name `Sales` → `Sales EMEA`",
                "owner 1001 → 27",
                "pdpEnabled false → true",
                "schema: column `Amount` LONG → DOUBLE, column `Day` added (DATE)",
            ]
        );
        assert_eq!(changes.details, ["rows 6 → 8", "updatedAt changed"]);
        let reordered =
            json!({"schema": {"columns": [{"type": "LONG", "name": "Amount"}, {"type": "STRING", "name": "Region"}]}});
        let dropped = json!({"schema": {"columns": [{"type": "STRING", "name": "Region"}]}});
        let only = |v: &Value| json!({"schema": v["schema"].clone()});
        assert_eq!(dataset_changes(&only(&old), &reordered).main, ["schema: columns reordered"]);
        assert_eq!(dataset_changes(&only(&old), &dropped).main, ["schema: column `Amount` removed"]);
    }

    #[test]
    fn directory_changes_are_counted() {
        let directory = |users: &[(u64, &str)]| -> Directory {
            let users = users
                .iter()
                .map(|(id, name)| serde_json::from_value(json!({"id": id, "name": name})).unwrap())
                .collect();
            Directory { users, groups: vec![], roles: vec![] }
        };
        let old = directory(&[(1, "Ada"), (2, "Alan")]);
        assert!(directory_changes(&old, &old).is_empty());
        let new = directory(&[(1, "Ada L."), (3, "Grace"), (4, "Emmy")]);
        assert_eq!(directory_changes(&old, &new), ["2 users added, 1 user removed, 1 user changed"]);
    }
}
