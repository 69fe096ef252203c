//! `domo datasets …`: list, get, create (from a schema file or a CSV's header and sample rows), update, delete.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use domo_model::{
    Column, ColumnType, Dataset, DatasetCreate, DatasetId, DatasetSummary, DatasetUpdate, ListDatasets, Owner, Schema,
    Sort, StreamCreate, UpdateMethod, UserId, read_user_file,
};
use futures_util::TryStreamExt as _;

use super::config::ConnectionArgs;
use super::output::{self, Align, Format};
use crate::exit::Outcome;

/// Rows read after the header to infer a schema, unless told otherwise.
const DEFAULT_SAMPLE_ROWS: usize = 1000;

/// `domo datasets`.
#[derive(Debug, Args)]
pub(crate) struct DatasetsArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(subcommand)]
    command: DatasetsCommand,
}

#[derive(Debug, Subcommand)]
enum DatasetsCommand {
    /// List DataSets, 50 per request until the end or --limit.
    #[command(visible_alias = "ls", after_help = concat!(
        "Examples:\n",
        "  domo datasets list\n",
        "  domo datasets list --name-like party --sort lastUpdated --limit 10",
    ))]
    List {
        /// Only DataSets whose name contains this text (case-insensitive).
        #[arg(long, value_name = "TEXT")]
        name_like: Option<String>,
        /// Order: name, nameDescending, lastTouched, lastUpdated, createdAt, … (Domo's values).
        #[arg(long, value_name = "ORDER")]
        sort: Option<Sort>,
        /// At most this many DataSets.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        /// Skip this many DataSets first.
        #[arg(long, value_name = "N")]
        offset: Option<u64>,
        /// Output format: table (the default), json or csv.
        #[arg(long, value_parser = output::formats(output::TABULAR), default_value = "table")]
        format: Format,
    },
    /// Show one DataSet: its schema, owner, PDP state and policy count.
    #[command(visible_aliases = ["show", "view"], after_help = concat!(
        "Examples:\n",
        "  domo datasets get 4405ff58-1957-45f0-82bd-914d989a3ea3\n",
        "  domo datasets show $ID --format json",
    ))]
    Get {
        /// The DataSet id.
        id: String,
        /// Output format: table (the default) or json.
        #[arg(long, value_parser = output::formats(output::REPORT), default_value = "table")]
        format: Format,
    },
    /// Create a DataSet; prints its id (the whole DataSet with --format json).
    #[command(after_help = concat!(
        "A schema file holds {\"columns\": [{\"type\": \"STRING\", \"name\": \"Friend\"}, ...]}, or is a\n",
        "dataset.json whose \"schema\" is used. --infer-schema reads the CSV's header and\n",
        "up to --sample-rows rows: LONG when every value is an integer, DOUBLE when every\n",
        "value is a number, DATE (YYYY-MM-DD), DATETIME (YYYY-MM-DD HH:MM:SS, optional T\n",
        "and Z), else STRING; empty cells are ignored. DECIMAL is never guessed.\n\n",
        "Examples:\n",
        "  domo datasets create --name \"Leonhard Euler Party\" --infer-schema examples/euler-party/data.csv\n",
        "  domo datasets create --name Sales --schema schema.json --stream",
    ))]
    Create {
        /// The DataSet's name.
        #[arg(long)]
        name: String,
        /// Its description.
        #[arg(long)]
        description: Option<String>,
        /// The schema, from a JSON file.
        #[arg(long, value_name = "FILE", conflicts_with = "infer_schema", required_unless_present = "infer_schema")]
        schema: Option<PathBuf>,
        /// Infer the schema from a CSV file's header row and sample rows.
        #[arg(long, value_name = "CSV")]
        infer_schema: Option<PathBuf>,
        /// Rows read to infer the schema.
        #[arg(long, value_name = "N", default_value_t = DEFAULT_SAMPLE_ROWS, requires = "infer_schema")]
        sample_rows: usize,
        /// Create it through the Streams API, so that `domo data import --stream`
        /// can upload to it in parallel parts.
        #[arg(long)]
        stream: bool,
        /// With --stream: the stream appends instead of replacing.
        #[arg(long, requires = "stream")]
        append: bool,
        /// Output format: table (the default) or json.
        #[arg(long, value_parser = output::formats(output::REPORT), default_value = "table")]
        format: Format,
    },
    /// Change a DataSet's name, description, schema or owner.
    #[command(after_help = concat!(
        "Examples:\n",
        "  domo datasets update $ID --name \"Leonhard Euler Party\" --description \"Who comes\"\n",
        "  domo datasets update $ID --schema examples/euler-party/dataset.json --owner 27",
    ))]
    Update {
        /// The DataSet id.
        id: String,
        /// The new name.
        #[arg(long)]
        name: Option<String>,
        /// The new description.
        #[arg(long)]
        description: Option<String>,
        /// The new schema, from a JSON file (it must fit the rows already there).
        #[arg(long, value_name = "FILE")]
        schema: Option<PathBuf>,
        /// The new owner's user id.
        #[arg(long, value_name = "USER_ID")]
        owner: Option<u64>,
        /// Output format: table (the default) or json.
        #[arg(long, value_parser = output::formats(output::REPORT), default_value = "table")]
        format: Format,
    },
    /// Delete a DataSet and its rows (asks first unless --yes).
    #[command(visible_alias = "rm", after_help = concat!(
        "Examples:\n",
        "  domo datasets delete $ID\n",
        "  domo datasets rm $ID --yes",
    ))]
    Delete {
        /// The DataSet id.
        id: String,
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
    },
}

