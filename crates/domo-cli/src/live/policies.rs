//! `domo policies …` and `domo pdp enable|disable`: a DataSet's PDP policies, one call at a time.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use domo_model::{
    DatasetId, DatasetUpdate, FilterOperator, GroupId, Policy, PolicyFilter, PolicyId, PolicyType, UserId,
    read_user_file,
};

use super::config::ConnectionArgs;
use super::output::{self, Align, Format};
use crate::exit::Outcome;

/// `domo policies`.
#[derive(Debug, Args)]
pub(crate) struct PoliciesArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(subcommand)]
    command: PoliciesCommand,
}

const FILTER_HELP: &str = "\
A filter is `COLUMN [NOT] OPERATOR VALUE`, where OPERATOR is EQUALS, LIKE,
GREATER_THAN, LESS_THAN, GREATER_THAN_EQUAL, LESS_THAN_EQUAL, BETWEEN,
BEGINS_WITH, ENDS_WITH or CONTAINS, and VALUE is the rest of the text, or a
JSON array for several values. Filters of one policy are ANDed.

Examples:
  domo policies create $ID --name \"Only Show Attendees\" --filter \"Attending EQUALS TRUE\" --user 27
  domo policies create $ID --name East --filter 'Region EQUALS [\"East\", \"North East\"]' --group 7
  domo policies create $ID --file policy.json
  domo policies update $ID 8 --user 27 --user 31";

#[derive(Debug, Subcommand)]
enum PoliciesCommand {
    /// List a DataSet's policies (the built-in All Rows one included).
    #[command(visible_alias = "ls", after_help = concat!(
        "Examples:\n",
        "  domo policies list $ID\n",
        "  domo policies list $ID --format json > policies.json",
    ))]
    List {
        /// The DataSet id.
        dataset: String,
        /// Output format: table (the default), json or csv.
        #[arg(long, value_parser = output::formats(output::TABULAR), default_value = "table")]
        format: Format,
    },
    /// Show one policy.
    #[command(visible_aliases = ["show", "view"], after_help = concat!(
        "Examples:\n",
        "  domo policies get $ID 8\n",
        "  domo policies get $ID 8 --format json > policy.json   # edit it, then:\n",
        "  domo policies update $ID 8 --file policy.json",
    ))]
    Get {
        /// The DataSet id.
        dataset: String,
        /// The policy id.
        policy: u64,
        /// Output format: table (the default) or json.
        #[arg(long, value_parser = output::formats(output::REPORT), default_value = "table")]
        format: Format,
    },
    /// Create a policy from flags or a JSON file; prints its id.
    #[command(after_help = FILTER_HELP)]
    Create {
        /// The DataSet id.
        dataset: String,
        #[command(flatten)]
        fields: PolicyFields,
        /// Output format: table (the default) or json.
        #[arg(long, value_parser = output::formats(output::REPORT), default_value = "table")]
        format: Format,
    },
    /// Change a policy: each field given replaces that field, the others keep their value.
    #[command(after_help = FILTER_HELP)]
    Update {
        /// The DataSet id.
        dataset: String,
        /// The policy id.
        policy: u64,
        #[command(flatten)]
        fields: PolicyFields,
        /// Output format: table (the default) or json.
        #[arg(long, value_parser = output::formats(output::REPORT), default_value = "table")]
        format: Format,
    },
    /// Delete a policy (asks first unless --yes). Deleting the last policy turns PDP off.
    #[command(visible_alias = "rm", after_help = concat!(
        "Examples:\n",
        "  domo policies delete $ID 8\n",
        "  domo policies rm $ID 8 --yes --turn-pdp-off   # the last policy: everyone with access sees every row",
    ))]
    Delete {
        /// The DataSet id.
        dataset: String,
        /// The policy id.
        policy: u64,
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
        /// Allow deleting the last policy: Domo then turns PDP off and everyone with access sees every row.
        #[arg(long)]
        turn_pdp_off: bool,
    },
}

