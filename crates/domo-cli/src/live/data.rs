//! `domo data import|export`: CSV streamed to and from a DataSet, never held in memory, with a progress bar.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use domo_http::{Compression, CsvSource, ImportOptions, PartUploadOptions};
use domo_model::{DatasetId, ExportOptions, Header, Schema, UpdateMethod};
use tokio::io::AsyncBufReadExt as _;

use super::config::ConnectionArgs;
use super::output;
use crate::exit::Outcome;
use crate::units::parse_size;

/// `domo data`.
#[derive(Debug, Args)]
pub(crate) struct DataArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Upload a CSV file into a DataSet, streamed (replaces its rows unless --append).
    #[command(after_help = concat!(
        "The file's columns must be in schema order. Domo expects no header row: a first\n",
        "row equal to the DataSet's column names is taken as a header and left out, any\n",
        "other first row is data (the emulator decides the same way); stderr says which.\n",
        "--header or --no-header forces the answer.\n",
        "--stream uploads through the Streams API in parts sent in parallel; the DataSet\n",
        "must have been created as a stream (`domo datasets create --stream`).\n\n",
        "Examples:\n",
        "  domo data import 4405ff58-1957-45f0-82bd-914d989a3ea3 examples/euler-party/data.csv\n",
        "  domo data import $ID big.csv --stream --gzip --parallel 4",
    ))]
    Import {
        /// The DataSet id.
        id: String,
        /// The CSV file.
        file: PathBuf,
        /// Add the rows to the DataSet's rows instead of replacing them.
        #[arg(long)]
        append: bool,
        /// Compress with gzip on the way (Domo decompresses it).
        #[arg(long)]
        gzip: bool,
        /// Upload through the Streams API, in parts sent in parallel.
        #[arg(long)]
        stream: bool,
        /// The file starts with a header row (checked against the schema, then left out)
        /// [default: decided from the schema].
        #[arg(long, conflicts_with = "no_header")]
        header: bool,
        /// Every row is data, even a first row equal to the column names.
        #[arg(long)]
        no_header: bool,
        /// With --stream: about how many bytes go in one part. Memory grows to
        /// about SIZE × (N + 1) for --parallel N.
        #[arg(long, value_name = "SIZE", default_value = "8M", value_parser = parse_size, requires = "stream")]
        part_size: u64,
        /// With --stream: how many parts are uploaded at the same time.
        #[arg(long, value_name = "N", default_value_t = 3, requires = "stream")]
        parallel: usize,
    },
    /// Download a DataSet's rows as CSV, streamed to a file (written whole or not at all) or stdout.
    #[command(after_help = concat!(
        "The export applies PDP for the user the credentials act as.\n\n",
        "Example:\n  domo data export 4405ff58-1957-45f0-82bd-914d989a3ea3 -o guests.csv --header",
    ))]
    Export {
        /// The DataSet id.
        id: String,
        /// The file to write [default: stdout]. Written to a temporary file beside
        /// it and renamed into place when complete.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Start with a header row.
        #[arg(long)]
        header: bool,
    },
}

pub(crate) fn run(args: DataArgs) -> anyhow::Result<Outcome> {
    let connection = args.connection.connect()?;
    let client = &connection.client;
    match args.command {
        DataCommand::Import { id, file, append, gzip, stream, header, no_header, part_size, parallel } => {
            let id = DatasetId::from(id);
            let method = if append { UpdateMethod::Append } else { UpdateMethod::Replace };
            let compression = if gzip { Compression::Gzip } else { Compression::None };
            let metadata = std::fs::metadata(&file).with_context(|| format!("cannot read `{}`", file.display()))?;
            if !metadata.is_file() {
                // Its first row is read to check it, then the whole file is sent, and
                // again on a retry: a pipe would lose the rows read the first time.
                bail!(
                    "`{}` is not a regular file (a pipe or a device): the import reads it more than once; \
                     save it to a file first",
                    file.display()
                );
            }
            let total = metadata.len();
            let started = Instant::now();
            let sent = super::block_on(async {
                let dataset = client.get_dataset(&id).await?;
                let header = decide_header(&file, &dataset.schema, header, no_header)?;
                check_first_row(&file, &dataset.schema, header)?;
                let bar = output::progress_bar(&format!("importing {}", file_name(&file)), Some(total));
                let progress = bar.as_ref().map(|(_, p)| p.clone());
                let result = if stream {
                    import_stream(client, &id, &file, method, compression, header, part_size, parallel, progress).await
                } else {
                    let source = match header {
                        Header::Include => skip_header_source(file.clone()),
                        Header::Omit => CsvSource::file(&file),
                    };
                    let options = ImportOptions { compression, progress };
                    client.import_data(&id, method, source, &options).await.map(|()| total).map_err(Into::into)
                };
                if let Some((bar, _)) = bar {
                    bar.finish_and_clear();
                }
                result
            })?;
            output::note(format!(
                "imported {} into DataSet {id} ({}) in {:.1?} ({})",
                output::size(sent),
                if append { "appended" } else { "replaced" },
                started.elapsed(),
                output::rate(sent, started.elapsed())
            ));
        }
        DataCommand::Export { id, output: path, header } => {
            let id = DatasetId::from(id);
            let options =
                ExportOptions { header: if header { Header::Include } else { Header::Omit }, file_name: None };
            let started = Instant::now();
            let mut records = RecordCount::default();
            let (written, dataset) = super::block_on(async {
                let written = match &path {
                    Some(path) => {
                        let bar = output::progress_bar(&format!("exporting to {}", file_name(path)), None);
                        let result =
                            client.export_data_to_file(&id, &options, path, bar.as_ref().map(|(_, p)| p)).await;
                        if let Some((bar, _)) = bar {
                            bar.finish_and_clear();
                        }
                        let written = result?;
                        records.feed_file(path).await?;
                        written
                    }
                    None => {
                        let mut stdout = Counting { inner: crate::stdout::AsyncStdout::new(), count: &mut records };
                        client.export_data(&id, &options, &mut stdout, None).await?
                    }
                };
                // Only for the hint below: an export that worked is not failed by a DataSet that cannot be read.
                Ok((written, client.get_dataset(&id).await.ok()))
            })?;
            if let Some(path) = &path {
                output::note(format!(
                    "exported {} to `{}` in {:.1?} ({})",
                    output::size(written),
                    path.display(),
                    started.elapsed(),
                    output::rate(written, started.elapsed())
                ));
            }
            let rows = records.total().saturating_sub(u64::from(header && records.total() > 0));
            if let Some(dataset) = dataset
                && dataset.pdp_enabled
                && rows < dataset.rows
            {
                output::note(format!(
                    "note: the export gave {rows} of the DataSet's {}: PDP filtered the rows for the user these \
                     credentials act as; export as the owner or an Admin to get every row",
                    output::plural(dataset.rows, "row", "rows"),
                ));
            }
        }
    }
    Ok(Outcome::Ok)
}

