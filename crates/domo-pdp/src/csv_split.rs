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

/// One or more records' fields (quotes removed, `""` unescaped) and whether each was quoted.
///
/// Each record's raw bytes are copied once, whole, into one buffer, and a field is a
/// span of it: an unquoted field is its bytes where they lie, a quoted one the bytes
/// between its quotes. Only a quoted field holding `""` is rewritten, in place (the
/// unescaped text is shorter than the raw one), so most fields are never copied alone.
#[derive(Debug, Default, Clone)]
pub(crate) struct Fields {
    data: Vec<u8>,
    /// Each field's start and end in `data`.
    spans: Vec<(u32, u32)>,
    quoted: Vec<bool>,
    /// Fields of the record being split that hold `""`, unescaped once its bytes are copied.
    escaped: Vec<usize>,
}

impl Fields {
    pub(crate) fn clear(&mut self) {
        self.data.clear();
        self.spans.clear();
        self.quoted.clear();
        self.escaped.clear();
    }

    /// Drops every field from index `fields` on (and their bytes); `fields` is the first field of a record.
    pub(crate) fn truncate_fields(&mut self, fields: usize) {
        self.truncate(fields);
    }

    fn truncate(&mut self, fields: usize) {
        // A record's raw bytes start at its first field, or one byte before when it is quoted.
        if let (Some(&(start, _)), Some(&quoted)) = (self.spans.get(fields), self.quoted.get(fields)) {
            self.data.truncate(start.saturating_sub(u32::from(quoted)) as usize);
        }
        self.spans.truncate(fields);
        self.quoted.truncate(fields);
        self.escaped.clear();
    }

    /// Whether the fields from index `first` on are a blank line: one unquoted empty field.
    pub(crate) fn is_blank_from(&self, first: usize) -> bool {
        self.spans.len() == first + 1
            && self.quoted.get(first) == Some(&false)
            && self.spans.get(first).is_some_and(|&(start, end)| start == end)
    }

    /// Ends a field spanning `start..end` of the record whose raw bytes will follow `data`.
    fn push_field(&mut self, start: usize, end: usize, quoted: bool) {
        let at = |offset: usize| u32::try_from(self.data.len().saturating_add(offset)).unwrap_or(u32::MAX);
        self.spans.push((at(start), at(end)));
        self.quoted.push(quoted);
    }

    /// Copies the record's raw bytes after the previous records' and unescapes its `""` fields in place.
    fn finish_record(&mut self, raw: &[u8]) {
        self.data.extend_from_slice(raw);
        for index in self.escaped.drain(..) {
            let Some(span) = self.spans.get_mut(index) else { continue };
            let (start, end) = (span.0 as usize, span.1 as usize);
            let Some(text) = self.data.get_mut(start..end) else { continue };
            // Each `"` of the quoted text is the first of a pair: keep it, skip its twin.
            let (mut read, mut write) = (0, 0);
            while let Some(&byte) = text.get(read) {
                if let Some(slot) = text.get_mut(write) {
                    *slot = byte;
                }
                write += 1;
                read += if byte == b'"' { 2 } else { 1 };
            }
            span.1 = span.0.saturating_add(u32::try_from(write).unwrap_or(u32::MAX));
        }
    }

    /// How many fields the record has.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The field's bytes and whether it was quoted.
    #[inline]
    pub(crate) fn get(&self, index: usize) -> Option<(&[u8], bool)> {
        let &(start, end) = self.spans.get(index)?;
        Some((self.data.get(start as usize..end as usize)?, *self.quoted.get(index)?))
    }

    /// Whether the record is a blank line: one unquoted empty field.
    pub(crate) fn is_blank(&self) -> bool {
        self.is_blank_from(0)
    }

    /// How many bytes the records hold (their raw bytes, separators included).
    pub(crate) fn byte_len(&self) -> usize {
        self.data.len()
    }
}

/// The longest record a splitter accepts whatever its caller asks (2 GiB): fields are
/// kept as 32-bit offsets, and a batch holds at most a few MiB plus one record.
const MAX_RECORD: usize = 1 << 31;

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
    /// Whether the input's first bytes are still to be checked for a UTF-8 byte-order mark.
    bom_unchecked: bool,
}

/// The UTF-8 byte-order mark that some tools (Excel's "CSV UTF-8") write first: not data.
const BOM: &[u8] = b"\xEF\xBB\xBF";