/// A policy's fields as flags, or a whole policy from a file.
#[derive(Debug, Args)]
struct PolicyFields {
    /// The whole policy, from a JSON file (as `domo policies get` prints it).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["name", "filters", "users", "groups", "virtual_users"])]
    file: Option<PathBuf>,
    /// The policy's name.
    #[arg(long)]
    name: Option<String>,
    /// A filter, `COLUMN [NOT] OPERATOR VALUE` (repeatable; replaces all filters).
    #[arg(long = "filter", value_name = "FILTER", value_parser = parse_filter)]
    filters: Vec<PolicyFilter>,
    /// A user the policy applies to (repeatable; replaces all users).
    #[arg(long = "user", value_name = "USER_ID")]
    users: Vec<u64>,
    /// A group the policy applies to (repeatable; replaces all groups).
    #[arg(long = "group", value_name = "GROUP_ID")]
    groups: Vec<u64>,
    /// A virtual user the policy applies to (repeatable; replaces all virtual users).
    #[arg(long = "virtual-user", value_name = "NAME")]
    virtual_users: Vec<String>,
    /// Allow a policy without filters (or the All Rows type): its members see every row.
    #[arg(long)]
    no_filters: bool,
}

impl PolicyFields {
    fn read_file(&self) -> anyhow::Result<Option<Policy>> {
        let Some(path) = &self.file else { return Ok(None) };
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        Ok(Some(read_user_file(&path.display().to_string(), &text)?))
    }

    /// Applies the flags given to `policy`.
    fn apply_to(&self, policy: &mut Policy) {
        if let Some(name) = &self.name {
            policy.name.clone_from(name);
        }
        if !self.filters.is_empty() {
            policy.filters.clone_from(&self.filters);
        }
        if !self.users.is_empty() {
            policy.users = self.users.iter().copied().map(UserId).collect();
        }
        if !self.groups.is_empty() {
            policy.groups = self.groups.iter().copied().map(GroupId).collect();
        }
        if !self.virtual_users.is_empty() {
            policy.virtual_users.clone_from(&self.virtual_users);
        }
    }

    /// Refuses a policy that would show its members every row, unless `--no-filters` says it is meant.
    fn require_filters(&self, policy: &Policy) -> anyhow::Result<()> {
        if self.no_filters || (policy.policy_type != PolicyType::Open && !policy.filters.is_empty()) {
            return Ok(());
        }
        let why = if policy.policy_type == PolicyType::Open { "is an All Rows policy" } else { "has no filters" };
        bail!(
            "policy `{}` {why}: its members would see every row; give --filter, or pass --no-filters if that is meant",
            policy.name
        )
    }

    fn is_empty(&self) -> bool {
        self.file.is_none()
            && self.name.is_none()
            && self.filters.is_empty()
            && self.users.is_empty()
            && self.groups.is_empty()
            && self.virtual_users.is_empty()
    }
}

/// Refuses a policy that applies to no one: it changes no one's rows, and is
/// almost always a forgotten `--user` or `--group`.
fn require_members(policy: &Policy) -> anyhow::Result<()> {
    if policy.users.is_empty() && policy.groups.is_empty() && policy.virtual_users.is_empty() {
        bail!(
            "policy `{}` applies to no one: give --user, --group or --virtual-user (a policy without members \
             changes no one's rows); nothing was sent",
            policy.name
        );
    }
    Ok(())
}

