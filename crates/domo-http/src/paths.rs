//! Building request paths: ids as percent-encoded path segments, and queries.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::error::Error;

/// Everything but unreserved characters is encoded in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A path segment, percent-encoded; an empty or dot-only segment is refused
/// so that an id can never point at another resource.
pub(crate) fn segment(request: &str, what: &str, value: &str) -> Result<String, Error> {
    if value.is_empty() || value == "." || value == ".." {
        return Err(Error::build(request, format!("the {what} `{value}` is not a valid id")));
    }
    Ok(utf8_percent_encode(value, SEGMENT).to_string())
}

/// `path?name=value&…`, form-encoded.
pub(crate) fn with_query<K: AsRef<str>, V: AsRef<str>>(
    path: String,
    pairs: impl IntoIterator<Item = (K, V)>,
) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (name, value) in pairs {
        query.append_pair(name.as_ref(), value.as_ref());
        any = true;
    }
    if any { format!("{path}?{}", query.finish()) } else { path }
}
