//! A streaming RFC 4180 record splitter that, unlike the csv crate, tells a quoted empty field from an unquoted one and hands out each record's raw bytes.

use std::io::{self, Read};

use memchr::{memchr, memchr3};

/// Why the bytes are not valid CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SyntaxError {
    /// A quoted field never closes.
    UnterminatedQuote,
    /// Text follows a closing quote before the next separator.
    TextAfterQuote,
    /// A quote appears inside an unquoted field.
    QuoteInUnquotedField,
    /// A carriage return outside quotes that does not end the row (not followed
    /// by a line feed). Readers disagree on whether it ends a row, so it is
    /// refused rather than read one way here and another way elsewhere.
    LoneCarriageReturn,
    /// More fields than the splitter's limit (reported as [`SplitError::TooManyFields`]).
    TooManyFields,
}

/// What went wrong while splitting.
#[derive(Debug)]
pub(crate) enum SplitError {
    /// Reading the input failed.
    Io(io::Error),
    /// The record is not valid CSV.
    Syntax(SyntaxError),
    /// The record is longer than the splitter's limit (the limit, in bytes).
    RecordTooLarge(usize),
    /// The record has more fields than the splitter's limit (the limit).
    TooManyFields(usize),
}

/// One record's fields (quotes removed, `""` unescaped) and whether each was quoted.
#[derive(Debug, Default, Clone)]
pub(crate) struct Fields {
    data: Vec<u8>,
    ends: Vec<usize>,
    quoted: Vec<bool>,
}

impl Fields {
    pub(crate) fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
        self.quoted.clear();
    }

    /// Drops every field from index `fields` on (and their bytes).
    pub(crate) fn truncate_fields(&mut self, fields: usize) {
        self.truncate(fields);
    }

    fn truncate(&mut self, fields: usize) {
        self.ends.truncate(fields);
        self.quoted.truncate(fields);
        let len = self.ends.last().copied().unwrap_or(0);
        self.data.truncate(len);
    }

    /// Whether the fields from index `first` on are a blank line: one unquoted empty field.
    pub(crate) fn is_blank_from(&self, first: usize) -> bool {
        self.ends.len() == first + 1
            && self.quoted.get(first) == Some(&false)
            && self.fields_start(first) == self.data.len()
    }

    fn fields_start(&self, index: usize) -> usize {
        match index.checked_sub(1) {
            Some(previous) => self.ends.get(previous).copied().unwrap_or(0),
            None => 0,
        }
    }

    fn end_field(&mut self, quoted: bool) {
        self.ends.push(self.data.len());
        self.quoted.push(quoted);
    }

    /// How many fields the record has.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The field's bytes and whether it was quoted.
    pub(crate) fn get(&self, index: usize) -> Option<(&[u8], bool)> {
        let end = *self.ends.get(index)?;
        let start = match index.checked_sub(1) {
            Some(previous) => *self.ends.get(previous)?,
            None => 0,
        };
        Some((self.data.get(start..end)?, *self.quoted.get(index)?))
    }

    /// Whether the record is a blank line: one unquoted empty field.
    pub(crate) fn is_blank(&self) -> bool {
        self.is_blank_from(0)
    }

    /// How many bytes the fields hold.
    pub(crate) fn byte_len(&self) -> usize {
        self.data.len()
    }
}

const INITIAL_BUFFER: usize = 256 * 1024;

/// Splits a byte stream into records, one at a time, reusing its buffers.
#[derive(Debug)]
pub(crate) struct Splitter<R> {
    reader: R,
    buf: Vec<u8>,
    /// Start of the bytes not yet consumed.
    start: usize,
    /// End of the bytes read so far.
    end: usize,
    /// Where the last record's raw bytes start (for [`Splitter::raw`]).
    raw_start: usize,
    eof: bool,
    /// 1-based number of the last record returned.
    record: u64,
    /// The longest record accepted, terminator included, in bytes.
    max_record: usize,
    /// The most fields a record may have.
    max_fields: usize,
}

impl<R: Read> Splitter<R> {
    /// A splitter that accepts records up to `max_record` bytes (terminator
    /// included) and up to `max_fields` fields: memory stays bounded by the
    /// limit whatever the input (`/dev/zero`, a file with no line break).
    pub(crate) fn new(reader: R, max_record: usize, max_fields: usize) -> Self {
        let max_record = max_record.max(1);
        let initial = INITIAL_BUFFER.min(max_record.saturating_add(1));
        Self {
            reader,
            buf: vec![0; initial],
            start: 0,
            end: 0,
            raw_start: 0,
            eof: false,
            record: 0,
            max_record,
            max_fields: max_fields.max(1),
        }
    }

    /// The 1-based number of the last record returned (or being read when an error came).
    pub(crate) fn record_number(&self) -> u64 {
        self.record
    }

    /// The raw bytes of the last record returned, terminator included, exactly as read.
    pub(crate) fn raw(&self) -> &[u8] {
        self.buf.get(self.raw_start..self.start).unwrap_or_default()
    }

