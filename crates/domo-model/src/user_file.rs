//! Strict reading of files a person writes (policies, directory): unknown fields are errors.

use serde::de::DeserializeOwned;

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
    #[error("`{file}` at `{path}`: unknown field `{field}`")]
    UnknownField {
        /// The file's name as the user gave it.
        file: String,
        /// The JSON path of the object holding the field, `.` for the top level.
        path: String,
        /// The field's name.
        field: String,
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
/// assert_eq!(err.to_string(), "`policies.json` at `[0]`: unknown field `grups`");
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
        Err(err) => return Err(classify(file, &track.path().to_string(), &err)),
    };
    if let Err(err) = json.end() {
        return Err(classify(file, ".", &err));
    }
    match unknown {
        Some((path, field)) => Err(UserFileError::UnknownField { file: file.to_owned(), path, field }),
        None => Ok(value),
    }
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
            "`f.json` at `[0].filters[0]`: unknown field `nott`",
        );
    }

    #[test]
    fn unknown_top_level_field() {
        check_err::<Directory>(r#"{"users":[],"group":[]}"#, "`f.json` at `.`: unknown field `group`");
    }

    #[test]
    fn unknown_field_inside_an_option_names_the_path_without_a_question_mark() {
        check_err::<crate::DatasetUpdate>(
            r#"{"owner":{"id":27,"role":"Admin"}}"#,
            "`f.json` at `owner`: unknown field `role`",
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
