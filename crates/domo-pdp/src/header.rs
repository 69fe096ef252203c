//! Whether a CSV starts with a header row, decided from the schema: the one rule `domo data import` and the emulator share.

use std::io::Read;

use domo_model::Schema;

use crate::csv_split::Fields;
use crate::table::{CsvLimits, HeaderRow, LoadCsvError, header_split_error, record_splitter};

impl HeaderRow {
    /// Decides whether a CSV starts with a header row: it does when its first
    /// record holds exactly the schema's column names, in order (case and
    /// spaces count); otherwise every record is data, as Domo's SDKs upload.
    /// An empty CSV has no header. Only the first record is read.
    ///
    /// A first data row that happens to equal the column names (a STRING
    /// column `Friend` holding `Friend`) is taken for a header: callers offer a
    /// way to force either answer.
    ///
    /// ```
    /// use domo_model::{Column, ColumnType, Schema};
    /// use domo_pdp::HeaderRow;
    ///
    /// let schema = Schema {
    ///     columns: vec![Column::new(ColumnType::String, "Friend"), Column::new(ColumnType::String, "Attending")],
    /// };
    /// let detect = |csv: &str| HeaderRow::detect(csv.as_bytes(), &schema).unwrap();
    /// assert_eq!(detect("Friend,Attending\nPascal,TRUE\n"), HeaderRow::Present);
    /// assert_eq!(detect("Pascal,TRUE\n"), HeaderRow::Absent);
    /// assert_eq!(detect("friend,attending\n"), HeaderRow::Absent);
    /// ```
    ///
    /// # Errors
    ///
    /// The first record cannot be split: bad quoting, or longer than the
    /// default [`CsvLimits`] allow.
    pub fn detect<R: Read>(reader: R, schema: &Schema) -> Result<HeaderRow, LoadCsvError> {
        Ok(if Self::header_len(reader, schema)?.is_some() { HeaderRow::Present } else { HeaderRow::Absent })
    }

    /// [`HeaderRow::detect`], answering with where the header ends: the byte
    /// length of the first record, its line ending included, when it is a
    /// header; `None` when every record is data. A reader that drops the
    /// header skips exactly these bytes, as the engine splits them.
    ///
    /// # Errors
    ///
    /// As [`HeaderRow::detect`].
    pub fn header_len<R: Read>(reader: R, schema: &Schema) -> Result<Option<usize>, LoadCsvError> {
        let width = schema.columns.len();
        let mut splitter = record_splitter(reader, width, CsvLimits::default());
        let mut fields = Fields::default();
        if !splitter.next_record(&mut fields).map_err(|e| header_split_error(1, schema, e))? {
            return Ok(None);
        }
        let names_match = fields.len() == width
            && schema
                .columns
                .iter()
                .enumerate()
                .all(|(index, column)| fields.get(index).is_some_and(|(bytes, _)| bytes == column.name.as_bytes()));
        Ok(names_match.then(|| splitter.raw().len()))
    }
}

#[cfg(test)]
mod tests {
    use domo_model::{Column, ColumnType};

    use super::*;

    fn check(csv: &str, expected: HeaderRow) {
        let schema = Schema {
            columns: vec![Column::new(ColumnType::String, "Friend"), Column::new(ColumnType::Long, "Seats Taken")],
        };
        assert_eq!(HeaderRow::detect(csv.as_bytes(), &schema).map_err(|e| e.to_string()), Ok(expected), "{csv:?}");
    }

    #[test]
    fn a_first_row_of_the_column_names_is_a_header() {
        check("Friend,Seats Taken\nPascal,2\n", HeaderRow::Present);
        check("\"Friend\",\"Seats Taken\"\r\nPascal,2\r\n", HeaderRow::Present);
        check("Friend,Seats Taken", HeaderRow::Present);
    }

    #[test]
    fn the_header_length_covers_its_line_ending() {
        let schema = Schema {
            columns: vec![Column::new(ColumnType::String, "Friend"), Column::new(ColumnType::Long, "Seats Taken")],
        };
        let len = |csv: &str| HeaderRow::header_len(csv.as_bytes(), &schema).map_err(|e| e.to_string());
        assert_eq!(len("Friend,Seats Taken\nPascal,2\n"), Ok(Some(19)));
        assert_eq!(len("\"Friend\",\"Seats Taken\"\r\nPascal,2\r\n"), Ok(Some(24)));
        assert_eq!(len("Friend,Seats Taken"), Ok(Some(18)));
        assert_eq!(len("Pascal,2\n"), Ok(None));
    }

    #[test]
    fn anything_else_is_data() {
        check("Pascal,2\n", HeaderRow::Absent);
        check("", HeaderRow::Absent);
        check("friend,seats taken\n", HeaderRow::Absent);
        check("Friend,Seats Taken,Extra\n", HeaderRow::Absent);
        check("Friend\n", HeaderRow::Absent);
        check("Seats Taken,Friend\n", HeaderRow::Absent);
        check(" Friend,Seats Taken\n", HeaderRow::Absent);
    }

    #[test]
    fn a_broken_first_record_is_an_error() {
        let schema = Schema { columns: vec![Column::new(ColumnType::String, "Friend")] };
        let error = HeaderRow::detect("\"Friend\n".as_bytes(), &schema).map_err(|e| e.to_string());
        assert!(error.is_err(), "{error:?}");
    }
}
