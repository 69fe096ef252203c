//! `domo pdp preview`: the rows one user sees, streamed from the CSV byte for byte.

use std::io::{self, Write};

use anyhow::Context;
use clap::Args;
use domo_model::UserId;
use domo_pdp::{HeaderRow, StreamCsvError, StreamOptions, StreamSummary};

use crate::engine as common;
use crate::exit::Outcome;
use crate::folder::{InputArgs, LimitArgs};
use crate::folder::{Inputs, load_error, open_with_progress};
use crate::output::Format;
use crate::output::{self, Align};

/// Options of `domo pdp preview`.
#[derive(Debug, Args)]
pub(crate) struct PreviewArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    /// The user whose rows to show (a user id of the directory).
    #[arg(long, value_name = "ID")]
    pub(crate) user: UserId,
    /// Output format: csv (the default; cells exactly as in the input), table or json.
    #[arg(long, value_parser = crate::output::formats(crate::output::TABULAR), default_value = "csv")]
    pub(crate) format: Format,
    /// Show at most N rows.
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<u64>,
    /// Print only how many rows the user sees.
    #[arg(long, conflicts_with_all = ["limit", "format"])]
    pub(crate) count: bool,
}

pub(crate) fn run(args: &PreviewArgs) -> anyhow::Result<Outcome> {
    let inputs = Inputs::read_limited(&args.input, &args.limits)?;
    let set = common::compile(&inputs)?;
    common::require_user(&inputs, args.user)?;
    let input_header = inputs.header;
    let data = &inputs.paths.data;
    let load_context = || format!("cannot load `{}`", data.display());

    if args.count {
        let options = StreamOptions { input_header, output_header: HeaderRow::Absent };
        let summary = set
            .write_visible_csv_with_limits(
                args.user,
                open_with_progress(data).with_context(load_context)?,
                io::sink(),
                options,
                inputs.limits.csv,
            )
            .map_err(|error| load_error(data, error))?;
        let mut out = output::plain_stdout();
        writeln!(out, "{}", summary.rows_written)?;
        out.flush()?;
        return Ok(Outcome::Ok);
    }

    match args.format {
        Format::Csv => {
            let options = StreamOptions { input_header, output_header: HeaderRow::Present };
            let mut out = output::plain_stdout();
            // Past --limit the rest is read and counted, not printed, so that the note can say how many there are.
            let writer = LimitWriter::new(&mut out, args.limit, HeaderRow::Present);
            let summary = stream(&set, args.user, &inputs, writer, options)?;
            out.flush()?;
            note_rows(args, summary);
        }
        Format::Json => {
            let options = StreamOptions { input_header, output_header: HeaderRow::Absent };
            let names: Vec<&str> = inputs.dataset.schema.columns.iter().map(|c| c.name.as_str()).collect();
            let mut json = JsonRows::new(output::plain_stdout(), &names, &inputs);
            let writer = LimitWriter::new(&mut json, args.limit, HeaderRow::Absent);
            let summary = stream(&set, args.user, &inputs, writer, options)?;
            json.finish().with_context(load_context)?;
            note_rows(args, summary);
        }
        Format::Table | Format::Markdown => {
            // A table is for reading: without --limit it stops at TABLE_ROWS and says how many more there are.
            let options = StreamOptions { input_header, output_header: HeaderRow::Absent };
            let shown = args.limit.unwrap_or(TABLE_ROWS);
            let mut buffer = Vec::new();
            let writer = LimitWriter::new(&mut buffer, Some(shown), HeaderRow::Absent);
            let summary = stream(&set, args.user, &inputs, writer, options)?;
            let names: Vec<&str> = inputs.dataset.schema.columns.iter().map(|c| c.name.as_str()).collect();
            let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(buffer.as_slice());
            let mut rows: Vec<Vec<String>> = Vec::new();
            for record in reader.records() {
                let record = record.map_err(output::csv_error)?;
                rows.push(record.iter().map(str::to_owned).collect());
            }
            let mut out = output::stdout();
            writeln!(out, "{}", output::table(&names, &[Align::Left], rows))?;
            // A table for people ends with its count, as every table does; the cut is said there too.
            match summary {
                summary if summary.rows_written > shown => writeln!(
                    out,
                    "showing {shown} of {} (--limit N to show more, --format csv for all)",
                    output::plural(summary.rows_written, "row", "rows")
                )?,
                summary => writeln!(out, "{}", output::plural(summary.rows_written, "row", "rows"))?,
            }
            out.flush()?;
        }
    }
    Ok(Outcome::Ok)
}

/// Says on stderr what a machine format does not: that `--limit` cut the rows, or that there are none.
fn note_rows(args: &PreviewArgs, summary: StreamSummary) {
    let total = summary.rows_written;
    match args.limit {
        Some(limit) if total > limit => {
            output::note(format!("showing {limit} of {} (--limit)", output::plural(total, "row", "rows")));
        }
        _ if total == 0 => output::note(format!(
            "0 rows: user {} sees no row (`domo pdp explain {} --user {} --row N` says why)",
            args.user,
            args.input.dir.display(),
            args.user
        )),
        _ => {}
    }
}

/// Rows a table shows when `--limit` is not given.
const TABLE_ROWS: u64 = 1000;

/// One row as a JSON object whose keys keep the DataSet's column order: each
/// cell's text exactly as in the input, or `null` for a NULL cell.
struct JsonRow<'a> {
    names: &'a [&'a str],
    record: &'a csv::StringRecord,
    typed: &'a domo_pdp::Table,
    row: usize,
}

