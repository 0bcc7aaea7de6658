#pragma once

// A strict RFC 4180 CSV reader for the data files stackbill ships and loads
// (the meter catalogue), and the writer of the CSV that stackbill exports. Fields may be quoted; ""
// inside quotes is a quote; lines end in LF or CRLF; a final line ending is optional. Anything else
// — a quote inside an unquoted field, an unterminated quote, text after a closing quote — is
// InvalidArgument with error code "InvalidCsv" naming the line and column. Thread-compatible; no
// I/O.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace stackbill {

using CsvRow = std::vector<std::string>;

struct CsvTable {
  CsvRow header;
  std::vector<CsvRow> rows;
  std::vector<int> row_lines;  // the 1-based line on which each row starts

  // Index of `column` in the header, or -1.
  int ColumnIndex(std::string_view column) const;
};

// Parses all rows. `source` names the input in error messages ("meters.csv").
absl::StatusOr<std::vector<CsvRow>> ParseCsv(std::string_view text, std::string_view source);

// Parses a table whose first row is the header; every row must have as many
// fields as the header (InvalidCsv otherwise). Blank lines are not allowed
// except a trailing line ending.
absl::StatusOr<CsvTable> ParseCsvTable(std::string_view text, std::string_view source);

// One CSV cell of text for a spreadsheet: quoted when it holds a comma, a
// quote, CR or LF (quotes doubled), and neutralised when a spreadsheet would
// read it as a formula — a leading '=', '+', '-', '@', TAB or CR gets a
// leading "'" (OWASP's CSV injection advice). Numbers are written as they
// are, never through this.
std::string CsvText(std::string_view text);

// Appends `cells` (each already a CSV cell: CsvText or a number) as one line
// ending in CRLF (RFC 4180).
void AppendCsvLine(std::string& out, const std::vector<std::string>& cells);

}  // namespace stackbill