    /// Reads the next record into `fields`; `Ok(false)` at the end of input.
    pub(crate) fn next_record(&mut self, fields: &mut Fields) -> Result<bool, SplitError> {
        fields.clear();
        self.append_record(fields)
    }

    /// Appends the next record's fields to `fields`; `Ok(false)` at the end of input.
    pub(crate) fn append_record(&mut self, fields: &mut Fields) -> Result<bool, SplitError> {
        loop {
            let available = self.buf.get(self.start..self.end).unwrap_or_default();
            if available.is_empty() && self.eof {
                return Ok(false);
            }
            if !available.is_empty() {
                let mark = fields.len();
                match split_record(available, self.eof, fields, mark.saturating_add(self.max_fields)) {
                    Ok(Some(consumed)) => {
                        self.record += 1;
                        if consumed > self.max_record {
                            fields.truncate(mark);
                            return Err(SplitError::RecordTooLarge(self.max_record));
                        }
                        if fields.len() - mark > self.max_fields {
                            fields.truncate(mark);
                            return Err(SplitError::TooManyFields(self.max_fields));
                        }
                        self.raw_start = self.start;
                        self.start += consumed;
                        return Ok(true);
                    }
                    Ok(None) => {}
                    Err(SyntaxError::TooManyFields) => {
                        self.record += 1;
                        return Err(SplitError::TooManyFields(self.max_fields));
                    }
                    Err(e) => {
                        self.record += 1;
                        return Err(SplitError::Syntax(e));
                    }
                }
                // The record is not complete yet: refuse to hold more than the limit.
                if available.len() > self.max_record {
                    self.record += 1;
                    return Err(SplitError::RecordTooLarge(self.max_record));
                }
            }
            self.fill().map_err(SplitError::Io)?;
        }
    }

    /// Moves the unconsumed bytes to the front, grows the buffer if a record fills it, and reads more.
    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            self.raw_start = 0;
        }
        if self.end == self.buf.len() {
            // One byte past the limit is enough to tell that a record exceeds it.
            let len = self.buf.len().saturating_mul(2).min(self.max_record.saturating_add(1)).max(self.end + 1);
            self.buf.resize(len, 0);
        }
        loop {
            let target = self.buf.get_mut(self.end..).unwrap_or_default();
            match self.reader.read(target) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Splits one record from the start of `b`, appending its fields. `Ok(None)` means more bytes are needed.
/// Stops with [`SyntaxError::TooManyFields`] once `fields` would hold more than `max_len` fields.
fn split_record(b: &[u8], eof: bool, fields: &mut Fields, max_len: usize) -> Result<Option<usize>, SyntaxError> {
    let mark = fields.len();
    let mut result = split_fields(b, eof, fields, CarriageReturns::Unchecked, max_len);
    // A record rarely holds a carriage return other than its CRLF ending; only
    // then is it split again, checking that none stands alone outside quotes.
    if let Ok(Some(consumed)) = result {
        let body = b.get(..consumed).unwrap_or_default();
        let body = body.strip_suffix(b"\n").unwrap_or(body);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        if memchr(b'\r', body).is_some() {
            fields.truncate(mark);
            result = split_fields(b, eof, fields, CarriageReturns::RefuseUnquoted, max_len);
        }
    }
    if !matches!(result, Ok(Some(_))) {
        fields.truncate(mark);
    }
    result
}

/// Whether [`split_fields`] looks for carriage returns inside unquoted fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CarriageReturns {
    /// The caller knows the record has none but its ending.
    Unchecked,
    /// An unquoted field holding one is an error.
    RefuseUnquoted,
}

/// Ends an unquoted field, refusing a carriage return in it when asked to.
fn end_unquoted(fields: &mut Fields, field: &[u8], check: CarriageReturns) -> Result<(), SyntaxError> {
    if check == CarriageReturns::RefuseUnquoted && memchr(b'\r', field).is_some() {
        return Err(SyntaxError::LoneCarriageReturn);
    }
    fields.data.extend_from_slice(field);
    fields.end_field(false);
    Ok(())
}

/// The first comma, line feed or quote in `rest`. Most fields are a few bytes
/// long: a plain loop finds their end sooner than setting up a vector search.
#[inline]
fn find_special(rest: &[u8]) -> Option<usize> {
    const SHORT: usize = 24;
    let head = rest.get(..SHORT).unwrap_or(rest);
    if let Some(k) = head.iter().position(|&c| matches!(c, b',' | b'\n' | b'"')) {
        return Some(k);
    }
    if head.len() == rest.len() {
        return None;
    }
    memchr3(b',', b'\n', b'"', rest.get(SHORT..).unwrap_or_default()).map(|k| k + SHORT)
}

