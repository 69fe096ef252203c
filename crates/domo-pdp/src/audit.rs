//! Auditing many DataSets at once, without I/O: PDP switched at odds with the
//! policies, policies naming users or groups the directory no longer has,
//! users a policy names who see no row of the sample, the same policy repeated
//! across DataSets, and everything one user sees across them.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use domo_model::{Dataset, DatasetId, Directory, GroupId, Policy, PolicyFilter, UserId};

// The one severity of compile and lint findings (named `Severity` once lint's own is merged into it).
use crate::Severity;
use crate::{AllCounts, PdpMode, PolicySet, Reason};

/// One DataSet to audit: its settings, its policies, and a sample of its rows if there is one.
#[derive(Debug, Clone, Copy)]
pub struct AuditInput<'a> {
    /// Id, name, schema, owner and `pdpEnabled`.
    pub dataset: &'a Dataset,
    /// Its policies.
    pub policies: &'a [Policy],
    /// Parallel to `policies`: whether each already comes from a shared definition
    /// (so that it is not suggested for sharing again). Shorter means not shared.
    pub shared: &'a [bool],
    /// What its policies show of a sample of its rows: every principal's count, as
    /// [`PolicySet::all_counts_csv`] gives it for the policies compiled with `pdpEnabled` true (the
    /// rows stream by, so no sample is ever held whole). Who sees nothing and [`user_access`]'s row
    /// counts are read from it; a user it leaves out (to keep many DataSets' counts small, a
    /// caller may keep only the users who see no row and the user it asks about) is taken to see
    /// some row, and has no count.
    pub sample: Option<&'a AllCounts>,
}

/// What an audit found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditKind {
    /// User policies exist but PDP is off: they have no effect, everyone with access sees every row.
    PoliciesButPdpOff {
        /// How many user policies.
        policies: usize,
    },
    /// PDP is on with no policy: Domo treats it as off (deleting the last
    /// policy turns PDP off), so everyone with access sees every row.
    PdpOnWithoutPolicy,
    /// PDP is off and there is no user policy: everyone with access sees every row.
    PdpOff,
    /// The policies do not compile against the DataSet's schema and the directory.
    DoesNotCompile {
        /// The compile errors.
        errors: Vec<String>,
    },
    /// A policy names a user the directory does not have.
    UnknownUser {
        /// The policy's name.
        policy: String,
        /// The user.
        user: UserId,
    },
    /// A policy names a group the directory does not have.
    UnknownGroup {
        /// The policy's name.
        policy: String,
        /// The group.
        group: GroupId,
    },
    /// A user some policy names sees no row of the sample.
    SeesNothing {
        /// The user.
        user: UserId,
        /// The policies that name them.
        policies: Vec<String>,
    },
    /// The same filters and members on several DataSets: a candidate for one shared policy.
    RepeatedPolicy {
        /// The policy's name on each DataSet, with the DataSet.
        uses: Vec<(DatasetId, String)>,
    },
}

/// One finding, on one DataSet (or on several, for a repeated policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFinding {
    /// Error (access wider than the policies say, or policies that cannot be
    /// checked), warning (probably wrong), note (worth knowing).
    pub severity: Severity,
    /// The DataSet, with its name; `None` for a finding across DataSets.
    pub dataset: Option<(DatasetId, String)>,
    /// What was found.
    pub kind: AuditKind,
}

