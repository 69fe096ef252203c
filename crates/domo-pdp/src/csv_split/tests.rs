//! The splitter against a byte-by-byte reference, at every read size and buffer boundary.

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

/// A reader that hands out at most `chunk` bytes a call, to cross buffer boundaries anywhere.
struct Chunks<'a> {
    bytes: &'a [u8],
    chunk: usize,
}

impl Read for Chunks<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.bytes.len().min(buf.len()).min(self.chunk);
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

type Records = Vec<Vec<(Vec<u8>, bool)>>;

/// The records of a whole input, byte by byte: the obviously correct splitter.
fn reference(input: &[u8]) -> (Records, Option<SyntaxError>) {
    let mut records = Vec::new();
    let mut i = 0;
    while i < input.len() {
        let mut record = Vec::new();
        let mut lone_cr = false;
        loop {
            if input.get(i) == Some(&b'"') {
                i += 1;
                let mut text = Vec::new();
                loop {
                    match input.get(i) {
                        None => return (records, Some(SyntaxError::UnterminatedQuote)),
                        Some(b'"') if input.get(i + 1) == Some(&b'"') => {
                            text.push(b'"');
                            i += 2;
                        }
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(&c) => {
                            text.push(c);
                            i += 1;
                        }
                    }
                }
                record.push((text, true));
                match input.get(i) {
                    None => break,
                    Some(b',') => i += 1,
                    Some(b'\n') => {
                        i += 1;
                        break;
                    }
                    Some(b'\r') if input.get(i + 1) == Some(&b'\n') => {
                        i += 2;
                        break;
                    }
                    Some(_) => return (records, Some(SyntaxError::TextAfterQuote)),
                }
            } else {
                let mut text = Vec::new();
                while let Some(&c) = input.get(i).filter(|&&c| c != b',' && c != b'\n') {
                    if c == b'"' {
                        return (records, Some(SyntaxError::QuoteInUnquotedField));
                    }
                    text.push(c);
                    i += 1;
                }
                let end = input.get(i).copied();
                if end != Some(b',') && text.last() == Some(&b'\r') {
                    text.pop();
                }
                lone_cr |= text.contains(&b'\r');
                record.push((text, false));
                i += 1;
                if end != Some(b',') {
                    break;
                }
            }
        }
        // Broken quoting anywhere in the record is reported before a lone carriage return.
        if lone_cr {
            return (records, Some(SyntaxError::LoneCarriageReturn));
        }
        records.push(record);
    }
    (records, None)
}

/// Splits `input` read `chunk` bytes at a time into a buffer of `buffer` bytes at first,
/// appending `per_fields` records to one [`Fields`] before clearing it (as a batch does).
fn split_appending(input: &[u8], chunk: usize, buffer: usize, per_fields: usize) -> (Records, Option<SyntaxError>) {
    let mut splitter = Splitter::new(Chunks { bytes: input, chunk }, usize::MAX, usize::MAX);
    splitter.buf = vec![0; buffer];
    let mut fields = Fields::default();
    let mut records = Vec::new();
    let mut held = 0;
    loop {
        if held == per_fields {
            fields.clear();
            held = 0;
        }
        let mark = fields.len();
        match splitter.append_record(&mut fields) {
            Ok(true) => {
                held += 1;
                records
                    .push((mark..fields.len()).map(|i| fields.get(i).map(|(b, q)| (b.to_vec(), q)).unwrap()).collect());
            }
            Ok(false) => return (records, None),
            Err(SplitError::Syntax(e)) => return (records, Some(e)),
            Err(e) => panic!("{e:?}"),
        }
    }
}

proptest::proptest! {
    /// Fields kept as spans of each record's one copy (`""` unescaped in place) read as the
    /// byte-by-byte splitter reads them, whatever the read sizes, the buffer's first size
    /// (records and quoted fields cut anywhere) and how many records share one `Fields`.
    #[test]
    fn spans_match_the_reference_splitter(
        // Each byte followed by a run of plain bytes: some fields stretch past the 8-byte
        // words the common record is read in.
        bytes in proptest::collection::vec((proptest::sample::select(b"ab,,\"\"\r\n\n".to_vec()), 0usize..12), 0..120),
        chunk in 1usize..300,
        buffer in 1usize..300,
        per_fields in 1usize..6,
    ) {
        let input: Vec<u8> =
            bytes.into_iter().flat_map(|(c, run)| std::iter::once(c).chain(std::iter::repeat_n(b'x', run))).collect();
        proptest::prop_assert_eq!(split_appending(&input, chunk, buffer, per_fields), reference(&input));
    }
}

#[test]
fn a_quote_or_carriage_return_inside_a_word_is_not_skipped() {
    // Read whole, so that the word-at-a-time path sees the record's end.
    let whole = |input: &[u8]| split_appending(input, 64, 64, 1);
    assert_eq!(whole(b"abcd\"efghijklmnop\nqrstuvwxyz\n").1, Some(SyntaxError::QuoteInUnquotedField));
    assert_eq!(whole(b"abcd\refghijklmnop\nqrstuvwxyz\n").1, Some(SyntaxError::LoneCarriageReturn));
    let (records, error) = whole(b"abcdefghijk,mnop\r\nqrstuvwxyz\r\n");
    assert_eq!((records.len(), error), (2, None));
}

#[test]
fn a_dropped_record_takes_its_bytes_with_it() {
    let mut splitter = Splitter::new(&b"a,\"b\"\"c\"\n\"x\",y\nlast,one\n"[..], usize::MAX, usize::MAX);
    let mut fields = Fields::default();
    assert!(splitter.append_record(&mut fields).unwrap());
    let kept = fields.byte_len();
    assert!(splitter.append_record(&mut fields).unwrap());
    fields.truncate_fields(2);
    assert_eq!((fields.len(), fields.byte_len()), (2, kept));
    assert!(splitter.append_record(&mut fields).unwrap());
    let text: Vec<&[u8]> = (0..fields.len()).map(|i| fields.get(i).unwrap().0).collect();
    assert_eq!(text, [&b"a"[..], b"b\"c", b"last", b"one"]);
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