pub(crate) fn run(args: DatasetsArgs) -> anyhow::Result<Outcome> {
    let connection = args.connection.connect()?;
    let client = &connection.client;
    match args.command {
        DatasetsCommand::List { name_like, sort, limit, offset, format } => {
            let query = ListDatasets {
                limit: limit.map(|l| l.clamp(1, u64::from(ListDatasets::MAX_LIMIT)) as u32),
                offset,
                sort,
                name_like,
            };
            let datasets: Vec<DatasetSummary> = super::block_on(async {
                let stream = client.list_datasets(&query);
                let taken = stream.try_take_while({
                    let mut left = limit.unwrap_or(u64::MAX);
                    move |_| {
                        let go = left > 0;
                        left = left.saturating_sub(1);
                        futures_util::future::ready(Ok(go))
                    }
                });
                Ok(taken.try_collect().await?)
            })?;
            print_list(&datasets, format)?;
        }
        DatasetsCommand::Get { id, format } => {
            let dataset = super::block_on(async { Ok(client.get_dataset(&DatasetId::from(id)).await?) })?;
            print_dataset(&dataset, format)?;
        }
        DatasetsCommand::Create { name, description, schema, infer_schema, sample_rows, stream, append, format } => {
            let schema = match (&schema, &infer_schema) {
                (Some(path), _) => read_schema(path)?,
                (None, Some(csv)) => {
                    let schema = infer(csv, sample_rows)?;
                    let columns: Vec<String> =
                        schema.columns.iter().map(|c| format!("{} {}", c.name, c.column_type)).collect();
                    output::note(format!("inferred schema from `{}`: {}", csv.display(), columns.join(", ")));
                    schema
                }
                (None, None) => bail!("give --schema FILE or --infer-schema CSV"),
            };
            let create = DatasetCreate { name, description, rows: None, schema };
            let dataset = super::block_on(async {
                if stream {
                    let method = if append { UpdateMethod::Append } else { UpdateMethod::Replace };
                    let created =
                        client.create_stream(&StreamCreate { dataset: create, update_method: method }).await?;
                    output::note(format!("created stream {} ({method})", created.id));
                    Ok(client.get_dataset(&created.dataset.id).await?)
                } else {
                    Ok(client.create_dataset(&create).await?)
                }
            })?;
            output::note(format!(
                "created DataSet {} `{}` with {}",
                dataset.id,
                dataset.name,
                output::count(dataset.schema.columns.len(), "column", "columns")
            ));
            match format {
                Format::Json => output::json(&dataset)?,
                Format::Table | Format::Csv | Format::Markdown => output::text(dataset.id.as_str())?,
            }
        }
        DatasetsCommand::Update { id, name, description, schema, owner, format } => {
            let schema = schema.as_deref().map(read_schema).transpose()?;
            let update = DatasetUpdate {
                name,
                description,
                schema,
                pdp_enabled: None,
                owner: owner.map(|id| Owner { id: UserId(id), name: None }),
            };
            if update == DatasetUpdate::default() {
                bail!("nothing to update: give --name, --description, --schema or --owner");
            }
            let dataset = super::block_on(async { Ok(client.update_dataset(&DatasetId::from(id), &update).await?) })?;
            print_dataset(&dataset, format)?;
        }
        DatasetsCommand::Delete { id, yes } => {
            let id = DatasetId::from(id);
            let dataset = super::block_on(async { Ok(client.get_dataset(&id).await?) })?;
            let rows = output::plural(dataset.rows, "row", "rows");
            let question = format!("delete DataSet {} `{}` and its {rows}", dataset.id, dataset.name);
            if !output::confirm(&question, yes)? {
                output::note("delete cancelled: nothing deleted");
                return Ok(Outcome::Findings);
            }
            super::block_on(async { Ok(client.delete_dataset(&id).await?) })?;
            output::note(format!("deleted DataSet {id} `{}`", dataset.name));
        }
    }
    Ok(Outcome::Ok)
}