impl AuditKind {
    /// `policies-but-pdp-off`, …: a stable name for JSON and CSV.
    pub fn code(&self) -> &'static str {
        match self {
            AuditKind::PoliciesButPdpOff { .. } => "policies-but-pdp-off",
            AuditKind::PdpOnWithoutPolicy => "pdp-on-without-policy",
            AuditKind::PdpOff => "pdp-off",
            AuditKind::DoesNotCompile { .. } => "does-not-compile",
            AuditKind::UnknownUser { .. } => "unknown-user",
            AuditKind::UnknownGroup { .. } => "unknown-group",
            AuditKind::SeesNothing { .. } => "sees-nothing",
            AuditKind::RepeatedPolicy { .. } => "repeated-policy",
        }
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted = |names: &[String]| names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
        match self {
            AuditKind::PoliciesButPdpOff { policies } => write!(
                f,
                "PDP is off, so its {policies} {} no effect: everyone with access sees every row \
                 (`domo pdp enable` turns it on)",
                if *policies == 1 { "policy has" } else { "policies have" }
            ),
            AuditKind::PdpOnWithoutPolicy => f.write_str(
                "PDP is on but there is no policy: Domo treats it as off, so everyone with access sees every row",
            ),
            AuditKind::PdpOff => {
                f.write_str("PDP is off and there is no user policy: everyone with access sees every row")
            }
            AuditKind::DoesNotCompile { errors } => {
                write!(f, "the policies do not compile, so who sees what is unknown: {}", errors.join("; "))
            }
            AuditKind::UnknownUser { policy, user } => {
                write!(f, "policy `{policy}` names user `{user}`, who is not in the directory")
            }
            AuditKind::UnknownGroup { policy, group } => {
                write!(f, "policy `{policy}` names group `{group}`, which is not in the directory")
            }
            AuditKind::SeesNothing { user, policies } => {
                write!(f, "user `{user}` sees no row of the sample although {} names them", quoted(policies))
            }
            AuditKind::RepeatedPolicy { uses } => write!(
                f,
                "the same filters and members on {} DataSets ({}): a candidate for one policy under `shared/`",
                uses.len(),
                uses.iter().map(|(id, name)| format!("`{name}` on {id}")).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

/// Filters and members, whatever the order or the name: what makes two policies the same.
type PolicyKey = (Vec<PolicyFilter>, Vec<UserId>, Vec<GroupId>, Vec<String>);

fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items.dedup();
    items
}

fn key(policy: &Policy) -> PolicyKey {
    let filters = policy
        .filters
        .iter()
        .map(|f| PolicyFilter { values: sorted(f.values.clone()), ..f.clone() })
        .collect::<Vec<_>>();
    (sorted(filters), sorted(policy.users.clone()), sorted(policy.groups.clone()), sorted(policy.virtual_users.clone()))
}

/// Audits every DataSet, in the order given; findings across DataSets come last.
pub fn audit(datasets: &[AuditInput<'_>], directory: &Directory) -> Vec<AuditFinding> {
    let users: HashSet<UserId> = directory.users.iter().map(|u| u.id).collect();
    let groups: HashSet<GroupId> = directory.groups.iter().map(|g| g.id).collect();
    let mut findings = Vec::new();
    let mut repeated: BTreeMap<PolicyKey, Vec<(DatasetId, String)>> = BTreeMap::new();
    for input in datasets {
        let dataset = input.dataset;
        let at = Some((dataset.id.clone(), dataset.name.clone()));
        let mut push = |severity, kind| findings.push(AuditFinding { severity, dataset: at.clone(), kind });
        let user_policies = input.policies.iter().filter(|p| p.policy_type == domo_model::PolicyType::User).count();
        // The built-in All Rows policy every DataSet has does not count as a policy someone wrote.
        match (dataset.pdp_enabled, user_policies) {
            (false, 0) => push(Severity::Note, AuditKind::PdpOff),
            (false, policies) => push(Severity::Error, AuditKind::PoliciesButPdpOff { policies }),
            (true, _) if input.policies.is_empty() => push(Severity::Error, AuditKind::PdpOnWithoutPolicy),
            (true, _) => {}
        }
        for policy in input.policies {
            for user in policy.users.iter().filter(|u| !users.contains(u)) {
                push(Severity::Warning, AuditKind::UnknownUser { policy: policy.name.clone(), user: *user });
            }
            for group in policy.groups.iter().filter(|g| !groups.contains(g)) {
                push(Severity::Warning, AuditKind::UnknownGroup { policy: policy.name.clone(), group: *group });
            }
        }
        for (index, policy) in input.policies.iter().enumerate() {
            let shared = input.shared.get(index).copied().unwrap_or(false);
            if !shared && policy.policy_type == domo_model::PolicyType::User && !policy.filters.is_empty() {
                repeated.entry(key(policy)).or_default().push((dataset.id.clone(), policy.name.clone()));
            }
        }
        let set = match PolicySet::compile(&Dataset { pdp_enabled: true, ..dataset.clone() }, input.policies, directory)
        {
            Ok(set) => set,
            Err(error) => {
                push(
                    Severity::Error,
                    AuditKind::DoesNotCompile { errors: error.errors.iter().map(ToString::to_string).collect() },
                );
                continue;
            }
        };
        // Who sees nothing, on the sample, when the policies decide.
        let Some(counts) = input.sample else { continue };
        if !dataset.pdp_enabled || user_policies == 0 || set.mode() == PdpMode::Disabled || counts.rows == 0 {
            continue;
        }
        for count in &counts.users {
            if count.reason != Reason::Policies || count.rows > 0 {
                continue;
            }
            let access = set.access(count.user);
            let policies = access
                .policies
                .iter()
                .filter_map(|m| set.policies().get(m.policy.index()).map(|p| p.source().name.clone()))
                .collect();
            push(Severity::Warning, AuditKind::SeesNothing { user: count.user, policies });
        }
    }
    for uses in repeated.into_values() {
        let distinct: HashSet<&DatasetId> = uses.iter().map(|(id, _)| id).collect();
        if distinct.len() > 1 {
            findings.push(AuditFinding {
                severity: Severity::Note,
                dataset: None,
                kind: AuditKind::RepeatedPolicy { uses },
            });
        }
    }
    findings
}

/// What one user sees of one DataSet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSees {
    /// Every row, and why (owner, Admin, role grant, All Rows, PDP off).
    AllRows(Reason),
    /// No row: in no policy.
    NoRows,
    /// The rows the named policies admit: counted on the sample when there is one.
    Rows {
        /// Rows seen and rows in the sample; `None` without a sample.
        sample: Option<(usize, usize)>,
        /// The policies that name the user (directly, by group or virtually).
        policies: Vec<String>,
    },
    /// The policies do not compile: unknown.
    Unknown,
}

/// What a user sees on each DataSet, in the order given.
pub fn user_access(
    datasets: &[AuditInput<'_>],
    directory: &Directory,
    user: UserId,
) -> Vec<(DatasetId, String, UserSees)> {
    datasets
        .iter()
        .map(|input| {
            let dataset = input.dataset;
            let sees = match PolicySet::compile(dataset, input.policies, directory) {
                Err(_) => UserSees::Unknown,
                Ok(set) => {
                    let access = set.access(user);
                    match access.reason {
                        Reason::NoPolicy => UserSees::NoRows,
                        Reason::Policies => {
                            let policies = access
                                .policies
                                .iter()
                                .filter_map(|m| set.policies().get(m.policy.index()).map(|p| p.source().name.clone()))
                                .collect();
                            let sample = input.sample.and_then(|counts| {
                                let count =
                                    counts.users.iter().chain(&counts.beyond_directory).find(|c| c.user == user)?;
                                Some((count.rows, counts.rows))
                            });
                            UserSees::Rows { sample, policies }
                        }
                        reason => UserSees::AllRows(reason),
                    }
                }
            };
            (dataset.id.clone(), dataset.name.clone(), sees)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use domo_model::{Column, ColumnType, FilterOperator, Owner, PolicyType, Role, Schema, User};

    use super::*;

    fn dataset(id: &str, pdp: bool) -> Dataset {
        let mut dataset: Dataset = serde_json::from_value(serde_json::json!({"id": id, "name": format!("DS {id}"),
            "schema": {"columns": [{"name": "Region", "type": "STRING"}]}}))
        .unwrap_or_else(|e| unreachable!("{e}"));
        dataset.pdp_enabled = pdp;
        dataset.owner = Some(Owner { id: UserId(9), name: Some("Owner".to_owned()) });
        dataset.schema = Schema { columns: vec![Column::new(ColumnType::String, "Region")] };
        dataset
    }

    fn policy(name: &str, region: &str, users: &[u64], groups: &[u64]) -> Policy {
        Policy {
            id: None,
            policy_type: PolicyType::User,
            name: name.to_owned(),
            filters: vec![PolicyFilter {
                column: "Region".to_owned(),
                values: vec![region.to_owned()],
                operator: FilterOperator::Equals,
                not: false,
            }],
            users: users.iter().map(|u| UserId(*u)).collect(),
            virtual_users: vec![],
            groups: groups.iter().map(|g| GroupId(*g)).collect(),
        }
    }

    fn directory() -> Directory {
        let mut directory = Directory::default();
        for (id, role) in [(1, Role::Participant), (2, Role::Participant), (9, Role::Admin)] {
            directory.users.push(User::new(UserId(id), format!("User {id}"), role));
        }
        directory
    }

    /// The counts of `policies` on `rows` (one Region a line), as a caller streams them for the audit.
    fn sample(dataset: &Dataset, policies: &[Policy], rows: &str) -> AllCounts {
        let on = Dataset { pdp_enabled: true, ..dataset.clone() };
        let set = PolicySet::compile(&on, policies, &directory()).unwrap_or_else(|e| unreachable!("{e}"));
        let options = crate::BatchOptions { header: crate::HeaderRow::Absent, ..crate::BatchOptions::default() };
        set.all_counts_csv(rows.as_bytes(), options).unwrap_or_else(|e| unreachable!("{e}"))
    }

    fn check(inputs: &[AuditInput<'_>], expected: &[&str]) {
        let found: Vec<String> = audit(inputs, &directory())
            .iter()
            .map(|f| {
                let at = f.dataset.as_ref().map(|(id, _)| id.as_str().to_owned()).unwrap_or_else(|| "*".to_owned());
                format!("{} {at} {}: {}", f.severity, f.kind.code(), f.kind)
            })
            .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn each_kind_of_finding_is_reported_with_its_dataset() {
        let (on, off, empty_on, empty_off) =
            (dataset("a", true), dataset("b", false), dataset("c", true), dataset("d", false));
        let east = [policy("East", "East", &[1], &[]), policy("Ghosts", "West", &[77], &[5])];
        let on_policies = [policy("East too", "East", &[1], &[]), policy("North", "North", &[2], &[])];
        let rows = sample(&on, &on_policies, "East\nWest\n");
        check(
            &[
                AuditInput { dataset: &on, policies: &on_policies, shared: &[], sample: Some(&rows) },
                AuditInput { dataset: &off, policies: &east, shared: &[], sample: None },
                AuditInput { dataset: &empty_on, policies: &[], shared: &[], sample: None },
                AuditInput { dataset: &empty_off, policies: &[], shared: &[], sample: None },
            ],
            &[
                "warning a sees-nothing: user `2` sees no row of the sample although `North` names them",
                "error b policies-but-pdp-off: PDP is off, so its 2 policies have no effect: everyone with access \
                 sees every row (`domo pdp enable` turns it on)",
                "warning b unknown-user: policy `Ghosts` names user `77`, who is not in the directory",
                "warning b unknown-group: policy `Ghosts` names group `5`, which is not in the directory",
                "error c pdp-on-without-policy: PDP is on but there is no policy: Domo treats it as off, so everyone \
                 with access sees every row",
                "note d pdp-off: PDP is off and there is no user policy: everyone with access sees every row",
                "note * repeated-policy: the same filters and members on 2 DataSets (`East too` on a, `East` on b): a \
                 candidate for one policy under `shared/`",
            ],
        );
    }

    #[test]
    fn a_policy_already_shared_is_not_suggested_again() {
        let (a, b) = (dataset("a", true), dataset("b", true));
        let policies = [policy("East", "East", &[1], &[])];
        check(
            &[
                AuditInput { dataset: &a, policies: &policies, shared: &[true], sample: None },
                AuditInput { dataset: &b, policies: &policies, shared: &[true], sample: None },
            ],
            &[],
        );
    }

    #[test]
    fn a_user_sees_rows_through_named_policies_or_everything_or_nothing() {
        let (a, b, c) = (dataset("a", true), dataset("b", false), dataset("c", true));
        let policies = [policy("East", "East", &[1], &[]), policy("West", "West", &[2], &[])];
        let rows = sample(&a, &policies, "East\nWest\nEast\n");
        let inputs = [
            AuditInput { dataset: &a, policies: &policies, shared: &[], sample: Some(&rows) },
            AuditInput { dataset: &b, policies: &policies, shared: &[], sample: None },
            AuditInput { dataset: &c, policies: &policies[1..], shared: &[], sample: None },
        ];
        let seen: Vec<UserSees> =
            user_access(&inputs, &directory(), UserId(1)).into_iter().map(|(_, _, s)| s).collect();
        assert_eq!(
            seen,
            [
                UserSees::Rows { sample: Some((2, 3)), policies: vec!["East".to_owned()] },
                UserSees::AllRows(Reason::PdpDisabled),
                UserSees::NoRows,
            ]
        );
        let owner: Vec<UserSees> =
            user_access(&inputs[..1], &directory(), UserId(9)).into_iter().map(|(_, _, s)| s).collect();
        assert_eq!(owner, [UserSees::AllRows(Reason::Owner)]);
    }

    #[test]
    fn a_user_left_out_of_the_counts_has_no_count_and_no_finding() {
        let a = dataset("a", true);
        let policies = [policy("North", "North", &[2], &[]), policy("East", "East", &[1], &[])];
        let mut rows = sample(&a, &policies, "East\nWest\n");
        rows.users.retain(|c| c.user != UserId(2) && c.user != UserId(1));
        let inputs = [AuditInput { dataset: &a, policies: &policies, shared: &[], sample: Some(&rows) }];
        check(&inputs, &[]);
        let seen: Vec<UserSees> =
            user_access(&inputs, &directory(), UserId(1)).into_iter().map(|(_, _, s)| s).collect();
        assert_eq!(seen, [UserSees::Rows { sample: None, policies: vec!["East".to_owned()] }]);
    }
}
