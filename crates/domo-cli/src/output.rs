//! Output of every command: the one `--format`, buffered stdout that strips colour when it should, tables, CSV,
//! JSON (to stdout or to a file), counted nouns. The rules are in docs/output.md; the JSON shapes in docs/json.md.

use std::io::{self, Write};
use std::path::Path;

use anstyle::{AnsiColor, Style};
use anyhow::Context;
use clap::ValueEnum;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use comfy_table::{CellAlignment, ContentArrangement, Table, presets};

use crate::stdout::Stdout;

/// How a command prints its result: the same value names in every command.
/// Every command defaults to `table` (a table or a report for people), whether
/// or not stdout is a terminal; `domo pdp preview` alone defaults to `csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum Format {
    /// A table or a report for people (`text` is accepted too).
    #[default]
    #[value(alias = "text")]
    Table,
    /// JSON for programs (shapes in docs/json.md).
    Json,
    /// CSV with a header row.
    Csv,
    /// GitHub-flavoured Markdown for a pull-request comment (`diff`, `plan`, `lint`).
    Markdown,
}

/// The formats of a command whose result is a table: table, json, csv.
pub(crate) const TABULAR: &[Format] = &[Format::Table, Format::Json, Format::Csv];

/// The formats of a command whose result is a report or one object: table, json.
pub(crate) const REPORT: &[Format] = &[Format::Table, Format::Json];

/// The formats of a command whose result a pull-request comment shows: table, json, markdown.
pub(crate) const COMMENT: &[Format] = &[Format::Table, Format::Json, Format::Markdown];

/// A `--format` parser that accepts only `allowed` (and lists only those in `--help`).
pub(crate) fn formats(allowed: &'static [Format]) -> impl TypedValueParser<Value = Format> {
    PossibleValuesParser::new(allowed.iter().filter_map(ValueEnum::to_possible_value))
        .try_map(|value: String| Format::from_str(&value, true))
}

/// `1 policy`, `2 policies`, `0 rows`: a count and its noun, singular only for exactly one.
pub(crate) fn plural(count: impl Into<u64>, one: &str, many: &str) -> String {
    let count = count.into();
    format!("{count} {}", if count == 1 { one } else { many })
}

/// [`plural`] for a `usize` count.
pub(crate) fn count(count: usize, one: &str, many: &str) -> String {
    plural(u64::try_from(count).unwrap_or(u64::MAX), one, many)
}

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

/// Prints a listing in `format`: `value` as JSON, the rows as CSV, or a table
/// for people followed by `footer` (a count such as `3 users`).
pub(crate) fn rows(
    format: Format,
    value: &impl serde::Serialize,
    header: &[&str],
    align: &[Align],
    rows: Vec<Vec<String>>,
    footer: &str,
) -> anyhow::Result<()> {
    // An empty result says so: on stdout under a table, on stderr when stdout holds only data.
    if rows.is_empty() && format != Format::Table {
        note(footer);
    }
    match format {
        Format::Json => json(value),
        Format::Csv => write_csv(plain_stdout(), header, rows),
        Format::Table | Format::Markdown => text(&format!("{}\n{footer}", table(header, align, rows))),
    }
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

/// A JSON value as every command writes it: pretty, with a trailing newline.
pub(crate) fn json_bytes(value: &impl serde::Serialize) -> anyhow::Result<Vec<u8>> {
    let mut text = serde_json::to_vec_pretty(value)?;
    text.push(b'\n');
    Ok(text)
}

/// Prints a value as JSON on stdout (never styled).
pub(crate) fn json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = json_bytes(value)?;
    let mut out = plain_stdout();
    out.write_all(&text)?;
    out.flush()?;
    Ok(())
}

/// Writes a value as JSON to a temporary file beside `path`, then renames it
/// into place, so that `path` is never left half-written.
pub(crate) fn json_file(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    text_file(path, &json_bytes(value)?)
}

/// Writes `text` to a temporary file beside `path`, then renames it into place, so that `path` is
/// never left half-written.
pub(crate) fn text_file(path: &Path, text: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut temp =
        tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot write in `{}`", dir.display()))?;
    temp.write_all(text).with_context(|| format!("cannot write `{}`", path.display()))?;
    temp.persist(path).with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(())
}