pub(crate) fn run(args: PoliciesArgs) -> anyhow::Result<Outcome> {
    let connection = args.connection.connect()?;
    let client = &connection.client;
    match args.command {
        PoliciesCommand::List { dataset, format } => {
            let policies = super::block_on(async { Ok(client.list_policies(&DatasetId::from(dataset)).await?) })?;
            print_list(&policies, format)?;
        }
        PoliciesCommand::Get { dataset, policy, format } => {
            let policy =
                super::block_on(async { Ok(client.get_policy(&DatasetId::from(dataset), PolicyId(policy)).await?) })?;
            print_one(&policy, format)?;
        }
        PoliciesCommand::Create { dataset, fields, format } => {
            let policy = match fields.read_file()? {
                Some(policy) => {
                    if let (Some(id), Some(path)) = (policy.id, &fields.file) {
                        bail!(
                            "`{}` holds `\"id\": {id}`: creating it would add a second policy beside policy {id}; \
                             nothing was created. To change policy {id}: `domo policies update {dataset} {id} --file {}`; \
                             to create a copy, remove the id",
                            path.display(),
                            path.display()
                        );
                    }
                    policy
                }
                None => {
                    let Some(name) = fields.name.clone() else {
                        bail!("a new policy needs --name (or --file with a whole policy)");
                    };
                    let mut policy = Policy {
                        id: None,
                        policy_type: PolicyType::User,
                        name,
                        filters: Vec::new(),
                        users: Vec::new(),
                        virtual_users: Vec::new(),
                        groups: Vec::new(),
                    };
                    fields.apply_to(&mut policy);
                    policy
                }
            };
            fields.require_filters(&policy)?;
            require_members(&policy)?;
            let dataset = DatasetId::from(dataset);
            let created = super::block_on(async { Ok(client.create_policy(&dataset, &policy).await?) })?;
            stored_as_sent(&policy, &created)?;
            let id = created.id.map(|id| id.to_string()).unwrap_or_else(|| "?".to_owned());
            output::note(format!("created policy {id} `{}` on DataSet {dataset}", created.name));
            match format {
                Format::Json => output::json(&created)?,
                Format::Table | Format::Csv | Format::Markdown => output::text(&id)?,
            }
        }
        PoliciesCommand::Update { dataset, policy, fields, format } => {
            if fields.is_empty() {
                bail!("nothing to update: give --name, --filter, --user, --group, --virtual-user or --file");
            }
            let dataset = DatasetId::from(dataset);
            let id = PolicyId(policy);
            let updated = super::block_on(async {
                let policy = match fields.read_file()? {
                    Some(policy) => Policy { id: Some(id), ..policy },
                    None => {
                        let mut current = client.get_policy(&dataset, id).await?;
                        fields.apply_to(&mut current);
                        current
                    }
                };
                fields.require_filters(&policy)?;
                require_members(&policy)?;
                let updated = client.update_policy(&dataset, id, &policy).await?;
                stored_as_sent(&policy, &updated)?;
                Ok(updated)
            })?;
            output::note(format!("updated policy {id} `{}` on DataSet {dataset}", updated.name));
            print_one(&updated, format)?;
        }
        PoliciesCommand::Delete { dataset, policy, yes, turn_pdp_off } => {
            let dataset = DatasetId::from(dataset);
            let id = PolicyId(policy);
            let (current, all) = super::block_on(async {
                Ok((client.get_policy(&dataset, id).await?, client.list_policies(&dataset).await?))
            })?;
            // Deleting the last policy turns PDP off: everyone with access then sees every row.
            let last = all.iter().all(|p| p.id == Some(id));
            if last && !turn_pdp_off {
                bail!(
                    "policy {id} `{}` is the last policy of DataSet {dataset}: deleting it turns PDP off and everyone \
                     with access sees every row; nothing was deleted (pass --turn-pdp-off if that is meant)",
                    current.name
                );
            }
            let warning =
                if last { " (the last one: PDP turns off and everyone with access sees every row)" } else { "" };
            if !output::confirm(&format!("delete policy {id} `{}` of DataSet {dataset}{warning}", current.name), yes)? {
                output::note("delete cancelled: nothing deleted");
                return Ok(Outcome::Findings);
            }
            super::block_on(async { Ok(client.delete_policy(&dataset, id).await?) })?;
            output::note(format!("deleted policy {id} `{}`", current.name));
        }
    }
    Ok(Outcome::Ok)
}

