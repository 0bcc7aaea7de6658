#include "core/csv.h"

#include <fmt/format.h>

#include "core/error.h"

namespace stackbill {
namespace {

absl::Status CsvError(std::string_view source, int line, int column, std::string_view what) {
  return InvalidArgumentError("InvalidCsv",
                              fmt::format("{}:{}:{}: {}", source, line, column, what));
}

// A small state machine over the bytes; positions are tracked for messages.
class CsvParser {
 public:
  CsvParser(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  absl::Status Parse(std::vector<CsvRow>& rows, std::vector<int>& row_lines) {
    while (pos_ < text_.size()) {
      row_lines.push_back(line_);
      CsvRow row;
      if (auto status = ParseRow(row); !status.ok()) return status;
      rows.push_back(std::move(row));
    }
    return absl::OkStatus();
  }

 private:
  absl::Status ParseRow(CsvRow& row) {
    while (true) {
      std::string field;
      if (auto status = ParseField(field); !status.ok()) return status;
      row.push_back(std::move(field));
      if (pos_ >= text_.size()) return absl::OkStatus();
      const char c = text_[pos_];
      if (c == ',') {
        Advance();
        continue;
      }
      return ConsumeLineEnd();
    }
  }

  absl::Status ConsumeLineEnd() {
    if (text_[pos_] == '\r') {
      const int cr_column = column_;
      Advance();
      if (pos_ >= text_.size() || text_[pos_] != '\n') {
        return CsvError(source_, line_, cr_column, "carriage return not followed by a line feed");
      }
    }
    if (text_[pos_] != '\n') {
      return CsvError(source_, line_, column_,
                      fmt::format("unexpected character '{}'", text_.substr(pos_, 1)));
    }
    Advance();
    ++line_;
    column_ = 1;
    return absl::OkStatus();
  }

  absl::Status ParseField(std::string& field) {
    if (pos_ < text_.size() && text_[pos_] == '"') return ParseQuotedField(field);
    const std::size_t start = pos_;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ',' || c == '\n' || c == '\r') break;
      if (c == '"') return CsvError(source_, line_, column_, "quote inside an unquoted field");
      Advance();
    }
    field.assign(text_.substr(start, pos_ - start));
    return absl::OkStatus();
  }

  absl::Status ParseQuotedField(std::string& field) {
    const int open_line = line_;
    const int open_column = column_;
    Advance();  // opening quote
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '"') {
        if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '"') {
          field.push_back('"');
          Advance();
          Advance();
          continue;
        }
        Advance();  // closing quote
        if (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' &&
            text_[pos_] != '\r') {
          return CsvError(source_, line_, column_, "text after a closing quote");
        }
        return absl::OkStatus();
      }
      field.push_back(c);
      Advance();
      if (c == '\n') {
        ++line_;
        column_ = 1;
      }
    }
    return CsvError(source_, open_line, open_column, "quoted field is never closed");
  }

  void Advance() {
    ++pos_;
    ++column_;
  }

  std::string_view text_;
  std::string_view source_;
  std::size_t pos_ = 0;
  int line_ = 1;
  int column_ = 1;
};

}  // namespace

int CsvTable::ColumnIndex(std::string_view column) const {
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] == column) return static_cast<int>(i);
  }
  return -1;
}

absl::StatusOr<std::vector<CsvRow>> ParseCsv(std::string_view text, std::string_view source) {
  std::vector<CsvRow> rows;
  std::vector<int> lines;
  if (auto status = CsvParser(text, source).Parse(rows, lines); !status.ok()) return status;
  return rows;
}

absl::StatusOr<CsvTable> ParseCsvTable(std::string_view text, std::string_view source) {
  std::vector<CsvRow> rows;
  std::vector<int> lines;
  if (auto status = CsvParser(text, source).Parse(rows, lines); !status.ok()) return status;
  if (rows.empty()) return CsvError(source, 1, 1, "no header row");
  CsvTable table;
  table.header = std::move(rows.front());
  for (std::size_t i = 1; i < rows.size(); ++i) {
    if (rows[i].size() != table.header.size()) {
      return CsvError(
          source, lines[i], 1,
          fmt::format("row has {} fields; the header has {}", rows[i].size(), table.header.size()));
    }
    table.rows.push_back(std::move(rows[i]));
    table.row_lines.push_back(lines[i]);
  }
  return table;
}

std::string CsvText(std::string_view text) {
  std::string cell;
  if (!text.empty() && (text[0] == '=' || text[0] == '+' || text[0] == '-' || text[0] == '@' ||
                        text[0] == '\t' || text[0] == '\r')) {
    cell.push_back('\'');
  }
  cell.append(text);
  if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
  std::string quoted = "\"";
  for (char c : cell) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

void AppendCsvLine(std::string& out, const std::vector<std::string>& cells) {
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append(cells[i]);
  }
  out.append("\r\n");
}

}  // namespace stackbill