fn print_list(datasets: &[DatasetSummary], format: Format) -> anyhow::Result<()> {
    let rows = datasets.iter().map(|d| {
        vec![
            d.id.to_string(),
            d.name.clone(),
            d.rows.to_string(),
            d.columns.to_string(),
            d.pdp_enabled.map_or_else(String::new, |on| if on { "on".to_owned() } else { "off".to_owned() }),
            d.updated_at.map(|t| t.to_string()).unwrap_or_default(),
        ]
    });
    output::rows(
        format,
        &datasets,
        &["id", "name", "rows", "columns", "pdp", "updated"],
        &[Align::Left, Align::Left, Align::Right, Align::Right, Align::Left, Align::Left],
        rows.collect(),
        &output::count(datasets.len(), "DataSet", "DataSets"),
    )
}

fn print_dataset(dataset: &Dataset, format: Format) -> anyhow::Result<()> {
    if format != Format::Table {
        return output::json(dataset);
    }
    let mut lines = vec![format!("id:          {}", dataset.id), format!("name:        {}", dataset.name)];
    if let Some(description) = &dataset.description {
        lines.push(format!("description: {description}"));
    }
    lines.push(format!("rows:        {}", dataset.rows));
    if let Some(owner) = &dataset.owner {
        let name = owner.name.as_deref().map(|n| format!(" `{n}`")).unwrap_or_default();
        lines.push(format!("owner:       user {}{name}", owner.id));
    }
    let policies = dataset
        .policies
        .as_ref()
        .map(|p| format!(", {}", output::count(p.len(), "policy", "policies")))
        .unwrap_or_default();
    lines.push(format!("pdp:         {}{policies}", if dataset.pdp_enabled { "enabled" } else { "disabled" }));
    if let Some(at) = dataset.updated_at {
        lines.push(format!("updated:     {at}"));
    }
    let columns = dataset.schema.columns.iter().map(|c| vec![c.name.clone(), c.column_type.to_string()]);
    lines.push(output::table(&["column", "type"], &[Align::Left, Align::Left], columns));
    output::text(&lines.join("\n"))
}

/// A schema file: `{"columns": [...]}`, or a DataSet (dataset.json) whose schema is taken.
pub(crate) fn read_schema(path: &Path) -> anyhow::Result<Schema> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("`{}` is not JSON", path.display()))?;
    let name = path.display().to_string();
    let schema = if value.get("schema").is_some() {
        read_user_file::<Dataset>(&name, &text)?.schema
    } else {
        read_user_file::<Schema>(&name, &text)?
    };
    if schema.columns.is_empty() {
        bail!("the schema in `{}` has no columns", path.display());
    }
    Ok(schema)
}

