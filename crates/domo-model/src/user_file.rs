//! Strict reading of files a person writes (policies, directory): unknown fields are errors.

use serde::de::DeserializeOwned;

use crate::known_fields::shape_at;

/// A file a person wrote could not be read as the type it should hold.
///
/// Every variant names the file; [`UserFileError::UnknownField`] and
/// [`UserFileError::Invalid`] also name the JSON path (`[0].filters[1]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserFileError {
    /// The text is not JSON at all, or ends early.
    #[error("`{file}` is not valid JSON at line {line}, column {column}: {message}")]
    Syntax {
        /// The file's name as the user gave it.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// A value has the wrong shape or type.
    #[error("`{file}` at `{path}` (line {line}, column {column}): {message}")]
    Invalid {
        /// The file's name as the user gave it.
        file: String,
        /// The JSON path of the value, `.` for the top level.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// An object has a field this type does not know: usually a typo.
    #[error("`{file}` at `{path}`: unknown field `{field}`{}", known_hint(.known, .suggestion.as_deref()))]
    UnknownField {
        /// The file's name as the user gave it.
        file: String,
        /// The JSON path of the object holding the field, `.` for the top level.
        path: String,
        /// The field's name.
        field: String,
        /// The known field closest to it, if one is close ("did you mean").
        suggestion: Option<String>,
        /// Every field the object may hold (empty when they cannot be told).
        known: Vec<String>,
    },
}

/// Reads a file a person wrote, rejecting unknown fields.
///
/// Server responses use the same types but tolerate unknown fields (plain
/// `serde_json`); this is the strict reading for `policies.json`,
/// `directory.json` and other files under a user's control. `file` is the
/// name to show in errors.
///
/// ```
/// use domo_model::{read_user_file, Policy, UserFileError};
///
/// let text = r#"[{"name": "West", "filters": [], "users": [27], "grups": [1]}]"#;
/// let err = read_user_file::<Vec<Policy>>("policies.json", text).unwrap_err();
/// assert_eq!(err.to_string(), "`policies.json` at `[0]`: unknown field `grups` (did you mean `groups`?)");
/// ```
pub fn read_user_file<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, UserFileError> {
    let mut unknown: Option<(String, String)> = None;
    let mut json = serde_json::Deserializer::from_str(text);
    let mut track = serde_path_to_error::Track::new();
    let tracked = serde_path_to_error::Deserializer::new(&mut json, &mut track);
    let result = serde_ignored::deserialize(tracked, |path| {
        if unknown.is_none() {
            unknown = Some(split_ignored_path(&path.to_string()));
        }
    });
    let value: T = match result {
        Ok(value) => value,
        Err(err) => return Err(explain_missing::<T>(classify(file, &track.path().to_string(), &err), text)),
    };
    if let Err(err) = json.end() {
        return Err(classify(file, ".", &err));
    }
    match unknown {
        Some((path, field)) => {
            let known = shape_at::<T>(text, &path).fields;
            let suggestion = crate::did_you_mean(&field, known.iter().copied()).map(str::to_owned);
            let known = known.iter().map(|name| (*name).to_owned()).collect();
            Err(UserFileError::UnknownField { file: file.to_owned(), path, field, suggestion, known })
        }
        None => Ok(value),
    }
}

/// ` (did you mean `count`?)`, else ` (known fields: a, b)`, else nothing.
fn known_hint(known: &[String], suggestion: Option<&str>) -> String {
    match suggestion {
        Some(close) => format!(" (did you mean `{close}`?)"),
        None if known.is_empty() => String::new(),
        None => format!(" (known fields: {})", known.join(", ")),
    }
}

/// A missing field next to an unknown key close to it (`nmae` for `name`)
/// is a typo: the message says so.
fn explain_missing<T: DeserializeOwned>(error: UserFileError, text: &str) -> UserFileError {
    let UserFileError::Invalid { file, path, line, column, message } = error else { return error };
    let missing = message.strip_prefix("missing field `").and_then(|rest| rest.strip_suffix('`'));
    let typo = missing.and_then(|missing| {
        let shape = shape_at::<T>(text, &path);
        let unknown = shape.keys.iter().filter(|key| !shape.fields.contains(&key.as_str()));
        crate::did_you_mean(missing, unknown.map(String::as_str)).map(str::to_owned)
    });
    let message = match typo {
        Some(typo) => format!("{message} (is `{typo}` a typo of it?)"),
        None => message,
    };
    UserFileError::Invalid { file, path, line, column, message }
}

fn classify(file: &str, path: &str, err: &serde_json::Error) -> UserFileError {
    let message = strip_position(&err.to_string());
    match err.classify() {
        serde_json::error::Category::Data => UserFileError::Invalid {
            file: file.to_owned(),
            path: normalise_path(path),
            line: err.line(),
            column: err.column(),
            message,
        },
        _ => UserFileError::Syntax { file: file.to_owned(), line: err.line(), column: err.column(), message },
    }
}

/// serde_json appends " at line L column C"; the error states the position itself.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message.get(..at).unwrap_or(message).to_owned(),
        None => message.to_owned(),
    }
}