fn print_list(policies: &[Policy], format: Format) -> anyhow::Result<()> {
    let join = |items: Vec<String>| items.join(", ");
    let rows = policies.iter().map(|p| {
        vec![
            p.id.map(|id| id.to_string()).unwrap_or_default(),
            p.policy_type.to_string(),
            p.name.clone(),
            filters_text(&p.filters),
            join(p.users.iter().map(ToString::to_string).collect()),
            join(p.groups.iter().map(ToString::to_string).collect()),
            join(p.virtual_users.clone()),
        ]
    });
    output::rows(
        format,
        &policies,
        &["id", "type", "name", "filters", "users", "groups", "virtual users"],
        &[Align::Right, Align::Left, Align::Left, Align::Left, Align::Left, Align::Left, Align::Left],
        rows.collect(),
        &output::count(policies.len(), "policy", "policies"),
    )
}

/// One policy: its JSON object, or a one-row table.
fn print_one(policy: &Policy, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => output::json(policy),
        Format::Table | Format::Csv | Format::Markdown => print_list(std::slice::from_ref(policy), Format::Table),
    }
}

/// Fails unless the policy Domo answered with holds what was sent: the same
/// name, type, filters (in order), users, groups and virtual users. A server
/// that drops a field it did not understand must not pass for a success (a
/// policy stored without its filters shows its members every row).
pub(crate) fn stored_as_sent(sent: &Policy, stored: &Policy) -> anyhow::Result<()> {
    fn sorted<T: Ord + Clone>(items: &[T]) -> Vec<T> {
        let mut items = items.to_vec();
        items.sort();
        items
    }
    let mut differ = Vec::new();
    if stored.name != sent.name {
        differ.push(format!("name `{}` (sent `{}`)", stored.name, sent.name));
    }
    if stored.policy_type != sent.policy_type {
        differ.push(format!("type {} (sent {})", stored.policy_type, sent.policy_type));
    }
    if stored.filters != sent.filters {
        differ.push(format!("filters {} (sent {})", filters_text(&stored.filters), filters_text(&sent.filters)));
    }
    if sorted(&stored.users) != sorted(&sent.users) {
        differ.push("users".to_owned());
    }
    if sorted(&stored.groups) != sorted(&sent.groups) {
        differ.push("groups".to_owned());
    }
    if sorted(&stored.virtual_users) != sorted(&sent.virtual_users) {
        differ.push("virtual users".to_owned());
    }
    if differ.is_empty() {
        return Ok(());
    }
    let id = stored.id.map_or_else(|| "?".to_owned(), |id| id.to_string());
    bail!(
        "Domo answered with policy {id} `{}` stored otherwise than sent: its {}; check it with `domo policies get`",
        stored.name,
        differ.join(", ")
    )
}

/// `Attending EQUALS TRUE AND Region NOT LIKE East%`.
pub(crate) fn filters_text(filters: &[PolicyFilter]) -> String {
    if filters.is_empty() {
        return "(every row)".to_owned();
    }
    let parts: Vec<String> = filters
        .iter()
        .map(|f| {
            let values = match f.values.as_slice() {
                [one] => one.clone(),
                many => serde_json::to_string(many).unwrap_or_default(),
            };
            format!("{} {}{} {values}", f.column, if f.not { "NOT " } else { "" }, f.operator)
        })
        .collect();
    parts.join(" AND ")
}