/// Infers a schema from a CSV file's header row and up to `sample_rows` rows.
pub(crate) fn infer(path: &Path, sample_rows: usize) -> anyhow::Result<Schema> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(std::io::BufReader::new(file));
    let header = reader.headers().with_context(|| format!("cannot read the header row of `{}`", path.display()))?;
    let names: Vec<String> = header.iter().map(str::to_owned).collect();
    if names.is_empty() || names.iter().all(String::is_empty) {
        bail!("`{}` has no header row to name the columns", path.display());
    }
    let mut guesses = vec![Guess::Unknown; names.len()];
    let mut record = csv::StringRecord::new();
    for row in 0..sample_rows {
        let more = reader
            .read_record(&mut record)
            .with_context(|| format!("cannot read row {} of `{}`", row + 2, path.display()))?;
        if !more {
            break;
        }
        for (guess, cell) in guesses.iter_mut().zip(record.iter()) {
            *guess = guess.widen(cell);
        }
    }
    let columns = names.into_iter().zip(guesses).map(|(name, guess)| Column::new(guess.column_type(), name)).collect();
    Ok(Schema { columns })
}

/// What a column's values seen so far fit, from the narrowest type up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guess {
    Unknown,
    Long,
    Double,
    Date,
    Datetime,
    String,
}

impl Guess {
    fn widen(self, cell: &str) -> Self {
        if cell.is_empty() || self == Guess::String {
            return self;
        }
        let fits = |guess: Guess| match guess {
            Guess::Long => cell.parse::<i64>().is_ok(),
            Guess::Double => cell.parse::<f64>().is_ok_and(f64::is_finite) && cell.bytes().any(|b| b.is_ascii_digit()),
            Guess::Date => is_date(cell),
            Guess::Datetime => is_datetime(cell),
            Guess::Unknown | Guess::String => true,
        };
        let order: &[Guess] = match self {
            Guess::Unknown => &[Guess::Long, Guess::Double, Guess::Date, Guess::Datetime],
            Guess::Long => &[Guess::Long, Guess::Double],
            Guess::Double => &[Guess::Double],
            Guess::Date => &[Guess::Date],
            Guess::Datetime => &[Guess::Datetime],
            Guess::String => &[],
        };
        order.iter().copied().find(|g| fits(*g)).unwrap_or(Guess::String)
    }

    fn column_type(self) -> ColumnType {
        match self {
            Guess::Long => ColumnType::Long,
            Guess::Double => ColumnType::Double,
            Guess::Date => ColumnType::Date,
            Guess::Datetime => ColumnType::Datetime,
            Guess::Unknown | Guess::String => ColumnType::String,
        }
    }
}

/// `YYYY-MM-DD`, a real calendar date.
fn is_date(text: &str) -> bool {
    text.len() == 10 && text.parse::<domo_pdp::Date>().is_ok()
}

/// `YYYY-MM-DD HH:MM:SS` (or with `T`), optionally ending in `Z`.
fn is_datetime(text: &str) -> bool {
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (Some(date), Some(sep), Some(time)) = (text.get(..10), text.get(10..11), text.get(11..)) else {
        return false;
    };
    let two = |s: Option<&str>, max: u32| s.and_then(|s| s.parse::<u32>().ok()).is_some_and(|v| v <= max);
    is_date(date)
        && (sep == " " || sep == "T")
        && time.len() == 8
        && time.bytes().enumerate().all(|(i, b)| if i == 2 || i == 5 { b == b':' } else { b.is_ascii_digit() })
        && two(time.get(..2), 23)
        && two(time.get(3..5), 59)
        && two(time.get(6..8), 59)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guess(cells: &[&str]) -> ColumnType {
        cells.iter().fold(Guess::Unknown, |g, c| g.widen(c)).column_type()
    }

    #[test]
    fn column_types_are_inferred_from_every_sampled_value() {
        assert_eq!(guess(&["1", "-2", ""]), ColumnType::Long);
        assert_eq!(guess(&["1", "2.5"]), ColumnType::Double);
        assert_eq!(guess(&["2024-02-29", ""]), ColumnType::Date);
        assert_eq!(guess(&["2023-02-29"]), ColumnType::String);
        assert_eq!(guess(&["2024-01-02 03:04:05", "2024-01-02T23:59:59Z"]), ColumnType::Datetime);
        assert_eq!(guess(&["2024-01-02", "2024-01-02 03:04:05"]), ColumnType::String);
        assert_eq!(guess(&["TRUE", "FALSE"]), ColumnType::String);
        assert_eq!(guess(&["1", "x"]), ColumnType::String);
        assert_eq!(guess(&["NaN"]), ColumnType::String);
        assert_eq!(guess(&["", ""]), ColumnType::String);
    }
}
