//! Where an export is cut to keep its first rows: a CSV record counter that reads quoted fields as RFC 4180 does.

/// Counts CSV records in bytes as they stream by and finds the byte that ends
/// the record wanted. A newline inside a quoted field ends nothing; LF and
/// CRLF both end a record (the CR stays with it).
#[derive(Debug, Clone)]
pub(crate) struct RecordCut {
    /// The records to keep, the header row included.
    wanted: u64,
    /// Records ended so far.
    ended: u64,
    state: State,
    /// Whether bytes of an unfinished record were seen.
    in_record: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: the field's end, or the first of `""`.
    QuoteInQuoted,
}

impl RecordCut {
    /// A counter that keeps `wanted` records.
    pub(crate) fn new(wanted: u64) -> Self {
        Self { wanted, ended: 0, state: State::FieldStart, in_record: false }
    }

    /// Whether the records wanted were all seen.
    pub(crate) fn done(&self) -> bool {
        self.ended >= self.wanted
    }

    /// Reads `data`, and returns how many of its bytes to keep when the last
    /// record wanted ends in it (`None`: keep all of it and read on).
    pub(crate) fn scan(&mut self, data: &[u8]) -> Option<usize> {
        if self.done() {
            return Some(0);
        }
        for (at, &byte) in data.iter().enumerate() {
            self.in_record = true;
            self.state = match (self.state, byte) {
                (State::Quoted, b'"') => State::QuoteInQuoted,
                (State::Quoted, _) => State::Quoted,
                (State::QuoteInQuoted, b'"') | (State::FieldStart, b'"') => State::Quoted,
                (_, b',') => State::FieldStart,
                (_, b'\n') => {
                    self.ended += 1;
                    self.in_record = false;
                    if self.done() {
                        self.state = State::FieldStart;
                        return Some(at + 1);
                    }
                    State::FieldStart
                }
                _ => State::Unquoted,
            };
        }
        None
    }

    /// The records seen once the stream ended or was cut: those ended, plus
    /// a last one without a final newline.
    pub(crate) fn records(&self) -> u64 {
        self.ended + u64::from(self.in_record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `csv` in chunks of `chunk` bytes and returns what is kept.
    fn keep(csv: &str, wanted: u64, chunk: usize) -> (String, u64) {
        let mut cut = RecordCut::new(wanted);
        let mut kept = Vec::new();
        for piece in csv.as_bytes().chunks(chunk.max(1)) {
            match cut.scan(piece) {
                Some(end) => {
                    kept.extend_from_slice(piece.get(..end).unwrap_or_default());
                    break;
                }
                None => kept.extend_from_slice(piece),
            }
        }
        (String::from_utf8(kept).unwrap_or_default(), cut.records())
    }

    fn check(csv: &str, wanted: u64, expected: &str, records: u64) {
        for chunk in [1, 2, 3, 7, csv.len().max(1)] {
            assert_eq!(
                keep(csv, wanted, chunk),
                (expected.to_owned(), records),
                "{csv:?}, {wanted} records, chunks of {chunk}"
            );
        }
    }

    #[test]
    fn cuts_after_the_records_wanted() {
        check("a,b\n1,2\n3,4\n", 2, "a,b\n1,2\n", 2);
        check("a,b\r\n1,2\r\n3,4\r\n", 1, "a,b\r\n", 1);
        check("a,b\n1,2\n", 5, "a,b\n1,2\n", 2);
        check("a,b\n1,2", 5, "a,b\n1,2", 2);
        check("a,b\n1,2\n", 0, "", 0);
        check("", 3, "", 0);
    }

    #[test]
    fn newlines_and_quotes_inside_quoted_fields_end_nothing() {
        check("\"x\ny\",1\n\"a \"\"q\"\"\n\",2\nlast,3\n", 2, "\"x\ny\",1\n\"a \"\"q\"\"\n\",2\n", 2);
        check("\"\",\"\n\"\nz\n", 1, "\"\",\"\n\"\n", 1);
        // A quote inside an unquoted field is text, as the csv crate reads it.
        check("ab\"c,1\nd,2\n", 1, "ab\"c,1\n", 1);
    }
}