/// Parses `COLUMN [NOT] OPERATOR VALUE`; VALUE is the rest of the text, or a JSON array of strings.
fn parse_filter(text: &str) -> Result<PolicyFilter, String> {
    let words: Vec<(usize, &str)> =
        text.split_whitespace().map(|w| (w.as_ptr() as usize - text.as_ptr() as usize, w)).collect();
    let found = words
        .iter()
        .enumerate()
        .skip(1)
        .find_map(|(index, (at, word))| word.parse::<FilterOperator>().ok().map(|op| (index, *at, word.len(), op)));
    let Some((index, at, len, operator)) = found else {
        let hint = words.iter().skip(1).find_map(|(_, word)| operator_hint(word)).unwrap_or_default();
        return Err(format!(
            "`{text}` has no operator{hint}: write `COLUMN [NOT] OPERATOR VALUE`, such as `Attending EQUALS TRUE`"
        ));
    };
    let not = index >= 2 && words.get(index - 1).is_some_and(|(_, w)| w.eq_ignore_ascii_case("NOT"));
    let column_end = if not { words.get(index - 1).map_or(at, |(start, _)| *start) } else { at };
    let column = text.get(..column_end).unwrap_or_default().trim().to_owned();
    let value = text.get(at + len..).unwrap_or_default().trim();
    if column.is_empty() {
        return Err(format!("`{text}` names no column"));
    }
    if value.is_empty() {
        return Err(format!("`{text}` has no value after {operator}"));
    }
    let values = if value.starts_with('[') {
        serde_json::from_str::<Vec<String>>(value)
            .map_err(|e| format!("the values `{value}` are not a JSON array of strings: {e}"))?
    } else {
        vec![value.to_owned()]
    };
    Ok(PolicyFilter { column, values, operator, not })
}

/// What a word that is not an operator was probably meant to be: ` (`EQUAL` is
/// not one: did you mean `EQUALS`?)`. Domo has no NOT_… and no IN operator.
fn operator_hint(word: &str) -> Option<String> {
    let names = || FilterOperator::ALL.iter().map(FilterOperator::as_str);
    let upper = word.to_ascii_uppercase();
    if let Some(negated) = upper.strip_prefix("NOT_").and_then(|rest| names().find(|name| *name == rest)) {
        return Some(format!(" (`{word}` is not one: write `NOT {negated}`)"));
    }
    if upper == "IN" {
        return Some(format!(" (`{word}` is not one: write `EQUALS` with a JSON array of values)"));
    }
    domo_model::did_you_mean(word, names()).map(|close| format!(" (`{word}` is not one: did you mean `{close}`?)"))
}