impl serde::Serialize for JsonRow<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.names.len()))?;
        for (column, (name, cell)) in self.names.iter().zip(self.record.iter()).enumerate() {
            let is_null = self.typed.value(self.row, column).is_none_or(|v| v.is_null());
            map.serialize_entry(name, &(!is_null).then_some(cell))?;
        }
        map.end()
    }
}

/// The user's rows (CSV without a header, as [`stream`] writes them) as JSON, one object a line
/// inside `[` and `]`, converted a chunk of whole records at a time: memory holds one chunk,
/// never every row.
struct JsonRows<'a, W: Write> {
    out: W,
    names: &'a [&'a str],
    inputs: &'a Inputs,
    /// Records not converted yet; the last may be incomplete.
    pending: Vec<u8>,
    /// Where the last complete record of `pending` ends.
    complete: usize,
    in_quotes: bool,
    /// Whether `[` has been written.
    opened: bool,
    /// Whether no row has been written yet.
    first: bool,
    line: Vec<u8>,
}

/// How many bytes of whole records [`JsonRows`] gathers before converting them.
const JSON_CHUNK: usize = 4 << 20;

impl<'a, W: Write> JsonRows<'a, W> {
    fn new(out: W, names: &'a [&'a str], inputs: &'a Inputs) -> Self {
        Self {
            out,
            names,
            inputs,
            pending: Vec::new(),
            complete: 0,
            in_quotes: false,
            opened: false,
            first: true,
            line: Vec::new(),
        }
    }

    /// Writes the complete records held, as JSON.
    fn convert(&mut self) -> anyhow::Result<()> {
        let chunk = self.pending.get(..self.complete).unwrap_or_default();
        if !self.opened {
            self.opened = true;
            self.out.write_all(b"[")?;
        }
        // The same rows typed by the schema tell a NULL (JSON `null`) from an
        // empty string (`""`), which the CSV text alone cannot.
        let typed = domo_pdp::Table::from_csv_with_limits(
            chunk,
            &self.inputs.dataset.schema,
            HeaderRow::Absent,
            self.inputs.limits.csv,
        )?;
        let mut record = csv::StringRecord::new();
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(chunk);
        let mut row = 0;
        while reader.read_record(&mut record).map_err(output::csv_error)? {
            self.out.write_all(if self.first { b"\n  " } else { b",\n  " })?;
            self.first = false;
            // Into a buffer first: serde_json's error would hide a broken pipe.
            self.line.clear();
            serde_json::to_writer(&mut self.line, &JsonRow { names: self.names, record: &record, typed: &typed, row })?;
            self.out.write_all(&self.line)?;
            row += 1;
        }
        self.pending.drain(..self.complete);
        self.complete = 0;
        Ok(())
    }

    /// Converts what is left (the last record may end without a line end) and closes the array.
    fn finish(mut self) -> anyhow::Result<()> {
        self.complete = self.pending.len();
        self.convert()?;
        self.out.write_all(if self.first { b"]\n" } else { b"\n]\n" })?;
        self.out.flush()?;
        Ok(())
    }
}

impl<W: Write> Write for JsonRows<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let start = self.pending.len();
        self.pending.extend_from_slice(buf);
        for (at, &byte) in buf.iter().enumerate() {
            match byte {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => self.complete = start + at + 1,
                _ => {}
            }
        }
        if self.complete >= JSON_CHUNK {
            self.convert().map_err(|error| match error.downcast::<io::Error>() {
                Ok(error) => error,
                Err(error) => io::Error::other(format!("{error:#}")),
            })?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Streams the user's rows to the end (so that the summary counts every row the user sees).
fn stream<W: Write>(
    set: &domo_pdp::PolicySet,
    user: UserId,
    inputs: &Inputs,
    writer: LimitWriter<W>,
    options: StreamOptions,
) -> anyhow::Result<StreamSummary> {
    let data = &inputs.paths.data;
    let input = open_with_progress(data).with_context(|| format!("cannot load `{}`", data.display()))?;
    match set.write_visible_csv_with_limits(user, input, writer, options, inputs.limits.csv) {
        Ok(summary) => Ok(summary),
        Err(StreamCsvError::Write(err)) => Err(err.into()),
        Err(err) => Err(load_error(data, err)),
    }
}

/// Passes CSV bytes through until `limit` data records are complete, and
/// swallows the rest (so that the stream runs to the end and counts every row).
/// Records are counted by line ends outside quotes, so quoted newlines do not miscount.
struct LimitWriter<W> {
    inner: W,
    /// Records still allowed (the header, if any, comes first and is not counted).
    remaining: Option<u64>,
    skip_header: bool,
    in_quotes: bool,
}

impl<W: Write> LimitWriter<W> {
    fn new(inner: W, limit: Option<u64>, header: HeaderRow) -> Self {
        Self { inner, remaining: limit, skip_header: header == HeaderRow::Present, in_quotes: false }
    }
}

impl<W: Write> Write for LimitWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(remaining) = self.remaining else { return self.inner.write(buf) };
        if remaining == 0 && !self.skip_header {
            return Ok(buf.len());
        }
        let mut left = remaining;
        let mut end = buf.len();
        for (at, &byte) in buf.iter().enumerate() {
            match byte {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => {
                    if self.skip_header {
                        self.skip_header = false;
                    } else {
                        left = left.saturating_sub(1);
                    }
                    if left == 0 && !self.skip_header {
                        end = at + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        self.inner.write_all(buf.get(..end).unwrap_or(buf))?;
        self.remaining = Some(left);
        if left == 0 && end < buf.len() {
            return Ok(buf.len());
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