/// serde_path_to_error writes `?` for an unknown position and a bare `.` for the
/// root; the top level reads better as `.` and an array index as `[0]`.
fn normalise_path(path: &str) -> String {
    if path.is_empty() || path == "?" || path == "." {
        return ".".to_owned();
    }
    let mut out = String::new();
    for segment in path.split('.') {
        // serde_ignored writes `?` for the inside of an `Option`.
        if segment.is_empty() || segment == "?" {
            continue;
        }
        if let Some(index) = segment.strip_prefix('[') {
            out.push('[');
            out.push_str(index);
        } else if segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(segment);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
    }
    if out.is_empty() { ".".to_owned() } else { out }
}

/// serde_ignored reports the path to the ignored field itself (`0.filters.1.foo`);
/// this splits it into the holding object's path and the field's name.
fn split_ignored_path(path: &str) -> (String, String) {
    match path.rsplit_once('.') {
        Some((parent, field)) => (normalise_path(parent), field.to_owned()),
        None => (".".to_owned(), path.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Directory, Policy};

    fn check_err<T: DeserializeOwned + std::fmt::Debug>(text: &str, expected: &str) {
        let err = read_user_file::<T>("f.json", text).expect_err("should fail");
        assert_eq!(err.to_string(), expected);
    }

    #[test]
    fn unknown_field_in_nested_filter_names_path() {
        check_err::<Vec<Policy>>(
            r#"[{"name":"a","filters":[{"column":"c","values":["x"],"operator":"EQUALS","nott":true}]}]"#,
            "`f.json` at `[0].filters[0]`: unknown field `nott` (did you mean `not`?)",
        );
    }

    #[test]
    fn unknown_top_level_field() {
        check_err::<Directory>(
            r#"{"users":[],"group":[]}"#,
            "`f.json` at `.`: unknown field `group` (did you mean `groups`?)",
        );
    }

    #[test]
    fn unknown_field_inside_an_option_names_the_path_without_a_question_mark() {
        check_err::<crate::DatasetUpdate>(
            r#"{"owner":{"id":27,"role":"Admin"}}"#,
            "`f.json` at `owner`: unknown field `role` (known fields: id, name)",
        );
    }

    #[test]
    fn every_file_a_person_writes_gets_the_closest_known_field() {
        use crate::{PolicyTestFile, Schema};
        check_err::<PolicyTestFile>(
            r#"{"cases": [{"user": 27, "cout": 4}]}"#,
            "`f.json` at `cases[0]`: unknown field `cout` (did you mean `count`?)",
        );
        check_err::<PolicyTestFile>(
            r#"{"cases": [{"user": 27, "sees": {"where": [{"column": "c", "operator": "EQUALS", "values": ["x"], "nto": true}]}}]}"#,
            "`f.json` at `cases[0].sees[0]`: unknown field `nto` (did you mean `not`?)",
        );
        check_err::<Vec<Policy>>(
            r#"[{"name": "a", "filters": []}, {"name": "b", "filters": [], "virtualUser": []}]"#,
            "`f.json` at `[1]`: unknown field `virtualUser` (did you mean `virtualUsers`?)",
        );
        check_err::<Directory>(
            r#"{"users": [{"id": 27, "name": "a", "rol": "Admin"}]}"#,
            "`f.json` at `users[0]`: unknown field `rol` (did you mean `role`?)",
        );
        check_err::<Schema>(
            r#"{"columns": [{"type": "STRING", "name": "Friend", "tpye": "LONG"}]}"#,
            "`f.json` at `columns[0]`: unknown field `tpye` (did you mean `type`?)",
        );
        check_err::<crate::DatasetUpdate>(
            r#"{"pdpEnable": true}"#,
            "`f.json` at `.`: unknown field `pdpEnable` (did you mean `pdpEnabled`?)",
        );
        // Nothing close: the fields that are known.
        check_err::<Schema>(
            r#"{"columns": [], "rows": 1}"#,
            "`f.json` at `.`: unknown field `rows` (known fields: columns)",
        );
        // A misspelt required field is missing as well as unknown.
        check_err::<Schema>(
            r#"{"colums": []}"#,
            "`f.json` at `.` (line 1, column 14): missing field `columns` (is `colums` a typo of it?)",
        );
        check_err::<PolicyTestFile>(
            r#"{"cases": [{"user": 27, "sees": {"where": [{"column": "c", "operator": "EQUALS", "valeus": ["x"]}]}}]}"#,
            "`f.json` at `cases[0].sees.where[0]` (line 1, column 97): missing field `values` (is `valeus` a typo of it?)",
        );
    }

    #[test]
    fn a_misspelt_operator_gets_the_closest_one() {
        check_err::<Vec<Policy>>(
            r#"[{"name":"a","filters":[{"column":"c","values":["x"],"operator":"EQUAL"}]}]"#,
            "`f.json` at `[0].filters[0].operator` (line 1, column 72): unknown operator `EQUAL` (did you mean `EQUALS`? expected one of: EQUALS, LIKE, GREATER_THAN, LESS_THAN, GREATER_THAN_EQUAL, LESS_THAN_EQUAL, BETWEEN, BEGINS_WITH, ENDS_WITH, CONTAINS)",
        );
    }

    #[test]
    fn unknown_operator_names_path_and_choices() {
        check_err::<Vec<Policy>>(
            r#"[{"name":"a","filters":[{"column":"c","values":["x"],"operator":"IN"}]}]"#,
            "`f.json` at `[0].filters[0].operator` (line 1, column 69): unknown operator `IN` (expected one of: EQUALS, LIKE, GREATER_THAN, LESS_THAN, GREATER_THAN_EQUAL, LESS_THAN_EQUAL, BETWEEN, BEGINS_WITH, ENDS_WITH, CONTAINS)",
        );
    }

    #[test]
    fn wrong_type_names_path() {
        check_err::<Directory>(
            r#"{"users":[{"id":"x27","name":"a"}]}"#,
            "`f.json` at `users[0].id` (line 1, column 21): invalid value: string \"x27\", expected a user id (a non-negative integer or a string of digits)",
        );
    }

    #[test]
    fn syntax_error_names_line() {
        check_err::<Directory>(
            "{\"users\": [\n",
            "`f.json` is not valid JSON at line 2, column 0: EOF while parsing a list",
        );
    }

    #[test]
    fn trailing_text_is_an_error() {
        check_err::<Directory>("{} x", "`f.json` is not valid JSON at line 1, column 4: trailing characters");
    }

    #[test]
    fn missing_field_is_named() {
        check_err::<Vec<Policy>>(r#"[{"filters":[]}]"#, "`f.json` at `[0]` (line 1, column 15): missing field `name`");
    }

    #[test]
    fn valid_file_reads() {
        let d: Directory =
            read_user_file("f.json", r#"{"users":[{"id":27,"name":"DomoSupport","role":"Admin"}],"groups":[{"id":"5","name":"g","userIds":[27]}]}"#)
                .expect("valid");
        assert_eq!(d.users.len(), 1);
        assert_eq!(d.groups.first().map(|g| g.id.get()), Some(5));
    }
}