/// Counts CSV records by their line ends outside quotes as the bytes pass (a last record without a line end counts).
#[derive(Debug, Default)]
struct RecordCount {
    records: u64,
    in_quotes: bool,
    open: bool,
}

impl RecordCount {
    fn feed(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            match byte {
                b'"' => {
                    self.in_quotes = !self.in_quotes;
                    self.open = true;
                }
                b'\n' if !self.in_quotes => {
                    self.records += 1;
                    self.open = false;
                }
                b'\r' if !self.in_quotes => {}
                _ => self.open = true,
            }
        }
    }

    async fn feed_file(&mut self, path: &Path) -> anyhow::Result<()> {
        use tokio::io::AsyncReadExt as _;
        let mut file =
            tokio::fs::File::open(path).await.with_context(|| format!("cannot read `{}`", path.display()))?;
        let mut buffer = vec![0; 1 << 16];
        loop {
            let read = file.read(&mut buffer).await.with_context(|| format!("cannot read `{}`", path.display()))?;
            if read == 0 {
                return Ok(());
            }
            self.feed(buffer.get(..read).unwrap_or_default());
        }
    }

    fn total(&self) -> u64 {
        self.records + u64::from(self.open)
    }
}

/// A writer that counts the CSV records passing through it.
struct Counting<'a, W> {
    inner: W,
    count: &'a mut RecordCount,
}

impl<W: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Counting<'_, W> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let written = std::task::ready!(std::pin::Pin::new(&mut this.inner).poll_write(cx, buf))?;
        this.count.feed(buf.get(..written).unwrap_or(buf));
        std::task::Poll::Ready(Ok(written))
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[expect(clippy::too_many_arguments, reason = "one call site, each argument a flag of the command")]
async fn import_stream(
    client: &domo_http::Client,
    id: &DatasetId,
    file: &Path,
    method: UpdateMethod,
    compression: Compression,
    header: Header,
    part_size: u64,
    parallel: usize,
    progress: Option<domo_http::Progress>,
) -> anyhow::Result<u64> {
    let streams = client.find_streams_by_dataset(id).await?;
    let Some(stream) = streams.first() else {
        bail!(
            "DataSet {id} has no stream: the Streams API uploads only to DataSets created as streams \
             (`domo datasets create --stream`); import without --stream instead"
        );
    };
    if stream.update_method != method {
        bail!(
            "stream {} of DataSet {id} is set to {}, but this import would {}: {}",
            stream.id,
            stream.update_method,
            if method == UpdateMethod::Append { "append" } else { "replace" },
            if stream.update_method == UpdateMethod::Append { "add --append" } else { "drop --append" }
        );
    }
    let options = PartUploadOptions {
        part_size: usize::try_from(part_size).unwrap_or(usize::MAX),
        parallel: parallel.max(1),
        compression,
        header,
        progress,
    };
    let summary = client.upload_csv_file(stream.id, file, &options).await?;
    output::note(format!(
        "uploaded {} through stream {} (execution {})",
        output::plural(summary.parts, "part", "parts"),
        stream.id,
        summary.execution
    ));
    Ok(summary.bytes)
}