impl<R: Read> Splitter<R> {
    /// A splitter that accepts records up to `max_record` bytes (terminator
    /// included) and up to `max_fields` fields: memory stays bounded by the
    /// limit whatever the input (`/dev/zero`, a file with no line break).
    pub(crate) fn new(reader: R, max_record: usize, max_fields: usize) -> Self {
        let max_record = max_record.clamp(1, MAX_RECORD);
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
            bom_unchecked: true,
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
            if self.bom_unchecked {
                if available.len() >= BOM.len() || self.eof {
                    // Skipped, so that a header whose first name follows a mark (quoted or not) matches.
                    self.bom_unchecked = false;
                    if available.starts_with(BOM) {
                        self.start += BOM.len();
                        continue;
                    }
                } else if BOM.starts_with(available) {
                    // Too few bytes yet to tell a mark from data.
                    self.fill().map_err(SplitError::Io)?;
                    continue;
                } else {
                    self.bom_unchecked = false;
                }
            }
            if available.is_empty() && self.eof {
                return Ok(false);
            }
            if !available.is_empty() {
                let mark = fields.len();
                match split_record(available, self.eof, fields, mark.saturating_add(self.max_fields)) {
                    Ok(Some(consumed)) => {
                        self.record += 1;
                        // Offsets past 4 GiB would not fit the fields' spans: refused, never wrapped.
                        if consumed > self.max_record || u32::try_from(fields.byte_len()).is_err() {
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
    if let Some(consumed) = split_plain(b, fields, max_len) {
        fields.finish_record(b.get(..consumed).unwrap_or_default());
        return Ok(Some(consumed));
    }
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
    match result {
        Ok(Some(consumed)) => fields.finish_record(b.get(..consumed).unwrap_or_default()),
        _ => fields.truncate(mark),
    }
    result
}

/// The common record, split 8 bytes at a time: no quote, no carriage return but its CRLF
/// ending, and its line feed at least 8 bytes before the end of `b`. Pushes its fields and
/// returns its length; `None`, with nothing pushed, for any other record, which
/// [`split_fields`] then splits byte by byte (with the same answer for this one).
#[inline]
fn split_plain(b: &[u8], fields: &mut Fields, max_len: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Every byte the splitter stops at (`\n`, `\r`, `"`, `,`) is below `-`: a word's bytes
    // below it are found at once (exactly: no carry crosses bytes), the others skipped.
    const BELOW: u64 = ONES * (0x80 - b'-' as u64);
    let mark = fields.len();
    let mut start = 0;
    let mut at = 0;
    while let Some(&chunk) = b.get(at..).and_then(|rest| rest.first_chunk::<8>()) {
        let word = u64::from_le_bytes(chunk);
        let mut candidates = !(((word & !HIGH) + BELOW) | word) & HIGH;
        while candidates != 0 {
            let end = at + (candidates.trailing_zeros() / 8) as usize;
            candidates &= candidates - 1;
            let ending = match b.get(end) {
                Some(b',') => None,
                Some(b'\n') => Some(end + 1),
                Some(b'\r') if b.get(end + 1) == Some(&b'\n') => Some(end + 2),
                Some(b'"' | b'\r') => return give_up(fields, mark),
                _ => continue,
            };
            if fields.len() >= max_len {
                // The byte-by-byte split reports the error.
                return give_up(fields, mark);
            }
            fields.push_field(start, end, false);
            if ending.is_some() {
                return ending;
            }
            start = end + 1;
        }
        at += 8;
    }
    give_up(fields, mark)
}

/// Drops the fields [`split_plain`] pushed for a record it leaves to [`split_fields`].
#[cold]
fn give_up(fields: &mut Fields, mark: usize) -> Option<usize> {
    fields.truncate(mark);
    None
}

/// Whether [`split_fields`] looks for carriage returns inside unquoted fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CarriageReturns {
    /// The caller knows the record has none but its ending.
    Unchecked,
    /// An unquoted field holding one is an error.
    RefuseUnquoted,
}

/// Ends an unquoted field of `len` bytes at `start` in the record, refusing a carriage
/// return in it when asked to.
#[inline]
fn end_unquoted(
    fields: &mut Fields,
    record: &[u8],
    start: usize,
    len: usize,
    check: CarriageReturns,
) -> Result<(), SyntaxError> {
    if check == CarriageReturns::RefuseUnquoted
        && memchr(b'\r', record.get(start..start + len).unwrap_or_default()).is_some()
    {
        return Err(SyntaxError::LoneCarriageReturn);
    }
    fields.push_field(start, start + len, false);
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
            let start = i;
            loop {
                let rest = b.get(i..).unwrap_or_default();
                let Some(k) = memchr(b'"', rest) else {
                    return if eof { Err(SyntaxError::UnterminatedQuote) } else { Ok(None) };
                };
                i += k + 1;
                match b.get(i) {
                    Some(b'"') => {
                        if fields.escaped.last() != Some(&fields.len()) {
                            fields.escaped.push(fields.len());
                        }
                        i += 1;
                    }
                    None if !eof => return Ok(None),
                    _ => break,
                }
            }
            // The text lies between the quotes; a `""` in it is unescaped once the record is copied.
            fields.push_field(start, i - 1, true);
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
                    let len = rest.len() - usize::from(rest.ends_with(b"\r"));
                    end_unquoted(fields, b, i, len, check)?;
                    return Ok(Some(b.len()));
                }
                Some(k) => match rest.get(k) {
                    Some(b',') => {
                        end_unquoted(fields, b, i, k, check)?;
                        i += k + 1;
                    }
                    Some(b'\n') => {
                        let len = k - usize::from(k > 0 && rest.get(k - 1) == Some(&b'\r'));
                        end_unquoted(fields, b, i, len, check)?;
                        return Ok(Some(i + k + 1));
                    }
                    _ => return Err(SyntaxError::QuoteInUnquotedField),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests;
