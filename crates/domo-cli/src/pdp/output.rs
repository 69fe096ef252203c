//! Output plumbing: buffered stdout that strips colour when it should, tables, CSV and JSON.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};
use comfy_table::{CellAlignment, ContentArrangement, Table, presets};

use crate::stdout::Stdout;

/// Buffered stdout. ANSI styles are stripped when `NO_COLOR` is set or stdout
/// is not a terminal (anstream's rules). A closed stdout is marked (see `crate::stdout`).
pub(crate) fn stdout() -> Stdout<io::BufWriter<anstream::AutoStream<io::StdoutLock<'static>>>> {
    Stdout::new(io::BufWriter::with_capacity(1 << 16, anstream::AutoStream::auto(io::stdout().lock())))
}

/// Plain buffered stdout for machine formats (never styled).
pub(crate) fn plain_stdout() -> Stdout<io::BufWriter<io::StdoutLock<'static>>> {
    Stdout::new(io::BufWriter::with_capacity(1 << 16, io::stdout().lock()))
}

pub(crate) const ERROR: Style = AnsiColor::Red.on_default().bold();
pub(crate) const WARNING: Style = AnsiColor::Yellow.on_default().bold();
pub(crate) const NOTE: Style = AnsiColor::Cyan.on_default();
pub(crate) const GOOD: Style = AnsiColor::Green.on_default().bold();
pub(crate) const BOLD: Style = Style::new().bold();

/// Wraps text in a style (stripped later when colour is off).
pub(crate) fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// Column alignment of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// A table for people: a header and rows of text, with per-column alignment.
pub(crate) fn table(header: &[&str], align: &[Align], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut table = Table::new();
    table.load_style(presets::UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(header.iter().copied());
    for row in rows {
        table.add_row(row);
    }
    for (index, column) in table.column_iter_mut().enumerate() {
        if align.get(index) == Some(&Align::Right) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table.to_string()
}

/// Writes CSV records (a header, then rows) with the csv crate's quoting.
pub(crate) fn write_csv<W: Write>(
    out: W,
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(header).map_err(csv_error)?;
    for row in rows {
        writer.write_record(&row).map_err(csv_error)?;
    }
    writer.flush()?;
    Ok(())
}

/// A csv error as an anyhow error whose chain holds the `io::Error` (csv's own
/// error type hides it, and a closed stdout must stay recognisable).
pub(crate) fn csv_error(err: csv::Error) -> anyhow::Error {
    if !err.is_io_error() {
        return anyhow::Error::new(err);
    }
    match err.into_kind() {
        csv::ErrorKind::Io(io_err) => io_err.into(),
        _ => anyhow::anyhow!("cannot write CSV"),
    }
}

/// Writes a JSON value, pretty, with a trailing newline.
pub(crate) fn write_json<W: Write>(mut out: W, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut text = serde_json::to_vec_pretty(value)?;
    text.push(b'\n');
    out.write_all(&text)?;
    out.flush()?;
    Ok(())
}