/// The file without its first row (quoted line breaks stay inside the header),
/// reopened for each attempt so that a failed import can be retried.
fn skip_header_source(path: PathBuf) -> CsvSource {
    CsvSource::reopen(move || {
        let path = path.clone();
        async move {
            let file = tokio::fs::File::open(&path).await?;
            let mut reader = tokio::io::BufReader::with_capacity(256 * 1024, file);
            let mut line = Vec::new();
            let mut quotes = 0usize;
            loop {
                line.clear();
                let read = reader.read_until(b'\n', &mut line).await?;
                quotes += line.iter().filter(|&&b| b == b'"').count();
                if read == 0 || quotes.is_multiple_of(2) {
                    break;
                }
            }
            Ok(reader)
        }
    })
}

/// Whether the file's first row is left out: as forced by `--header` or
/// `--no-header`, else decided from the schema by the rule the emulator uses
/// (`HeaderRow::detect`), and said on stderr.
fn decide_header(path: &Path, schema: &Schema, header: bool, no_header: bool) -> anyhow::Result<Header> {
    if header {
        return Ok(Header::Include);
    }
    let file = std::fs::File::open(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let detected = domo_pdp::HeaderRow::detect(std::io::BufReader::new(file), schema)
        .with_context(|| format!("cannot read the first row of `{}`", path.display()))?;
    if no_header {
        // The server applies the same rule to what it receives: such a row would be dropped as a header.
        if detected == domo_pdp::HeaderRow::Present {
            bail!(
                "the first row of `{}` is the DataSet's column names, which the server takes for a header row and leaves out: it cannot be imported as data; nothing was sent",
                path.display()
            );
        }
        return Ok(Header::Omit);
    }
    let names = schema.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(",");
    Ok(match detected {
        domo_pdp::HeaderRow::Present => {
            output::note(format!(
                "`{}` starts with the DataSet's column names: its first row is a header and is left out \
                 (the server decides the same way)",
                path.display()
            ));
            Header::Include
        }
        domo_pdp::HeaderRow::Absent => {
            if let Some(first) = near_header(path, schema)? {
                bail!(
                    "the first row of `{}` (`{first}`) looks like a header but is not the DataSet's column names \
                     (`{names}`): fix the names and it is left out, or pass --no-header to import it as data; \
                     nothing was sent",
                    path.display()
                );
            }
            output::note(format!(
                "`{}` does not start with the DataSet's column names (`{names}`): every row is imported as data \
                 (--header if its first row is a header)",
                path.display()
            ));
            Header::Omit
        }
    })
}

/// The file's first row, when each of its fields is close to the column name
/// at its place (`friend,attending` for `Friend,Attending`): a header with a
/// typo, which must not slip in as a data row. Names shorter than four
/// characters must match ignoring case (`1` is one edit from `a`).
fn near_header(path: &Path, schema: &Schema) -> anyhow::Result<Option<String>> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(file);
    let mut record = csv::StringRecord::new();
    if !reader.read_record(&mut record).with_context(|| format!("cannot read `{}`", path.display()))? {
        return Ok(None);
    }
    let close = record.len() == schema.columns.len()
        && record.iter().zip(&schema.columns).all(|(cell, column)| {
            let name = column.name.as_str();
            cell.to_lowercase() == name.to_lowercase()
                || (cell.chars().count() >= 4
                    && name.chars().count() >= 4
                    && domo_model::did_you_mean(cell, std::iter::once(name)).is_some())
        });
    Ok(close.then(|| record.iter().collect::<Vec<_>>().join(",")))
}

/// Checks the file's first row against the schema: the header's names with
/// `--header`, else the number of fields; a mistake here would otherwise
/// surface as Domo's terse upload error.
fn check_first_row(path: &Path, schema: &Schema, header: Header) -> anyhow::Result<()> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(file);
    let mut record = csv::StringRecord::new();
    if !reader.read_record(&mut record).with_context(|| format!("cannot read `{}`", path.display()))? {
        return Ok(());
    }
    let expected: Vec<&str> = schema.columns.iter().map(|c| c.name.as_str()).collect();
    if header == Header::Include {
        let found: Vec<&str> = record.iter().collect();
        if found != expected {
            bail!(
                "the header of `{}` does not match the DataSet's schema: expected `{}`, found `{}`",
                path.display(),
                expected.join(","),
                found.join(",")
            );
        }
    } else {
        if record.len() != expected.len() {
            bail!(
                "row 1 of `{}` has {} but the DataSet has {} (`{}`)",
                path.display(),
                output::count(record.len(), "field", "fields"),
                output::count(expected.len(), "column", "columns"),
                expected.join(",")
            );
        }
    }
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::RecordCount;

    fn check(csv: &str, records: u64) {
        let mut count = RecordCount::default();
        for chunk in csv.as_bytes().chunks(3) {
            count.feed(chunk);
        }
        assert_eq!(count.total(), records, "{csv:?}");
    }

    #[test]
    fn records_are_counted_by_line_ends_outside_quotes() {
        check("", 0);
        check("a,b\n", 1);
        check("a,b\r\nc,d", 2);
        check("\"two\nlines\",x\ny,z\n", 2);
        check("\"\"\n", 1);
    }
}