/// Prints text (a table, a report) on stdout, styled unless colour is off, ending with a newline.
pub(crate) fn text(text: &str) -> anyhow::Result<()> {
    let mut out = stdout();
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Prints a note for people on stderr (counts, what was cut, hints), so that stdout keeps only the result.
pub(crate) fn note(text: impl std::fmt::Display) {
    let _ = writeln!(anstream::stderr().lock(), "{text}");
}

/// `none gain`, `1 gains`, `2 gain`: how many of the users just counted do something.
pub(crate) fn how_many(count: usize, one: &str, many: &str) -> String {
    match count {
        0 => format!("none {many}"),
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

/// GitHub's limit on the length of a comment, in characters.
pub(crate) const COMMENT_LIMIT: usize = 65_536;

/// A pull-request comment in GitHub-flavoured Markdown, in the manner of terraform plan comments:
/// a one-line verdict, a few lines of context, then one collapsible `<details>` block per change.
#[derive(Debug, Default)]
pub(crate) struct Comment {
    /// The first line: what the change does, in a few words (`3 users gain rows, 1 loses rows`).
    pub(crate) verdict: String,
    /// Lines under the verdict (what was compared, the counts).
    pub(crate) context: Vec<String>,
    /// One collapsible block per change.
    pub(crate) sections: Vec<Section>,
    /// What to run to see everything, named when sections are left out.
    pub(crate) full_command: String,
}

/// A collapsible block of a [`Comment`]: its one-line summary and its Markdown body.
#[derive(Debug)]
pub(crate) struct Section {
    pub(crate) summary: String,
    pub(crate) body: String,
}

impl Comment {
    /// The comment as Markdown, at most [`COMMENT_LIMIT`] characters: when the blocks do not all
    /// fit, the first ones that do are kept and a last line says how many were left out.
    pub(crate) fn render(&self) -> String {
        self.render_within(COMMENT_LIMIT)
    }

    fn render_within(&self, limit: usize) -> String {
        let mut head = format!("### {}\n\n", self.verdict);
        for line in &self.context {
            head.push_str(line);
            head.push('\n');
        }
        // Room kept for the line that says what was left out.
        let reserve = 300 + self.full_command.chars().count();
        let mut text = head;
        let mut shown = 0;
        for section in &self.sections {
            let block = format!(
                "\n<details><summary>{}</summary>\n\n{}\n</details>\n",
                md_html(&section.summary),
                section.body.trim_end()
            );
            if text.chars().count() + block.chars().count() + reserve > limit {
                break;
            }
            text.push_str(&block);
            shown += 1;
        }
        let left = self.sections.len() - shown;
        if left > 0 {
            text.push_str(&format!(
                "\n**{} not shown**: the whole comment would pass GitHub's limit of {limit} characters. \
                 Run `{}` to see every one.\n",
                count(left, "more change", "more changes"),
                md_code(&self.full_command)
            ));
        }
        text
    }
}

/// Text for a Markdown table cell or a line: `|`, `<`, `>`, `&` and line breaks cannot break the layout.
pub(crate) fn md_cell(text: &str) -> String {
    md_html(text).replace('|', "\\|")
}

/// Text inside HTML (a `<summary>`) or Markdown: `<`, `>`, `&` escaped, line breaks as spaces.
pub(crate) fn md_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace(['\n', '\r'], " ")
}

/// Text for a code span (backticks): backticks and line breaks cannot end it early.
pub(crate) fn md_code(text: &str) -> String {
    text.replace('`', "'").replace(['\n', '\r'], " ")
}

/// A Markdown table: a header, right-aligned columns where `align` says so, escaped cells.
pub(crate) fn md_table(header: &[&str], align: &[Align], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut text = format!("| {} |\n|", header.iter().map(|h| md_cell(h)).collect::<Vec<_>>().join(" | "));
    for index in 0..header.len() {
        text.push_str(if align.get(index) == Some(&Align::Right) { " ---: |" } else { " --- |" });
    }
    text.push('\n');
    for row in rows {
        text.push_str(&format!("| {} |\n", row.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_singular_only_for_one() {
        assert_eq!(plural(0u64, "row", "rows"), "0 rows");
        assert_eq!(plural(1u64, "policy", "policies"), "1 policy");
        assert_eq!(count(2, "DataSet", "DataSets"), "2 DataSets");
        assert_eq!(how_many(0, "gains", "gain"), "none gain");
        assert_eq!(how_many(1, "loses", "lose"), "1 loses");
    }

    #[test]
    fn text_is_an_alias_of_table_and_only_allowed_formats_parse() {
        let parse = |allowed, value: &str| {
            let command = clap::Command::new("domo");
            formats(allowed).parse_ref(&command, None, std::ffi::OsStr::new(value)).map_err(|e| e.kind())
        };
        assert_eq!(parse(REPORT, "text"), Ok(Format::Table));
        assert_eq!(parse(REPORT, "json"), Ok(Format::Json));
        assert_eq!(parse(TABULAR, "csv"), Ok(Format::Csv));
        assert_eq!(parse(REPORT, "csv"), Err(clap::error::ErrorKind::InvalidValue));
    }

    #[test]
    fn a_comment_past_the_limit_keeps_the_first_blocks_and_says_how_many_are_left_out() {
        let comment = Comment {
            verdict: "3 users gain rows".to_owned(),
            context: vec!["over 4 rows".to_owned()],
            sections: (0..3).map(|i| Section { summary: format!("user {i} <b>"), body: "x".repeat(400) }).collect(),
            full_command: "domo pdp diff dir --against old".to_owned(),
        };
        let whole = comment.render_within(COMMENT_LIMIT);
        assert!(whole.starts_with("### 3 users gain rows\n"), "{whole}");
        assert_eq!(whole.matches("<details>").count(), 3);
        assert!(whole.contains("<summary>user 0 &lt;b&gt;</summary>"), "{whole}");
        let cut = comment.render_within(1_500);
        assert!(cut.chars().count() <= 1_500, "{} characters", cut.chars().count());
        assert_eq!(cut.matches("<details>").count(), 2);
        assert!(cut.contains("**1 more change not shown**"), "{cut}");
        assert!(cut.contains("`domo pdp diff dir --against old`"), "{cut}");
    }

    #[test]
    fn markdown_cells_cannot_break_a_table() {
        assert_eq!(md_cell("a|b\n<c>"), "a\\|b &lt;c&gt;");
        let table = md_table(&["user", "rows"], &[Align::Left, Align::Right], [vec!["x|y".to_owned(), "3".to_owned()]]);
        assert_eq!(table, "| user | rows |\n| --- | ---: |\n| x\\|y | 3 |\n");
    }
}
