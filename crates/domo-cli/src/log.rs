//! The one logging setup of `domo` and `domo serve`: sentences for people on stderr, JSON lines when asked.
//!
//! Every log line goes to stderr. By default a line is the event's message,
//! prefixed with `warning:` or `error:` (styled only when stderr is a terminal
//! and `NO_COLOR` is unset, anstream's rules), never tracing's `key=value`
//! fields: the libraries write their messages as sentences that carry what a
//! person needs. `--log-format json` writes one JSON object a line with the
//! message and the structured fields, for programs. `DOMO_LOG`, else
//! `RUST_LOG`, filters the lines (tracing's `EnvFilter` syntax).

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use anstyle::{AnsiColor, Style};
use anyhow::Context as _;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

/// The environment variables that filter the log, the first one set wins.
const FILTER_VARS: [&str; 2] = ["DOMO_LOG", "RUST_LOG"];

/// How log lines are written. (The variants have no doc comments: clap would
/// turn them into a long help on every command.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    // Sentences for people: `warning: retrying GET /v1/datasets in 1s (attempt 2 of 4): …`.
    #[default]
    Human,
    // One JSON object a line: `time`, `level`, `target`, `message` and `fields`.
    Json,
}

/// Which lines a command shows when neither `DOMO_LOG` nor `RUST_LOG` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DefaultLevel {
    /// Warnings and errors (the client commands).
    Warn,
    /// Also the request log and start-up lines (`domo serve`).
    Info,
}

/// Installs the log for this process. A filter that does not parse is an
/// error naming the variable, never a silently different log.
pub(crate) fn init(format: LogFormat, default: DefaultLevel) -> anyhow::Result<()> {
    let filter = match FILTER_VARS.iter().find_map(|name| Some((*name, std::env::var(name).ok()?))) {
        Some((name, text)) => EnvFilter::builder()
            .parse(&text)
            .with_context(|| format!("{name} is not a log filter such as `warn` or `domo_http=debug`: `{text}`"))?,
        None => EnvFilter::new(match default {
            DefaultLevel::Warn => "warn",
            DefaultLevel::Info => "info",
        }),
    };
    let color = anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never;
    let layer = LineLayer { format, color };
    // Another subscriber may already be set (never in the binary); the log is a convenience then.
    let _ = tracing_subscriber::registry().with(filter).with(layer).try_init();
    Ok(())
}

/// Writes each event as one line on stderr.
struct LineLayer {
    format: LogFormat,
    color: bool,
}

impl<S: Subscriber> Layer<S> for LineLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let line = match self.format {
            LogFormat::Human => human_line(*meta.level(), &fields, self.color),
            LogFormat::Json => json_line(SystemTime::now(), *meta.level(), meta.target(), &fields),
        };
        // One write of a whole line, so that lines of several threads do not interleave.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// An event's message and its other fields, in order.
#[derive(Debug, Default)]
struct Fields {
    message: String,
    others: Vec<(&'static str, serde_json::Value)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.others.push((field.name(), serde_json::Value::String(format!("{value:?}"))));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.message);
        } else {
            self.others.push((field.name(), value.into()));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.others.push((field.name(), value.into()));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.others.push((field.name(), value.into()));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.others.push((field.name(), value.into()));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.others.push((field.name(), value.into()));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.others.push((field.name(), value.to_string().into()));
    }
}

/// `warning: MESSAGE`, styled when `color`; info lines have no prefix. An
/// event with no message (from a library below) shows its fields instead.
fn human_line(level: Level, fields: &Fields, color: bool) -> String {
    let (prefix, style) = match level {
        Level::ERROR => ("error: ", Style::new().bold().fg_color(Some(AnsiColor::Red.into()))),
        Level::WARN => ("warning: ", Style::new().bold().fg_color(Some(AnsiColor::Yellow.into()))),
        Level::INFO => ("", Style::new()),
        Level::DEBUG => ("debug: ", Style::new().dimmed()),
        Level::TRACE => ("trace: ", Style::new().dimmed()),
    };
    let mut line = String::new();
    if color && !prefix.is_empty() {
        let _ = write!(line, "{style}{prefix}{style:#}");
    } else {
        line.push_str(prefix);
    }
    if fields.message.is_empty() {
        let shown: Vec<String> =
            fields.others.iter().map(|(name, value)| format!("{name}: {}", plain(value))).collect();
        line.push_str(&shown.join(", "));
    } else {
        line.push_str(&fields.message);
    }
    line.push('\n');
    line
}

/// A JSON value as a person reads it: strings without quotes.
fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// `{"time":…,"level":"warn","target":…,"message":…,"fields":{…}}` and a newline.
fn json_line(now: SystemTime, level: Level, target: &str, fields: &Fields) -> String {
    let level = match level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    };
    let others: serde_json::Map<String, serde_json::Value> =
        fields.others.iter().map(|(name, value)| ((*name).to_owned(), value.clone())).collect();
    let object = serde_json::json!({
        "time": rfc3339(now),
        "level": level,
        "target": target,
        "message": fields.message,
        "fields": others,
    });
    format!("{object}\n")
}

/// `2026-12-01T01:02:03.456Z`.
fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// Year, month and day of a count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn fields(message: &str, others: &[(&'static str, serde_json::Value)]) -> Fields {
        Fields { message: message.to_owned(), others: others.to_vec() }
    }

    #[test]
    fn people_read_sentences_with_a_level_prefix_and_no_fields() {
        let retry = fields(
            "retrying GET /v1/datasets in 1s (attempt 2 of 4): cannot connect",
            &[("request", "GET /v1/datasets".into()), ("attempt", 1.into())],
        );
        let check = |level, color, expected: &str| assert_eq!(human_line(level, &retry, color), expected);
        check(Level::WARN, false, "warning: retrying GET /v1/datasets in 1s (attempt 2 of 4): cannot connect\n");
        check(Level::INFO, false, "retrying GET /v1/datasets in 1s (attempt 2 of 4): cannot connect\n");
        check(Level::ERROR, false, "error: retrying GET /v1/datasets in 1s (attempt 2 of 4): cannot connect\n");
        check(
            Level::WARN,
            true,
            "\u{1b}[1m\u{1b}[33mwarning: \u{1b}[0mretrying GET /v1/datasets in 1s (attempt 2 of 4): cannot connect\n",
        );
        let bare = fields("", &[("error", "reset".into()), ("written", 3.into())]);
        assert_eq!(human_line(Level::DEBUG, &bare, false), "debug: error: reset, written: 3\n");
    }

    #[test]
    fn programs_read_one_json_object_a_line() {
        let at = UNIX_EPOCH + Duration::from_millis(1_796_086_923_456);
        let line = json_line(at, Level::WARN, "domo_http::client", &fields("retrying", &[("attempt", 1.into())]));
        assert_eq!(
            line,
            "{\"fields\":{\"attempt\":1},\"level\":\"warn\",\"message\":\"retrying\",\
             \"target\":\"domo_http::client\",\"time\":\"2026-12-01T01:02:03.456Z\"}\n"
        );
    }

    #[test]
    fn dates_are_the_calendar_ones() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00.000Z");
    }
}
