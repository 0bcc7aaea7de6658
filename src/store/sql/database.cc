#include "store/sql/database.h"

#include <array>
#include <cstring>
#include <utility>

#include "absl/strings/str_join.h"
#include "core/error.h"

namespace stackbill::sql {

Where& Where::Add(std::string condition, std::vector<SqlValue> values) {
  conditions_.push_back(std::move(condition));
  for (auto& v : values) values_.push_back(std::move(v));
  return *this;
}

std::string Where::Sql() const {
  if (conditions_.empty()) return "";
  return Cat(" WHERE ", absl::StrJoin(conditions_, " AND "));
}

SqlValue GuidValue(const Guid& guid) {
  const auto& bytes = guid.bytes();
  return Blob{std::string(bytes.begin(), bytes.end())};
}

// ---------------------------------------------------------------------------

Statement::Statement(Statement&& other) noexcept
    : impl_(std::exchange(other.impl_, nullptr)),
      next_param_(other.next_param_),
      next_column_(other.next_column_),
      read_status_(std::move(other.read_status_)) {}

Statement::~Statement() {
  if (impl_ != nullptr) impl_->Release();
}

Statement& Statement::BindInt(std::int64_t value) {
  impl_->BindInt(next_param_++, value);
  return *this;
}

Statement& Statement::BindText(std::string_view value) {
  impl_->BindText(next_param_++, value);
  return *this;
}

Statement& Statement::BindOptionalText(const std::optional<std::string>& value) {
  return value ? BindText(*value) : BindNull();
}

Statement& Statement::BindBlob(std::string_view bytes) {
  impl_->BindBlob(next_param_++, bytes);
  return *this;
}

namespace {

// A GUID's 16 bytes as they are bound (a view into `value`).
std::string_view GuidBytes(const Guid& value) {
  const auto& bytes = value.bytes();
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

Statement& Statement::BindGuid(const Guid& value) { return BindBlob(GuidBytes(value)); }

Statement& Statement::BindTextRef(std::string_view value) {
  impl_->BindTextRef(next_param_++, value);
  return *this;
}

Statement& Statement::BindBlobRef(std::string_view bytes) {
  impl_->BindBlobRef(next_param_++, bytes);
  return *this;
}

Statement& Statement::BindGuidRef(const Guid& value) { return BindBlobRef(GuidBytes(value)); }

Statement& Statement::BindOptionalGuid(const std::optional<Guid>& value) {
  return value ? BindGuid(*value) : BindNull();
}

Statement& Statement::BindTime(Timestamp value) {
  BindInt(value.unix_seconds());
  return BindInt(value.nanos());
}

Statement& Statement::BindOptionalTime(const std::optional<Timestamp>& value) {
  if (value) return BindTime(*value);
  BindNull();
  return BindNull();
}

Statement& Statement::BindBool(bool value) { return BindInt(value ? 1 : 0); }

Statement& Statement::BindNull() {
  impl_->BindNull(next_param_++);
  return *this;
}

Statement& Statement::BindValue(const SqlValue& value) {
  struct Visitor {
    Statement& s;
    void operator()(std::nullptr_t) { s.BindNull(); }
    void operator()(std::int64_t v) { s.BindInt(v); }
    void operator()(const std::string& v) { s.BindText(v); }
    void operator()(const Blob& v) { s.BindBlob(v.bytes); }
  };
  std::visit(Visitor{*this}, value);
  return *this;
}

Statement& Statement::BindValues(std::span<const SqlValue> values) {
  for (const auto& v : values) BindValue(v);
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  next_column_ = 0;
  read_status_ = absl::OkStatus();
  return impl_->Step();
}

absl::Status Statement::Run() {
  while (true) {
    STACKBILL_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return absl::OkStatus();
  }
}

void Statement::Reset() {
  impl_->Reset();
  next_param_ = 0;
  next_column_ = 0;
  read_status_ = absl::OkStatus();
}

bool Statement::IsNull() { return impl_->ColumnIsNull(next_column_); }

void Statement::Skip(int columns) { next_column_ += columns; }

std::int64_t Statement::ReadInt() { return impl_->ColumnInt(next_column_++); }

bool Statement::ReadBool() { return ReadInt() != 0; }

std::string Statement::ReadText() { return std::string(ReadTextView()); }

std::string_view Statement::ReadTextView() { return impl_->ColumnText(next_column_++); }

std::optional<std::string> Statement::ReadOptionalText() {
  if (IsNull()) {
    Skip();
    return std::nullopt;
  }
  return ReadText();
}

std::string Statement::ReadBlob() { return std::string(ReadBlobView()); }

std::string_view Statement::ReadBlobView() { return impl_->ColumnBlob(next_column_++); }

Guid Statement::ReadGuid() {
  const std::string_view bytes = ReadBlobView();
  if (bytes.size() != 16) {
    Corrupt("GUID of size", std::to_string(bytes.size()));
    return Guid();
  }
  std::array<std::uint8_t, 16> raw{};
  std::memcpy(raw.data(), bytes.data(), raw.size());
  return Guid(raw);
}

std::optional<Guid> Statement::ReadOptionalGuid() {
  if (IsNull()) {
    Skip();
    return std::nullopt;
  }
  return ReadGuid();
}

Timestamp Statement::ReadTime() {
  const std::int64_t seconds = ReadInt();
  const std::int64_t nanos = ReadInt();
  if (nanos < 0 || nanos > 999'999'999) {
    Corrupt("nanoseconds", std::to_string(nanos));
    return Timestamp();
  }
  return Timestamp::FromUnixSeconds(seconds, static_cast<std::int32_t>(nanos));
}

std::optional<Timestamp> Statement::ReadOptionalTime() {
  if (IsNull()) {
    Skip(2);
    return std::nullopt;
  }
  return ReadTime();
}

void Statement::Corrupt(std::string_view what, std::string_view value) {
  if (!read_status_.ok()) return;
  read_status_ = absl::DataLossError(Cat("store: corrupt column ", next_column_ - 1, " of \"",
                                         impl_->sql().substr(0, 80), "\": ", what, " '",
                                         value.substr(0, 64), "'"));
}

// ---------------------------------------------------------------------------

absl::Status Connection::Run(std::string_view sql, const std::vector<SqlValue>& values) {
  STACKBILL_ASSIGN_OR_RETURN(Statement stmt, Prepare(sql));
  stmt.BindValues(values);
  return stmt.Run();
}

std::string ValuesRows(std::size_t rows, std::size_t columns) {
  std::string row = "(";
  for (std::size_t c = 0; c < columns; ++c) row += c == 0 ? "?" : ", ?";
  row += ')';
  return ValuesRows(rows, row);
}

std::string ValuesRows(std::size_t rows, std::string_view row) {
  std::string out;
  out.reserve(rows * (row.size() + 2));
  for (std::size_t r = 0; r < rows; ++r) {
    if (r > 0) out += ", ";
    out += row;
  }
  return out;
}

std::vector<std::size_t> RowChunks(std::size_t n, std::size_t max) {
  std::vector<std::size_t> chunks(n / max, max);
  for (std::size_t size = max / 2, rest = n % max; rest > 0 && size > 0; size /= 2) {
    if (rest >= size) {
      chunks.push_back(size);
      rest -= size;
    }
  }
  return chunks;
}

absl::StatusOr<bool> RowExists(Connection& connection, std::string_view sql,
                               const std::vector<SqlValue>& values) {
  STACKBILL_ASSIGN_OR_RETURN(Statement stmt, connection.Prepare(sql));
  stmt.BindValues(values);
  return stmt.Step();
}

absl::StatusOr<std::int64_t> RunReturningId(Statement& insert) {
  STACKBILL_ASSIGN_OR_RETURN(bool row, insert.Step());
  if (!row) return absl::InternalError("store: an INSERT … RETURNING id returned no row");
  const std::int64_t id = insert.ReadInt();
  STACKBILL_RETURN_IF_ERROR(insert.Run());
  return id;
}

absl::StatusOr<std::int64_t> ReadHistoryVersion(Connection& connection) {
  STACKBILL_ASSIGN_OR_RETURN(Statement stmt,
                             connection.Prepare("SELECT version FROM history_version"));
  STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::DataLossError("history_version has no row");
  return stmt.ReadInt();
}

absl::Status ApplyMigrations(Connection& connection, std::string_view engine,
                             std::span<const std::string_view> migrations) {
  STACKBILL_RETURN_IF_ERROR(connection.Exec(
      "CREATE TABLE IF NOT EXISTS schema_version (version bigint NOT NULL PRIMARY KEY)"));
  STACKBILL_ASSIGN_OR_RETURN(
      Statement read, connection.Prepare("SELECT COALESCE(max(version), 0) FROM schema_version"));
  STACKBILL_ASSIGN_OR_RETURN(bool row, read.Step());
  const std::int64_t version = row ? read.ReadInt() : 0;
  STACKBILL_RETURN_IF_ERROR(read.Run());
  const auto known = static_cast<std::int64_t>(migrations.size());
  if (version > known) {
    return FailedPreconditionError(
        "StoreSchemaTooNew",
        Cat(engine, ": the database is at schema version ", version,
            " but this binary knows versions up to ", known, "; use a newer stackbill"));
  }
  for (std::int64_t v = version; v < known; ++v) {
    STACKBILL_RETURN_IF_ERROR(Annotate(connection.Exec(migrations[static_cast<std::size_t>(v)]),
                                       Cat(engine, ": migration ", v + 1)));
    STACKBILL_RETURN_IF_ERROR(connection.Run("INSERT INTO schema_version (version) VALUES (?)",
                                             std::vector<SqlValue>{v + 1}));
  }
  return absl::OkStatus();
}

}  // namespace stackbill::sql