/// `domo pdp enable|disable ID`.
#[derive(Debug, Args)]
pub(crate) struct PdpSwitchArgs {
    /// The DataSet id.
    id: String,
    /// Do not ask before disabling PDP (which shows every row to everyone with access).
    #[arg(long, short)]
    yes: bool,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Which way `domo pdp enable|disable` switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PdpSwitch {
    /// Policies decide who sees which rows.
    Enable,
    /// Everyone with access sees every row.
    Disable,
}

pub(crate) fn switch_pdp(args: &PdpSwitchArgs, switch: PdpSwitch) -> anyhow::Result<Outcome> {
    let connection = args.connection.connect()?;
    let id = DatasetId::from(args.id.clone());
    let enabled = switch == PdpSwitch::Enable;
    if !enabled {
        let dataset = super::block_on(async { Ok(connection.client.get_dataset(&id).await?) })?;
        let question = format!(
            "disable PDP on DataSet {id} `{}`: everyone with access sees {}",
            dataset.name,
            match dataset.rows {
                1 => "its 1 row".to_owned(),
                rows => format!("all {rows} rows"),
            }
        );
        if !output::confirm(&question, args.yes)? {
            output::note("disable cancelled: PDP stays as it was");
            return Ok(Outcome::Findings);
        }
    }
    if enabled {
        // With PDP on and no policy, Domo shows every row to everyone with access:
        // "enabled" would be a false success.
        let policies = super::block_on(async { Ok(connection.client.list_policies(&id).await?) })?;
        if policies.is_empty() {
            bail!(
                "DataSet {id} has no policies: with PDP enabled and no policy, Domo still shows every row to \
                 everyone with access; nothing was changed (create a policy first: `domo policies create {id} …`)"
            );
        }
    }
    let update = DatasetUpdate { pdp_enabled: Some(enabled), ..DatasetUpdate::default() };
    let dataset = super::block_on(async { Ok(connection.client.update_dataset(&id, &update).await?) })?;
    if dataset.pdp_enabled != enabled {
        bail!("Domo answered with PDP {} on DataSet {id}", if dataset.pdp_enabled { "enabled" } else { "disabled" });
    }
    output::text(&format!(
        "PDP {} on DataSet {} `{}`",
        if enabled { "enabled" } else { "disabled" },
        dataset.id,
        dataset.name
    ))?;
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_policy_must_hold_what_was_sent() {
        let sent = Policy {
            id: None,
            policy_type: PolicyType::User,
            name: "East".to_owned(),
            filters: vec![parse_filter("Region EQUALS East").unwrap_or_else(|e| unreachable!("{e}"))],
            users: vec![UserId(27), UserId(31)],
            virtual_users: vec![],
            groups: vec![GroupId(7)],
        };
        let check = |stored: Policy| stored_as_sent(&sent, &stored).map_err(|e| e.to_string());
        // The id is Domo's to give, and the order of members does not matter.
        let same = Policy { id: Some(PolicyId(8)), users: vec![UserId(31), UserId(27)], ..sent.clone() };
        assert_eq!(check(same), Ok(()));
        let unfiltered = Policy { id: Some(PolicyId(8)), filters: vec![], ..sent.clone() };
        assert_eq!(
            check(unfiltered),
            Err("Domo answered with policy 8 `East` stored otherwise than sent: its filters (every row) (sent \
                 Region EQUALS East); check it with `domo policies get`"
                .to_owned())
        );
        let widened = Policy { users: vec![UserId(27)], groups: vec![], policy_type: PolicyType::Open, ..sent.clone() };
        let message = check(widened).err().unwrap_or_default();
        assert!(
            message.contains("policy ? `East`") && message.contains("its type open (sent user), users, groups"),
            "{message}"
        );
    }

    #[test]
    fn filters_parse_from_one_line() {
        let f = parse_filter("Attending EQUALS TRUE").unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(
            (f.column.as_str(), f.operator, f.values.clone(), f.not),
            ("Attending", FilterOperator::Equals, vec!["TRUE".to_owned()], false)
        );
        let f =
            parse_filter("Sales Region not EQUALS [\"East\", \"North East\"]").unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!((f.column.as_str(), f.not, f.values.len()), ("Sales Region", true, 2));
        let f = parse_filter("Name LIKE A%  B").unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(f.values, ["A%  B"]);
        assert!(parse_filter("Attending TRUE").unwrap_err().contains("no operator"));
        let check = |text: &str, expected: &str| assert_eq!(parse_filter(text).map(|_| ()), Err(expected.to_owned()));
        let usage = ": write `COLUMN [NOT] OPERATOR VALUE`, such as `Attending EQUALS TRUE`";
        check(
            "Attending EQUAL TRUE",
            &format!("`Attending EQUAL TRUE` has no operator (`EQUAL` is not one: did you mean `EQUALS`?){usage}"),
        );
        check(
            "Name equals Ada",
            &format!("`Name equals Ada` has no operator (`equals` is not one: did you mean `EQUALS`?){usage}"),
        );
        check(
            "Name BEGINSWITH A",
            &format!(
                "`Name BEGINSWITH A` has no operator (`BEGINSWITH` is not one: did you mean `BEGINS_WITH`?){usage}"
            ),
        );
        check(
            "Region NOT_EQUALS East",
            &format!("`Region NOT_EQUALS East` has no operator (`NOT_EQUALS` is not one: write `NOT EQUALS`){usage}"),
        );
        check(
            "Region IN [\"East\"]",
            &format!(
                "`Region IN [\"East\"]` has no operator (`IN` is not one: write `EQUALS` with a JSON array of values){usage}"
            ),
        );
        check("Attending TRUE", &format!("`Attending TRUE` has no operator{usage}"));
        assert!(parse_filter("Attending EQUALS").unwrap_err().contains("no value"));
        assert!(parse_filter("EQUALS x").unwrap_err().contains("no operator"));
    }
}