fn split_fields(
    b: &[u8],
    eof: bool,
    fields: &mut Fields,
    check: CarriageReturns,
    max_len: usize,
) -> Result<Option<usize>, SyntaxError> {
    let mut i = 0;
    loop {
        if fields.len() >= max_len {
            // Another field would pass the limit (a record ends with a field).
            return Err(SyntaxError::TooManyFields);
        }
        if b.get(i) == Some(&b'"') {
            i += 1;
            loop {
                let rest = b.get(i..).unwrap_or_default();
                let Some(k) = memchr(b'"', rest) else {
                    return if eof { Err(SyntaxError::UnterminatedQuote) } else { Ok(None) };
                };
                fields.data.extend_from_slice(rest.get(..k).unwrap_or_default());
                i += k + 1;
                match b.get(i) {
                    Some(b'"') => {
                        fields.data.push(b'"');
                        i += 1;
                    }
                    None if !eof => return Ok(None),
                    _ => break,
                }
            }
            fields.end_field(true);
            match b.get(i) {
                None => return Ok(Some(i)),
                Some(b',') => i += 1,
                Some(b'\n') => return Ok(Some(i + 1)),
                Some(b'\r') => match b.get(i + 1) {
                    Some(b'\n') => return Ok(Some(i + 2)),
                    None if !eof => return Ok(None),
                    _ => return Err(SyntaxError::TextAfterQuote),
                },
                Some(_) => return Err(SyntaxError::TextAfterQuote),
            }
        } else {
            let rest = b.get(i..).unwrap_or_default();
            match find_special(rest) {
                None => {
                    if !eof {
                        return Ok(None);
                    }
                    let field = rest.strip_suffix(b"\r").unwrap_or(rest);
                    end_unquoted(fields, field, check)?;
                    return Ok(Some(b.len()));
                }
                Some(k) => {
                    let field = rest.get(..k).unwrap_or_default();
                    match rest.get(k) {
                        Some(b',') => {
                            end_unquoted(fields, field, check)?;
                            i += k + 1;
                        }
                        Some(b'\n') => {
                            let field = field.strip_suffix(b"\r").unwrap_or(field);
                            end_unquoted(fields, field, check)?;
                            return Ok(Some(i + k + 1));
                        }
                        _ => return Err(SyntaxError::QuoteInUnquotedField),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(input: &[u8]) -> Result<Vec<Vec<(String, bool)>>, SyntaxError> {
        // A tiny reader that hands out 3 bytes at a time, to cross buffer boundaries.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(3);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut splitter = Splitter::new(Trickle(input), usize::MAX, usize::MAX);
        splitter.buf = vec![0; 4];
        let mut fields = Fields::default();
        let mut records = Vec::new();
        loop {
            match splitter.next_record(&mut fields) {
                Ok(true) => records.push(
                    (0..fields.len())
                        .map(|i| {
                            let (bytes, quoted) = fields.get(i).unwrap();
                            (String::from_utf8_lossy(bytes).into_owned(), quoted)
                        })
                        .collect(),
                ),
                Ok(false) => return Ok(records),
                Err(SplitError::Syntax(e)) => return Err(e),
                Err(e) => panic!("{e:?}"),
            }
        }
    }

    fn f(text: &str, quoted: bool) -> (String, bool) {
        (text.to_owned(), quoted)
    }

    proptest::proptest! {
        /// The short-field search finds what `memchr3` finds, before, at and past its loop's end.
        #[test]
        fn field_ends_are_found_at_any_distance(
            text in proptest::collection::vec(proptest::sample::select(b"ab,\n\"\r".to_vec()), 0..80),
            plain in 0usize..60,
        ) {
            let mut bytes = vec![b'x'; plain];
            bytes.extend(text);
            proptest::prop_assert_eq!(find_special(&bytes), memchr3(b',', b'\n', b'"', &bytes));
        }
    }

    #[test]
    fn quoted_and_unquoted_empty_fields_differ() {
        assert_eq!(split(b",\"\"\n").unwrap(), vec![vec![f("", false), f("", true)]]);
    }

    #[test]
    fn quotes_newlines_and_crlf() {
        let records = split(b"a,\"b\"\"c\"\r\n\"x\ny\",z").unwrap();
        assert_eq!(records, vec![vec![f("a", false), f("b\"c", true)], vec![f("x\ny", true), f("z", false)]]);
    }

    #[test]
    fn broken_quoting_is_an_error() {
        assert_eq!(split(b"\"abc"), Err(SyntaxError::UnterminatedQuote));
        assert_eq!(split(b"\"a\"b,c\n"), Err(SyntaxError::TextAfterQuote));
        assert_eq!(split(b"a\"b\n"), Err(SyntaxError::QuoteInUnquotedField));
        assert_eq!(split(b"public\rsecret\nother\n"), Err(SyntaxError::LoneCarriageReturn));
        assert_eq!(split(b"a,b\rc\r\n"), Err(SyntaxError::LoneCarriageReturn));
        assert_eq!(split(b"a\r\rb"), Err(SyntaxError::LoneCarriageReturn));
    }
}
