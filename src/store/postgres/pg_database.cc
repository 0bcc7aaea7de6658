#include "store/postgres/pg_database.h"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <utility>

#include "absl/strings/cord.h"
#include "core/abseil_compat.h"
#include "core/error.h"

namespace stackbill::postgres {
namespace {

using sql::Cat;

// Type OIDs (pg_type.oid) of the parameters we send.
constexpr Oid kUnknownOid = 0;  // the server infers the type from the context
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;

constexpr int kTextFormat = 0;
constexpr int kBinaryFormat = 1;

// Beyond this many distinct SQL texts a connection prepares statements
// without keeping them (as SQLite's cache does).
constexpr std::size_t kMaxCachedStatements = 512;

struct ClearResult {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ClearResult>;

std::string_view TrimSpace(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

// libpq's messages end in a newline and put DETAIL/HINT on lines of their
// own; a status message is one line.
std::string OneLine(std::string_view text) {
  std::string out;
  for (char c : TrimSpace(text)) {
    if (c == '\n' || c == '\r') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

bool Succeeded(const PGresult* result) {
  if (result == nullptr) return false;
  switch (PQresultStatus(result)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
      return true;
    default:
      return false;
  }
}

std::string_view SqlState(const PGresult* result) {
  const char* state = result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_SQLSTATE);
  return state == nullptr ? std::string_view() : std::string_view(state);
}

// The parameter named by 42P18's message ("could not determine data type of
// parameter $2"), 1-based; 0 when the message names none. The "$n" is not
// translated, whatever the server's lc_messages.
int ParameterOfMessage(const PGresult* result) {
  const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  if (primary == nullptr) return 0;
  const std::string_view message(primary);
  const std::size_t dollar = message.rfind('$');
  if (dollar == std::string_view::npos) return 0;
  int n = 0;
  const char* begin = message.data() + dollar + 1;
  const char* end = message.data() + message.size();
  const auto [ptr, ec] = std::from_chars(begin, end, n);
  return ec == std::errc() && ptr != begin ? n : 0;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes bytea's hex output ("\x0aff…"); false when `text` is not one.
bool DecodeHexBytea(std::string_view text, std::string& out) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) return false;
  out.resize((text.size() - 2) / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int high = HexDigit(text[2 + 2 * i]);
    const int low = HexDigit(text[3 + 2 * i]);
    if (high < 0 || low < 0) return false;
    out[i] = static_cast<char>((high << 4) | low);
  }
  return true;
}

// The parsed options of `dsn`, or null when it does not parse (libpq's
// message, which may quote the DSN, is dropped).
struct FreeOptions {
  void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
};
std::unique_ptr<PQconninfoOption, FreeOptions> ParseDsn(std::string_view dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(std::string(dsn).c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  return std::unique_ptr<PQconninfoOption, FreeOptions>(options);
}

std::string OptionValue(const PQconninfoOption* options, std::string_view keyword) {
  for (const PQconninfoOption* o = options; o != nullptr && o->keyword != nullptr; ++o) {
    if (keyword == o->keyword && o->val != nullptr) return o->val;
  }
  return "";
}

// `text` with every occurrence of `secret` masked (libpq does not quote
// passwords in its messages; this makes sure of it).
std::string Scrub(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (std::size_t at = text.find(secret); at != std::string::npos;
       at = text.find(secret, at + 3)) {
    text.replace(at, secret.size(), "***");
  }
  return text;
}

// The status of a connection that failed to open or to reset.
absl::Status ConnectError(const PGconn* conn, std::string_view dsn) {
  auto options = ParseDsn(dsn);
  const std::string password = OptionValue(options.get(), "password");
  const std::string detail =
      conn == nullptr ? std::string("out of memory") : Scrub(PQerrorMessage(conn), password);
  return absl::UnavailableError(
      Cat("postgres: cannot connect to ", DescribeDsn(dsn), ": ", OneLine(detail)));
}

// Server notices (e.g. "relation … already exists, skipping" from the
// migrations' IF NOT EXISTS) would go to stderr; the store has nothing to
// tell about them.
void DiscardNotice(void* /*arg*/, const char* /*message*/) {}

// How many times WriteShared runs a body that PostgreSQL ended to break a
// deadlock or a serialization failure.
constexpr int kSharedWriteAttempts = 8;

// The payload by which MapError marks such an end (kept through Annotate),
// so that a body's own Aborted is never taken for one.
constexpr std::string_view kEndedByServer = "type.stackbill/postgres.transaction_ended";

bool EndedByServer(const absl::Status& status) {
  return status.GetPayload(AbslView(kEndedByServer)).has_value();
}

// A transaction the server ended, not run again (or still ended once the
// attempts are spent), is Unavailable to the caller, as store.h has it:
// busy, try again.
absl::Status Unaborted(absl::Status status) {
  if (!EndedByServer(status)) return status;
  return absl::UnavailableError(status.message());
}

}  // namespace

// ---------------------------------------------------------------------------

TranslatedSql TranslatePlaceholders(std::string_view sql) {
  TranslatedSql out;
  out.text.reserve(sql.size() + 16);
  const auto identifier_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  std::size_t i = 0;
  // Copies sql[i, end) and moves past it.
  const auto copy_to = [&](std::size_t end) {
    end = std::min(end, sql.size());
    out.text.append(sql.substr(i, end - i));
    i = end;
  };
  while (i < sql.size()) {
    const char c = sql[i];
    const char next = i + 1 < sql.size() ? sql[i + 1] : '\0';
    if (c == '\'' || c == '"') {
      // A doubled quote inside is read as the end of one literal and the
      // start of the next: the same text either way. In E'…' a backslash
      // escapes the quote.
      const bool escapes = c == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') &&
                           (i < 2 || !identifier_char(sql[i - 2]));
      std::size_t end = i + 1;
      while (end < sql.size() && sql[end] != c)
        end += escapes && sql[end] == '\\' ? std::size_t{2} : std::size_t{1};
      copy_to(end + 1);
    } else if (c == '-' && next == '-') {
      copy_to(sql.find('\n', i));
    } else if (c == '/' && next == '*') {
      const std::size_t end = sql.find("*/", i + 2);
      copy_to(end == std::string_view::npos ? end : end + 2);
    } else if (c == '?') {
      // SQLite's numbering: ?NNN is parameter NNN, and a bare ? the one after
      // the largest so far.
      std::size_t digits = i + 1;
      while (digits < sql.size() && sql[digits] >= '0' && sql[digits] <= '9') ++digits;
      int number = 0;
      if (digits > i + 1) {
        std::from_chars(sql.data() + i + 1, sql.data() + digits, number);
      } else {
        number = out.parameters + 1;
      }
      out.parameters = std::max(out.parameters, number);
      out.text += '$';
      out.text += std::to_string(number);
      i = digits;
    } else {
      out.text += c;
      ++i;
    }
  }
  return out;
}

absl::Status MapError(std::string_view sqlstate, bool connection_bad, std::string_view what,
                      std::string_view detail) {
  const std::string one_line = OneLine(detail);
  const std::string message =
      Cat("postgres: ", what, ": ", one_line.empty() ? std::string("(no message)") : one_line);
  const std::string_view sqlclass = sqlstate.substr(0, 2);
  if (sqlstate == "23505") return absl::AlreadyExistsError(message);
  if (sqlclass == "23" || sqlstate == "P0001") return absl::FailedPreconditionError(message);
  if (sqlstate == "40001" || sqlstate == "40P01") {
    absl::Status ended = absl::AbortedError(message);
    ended.SetPayload(AbslView(kEndedByServer), absl::Cord(AbslView(sqlstate)));
    return ended;
  }
  if (connection_bad || sqlclass == "08" || sqlclass == "53" || sqlstate == "55P03" ||
      sqlstate == "57014" || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03") {
    return absl::UnavailableError(message);
  }
  if (sqlclass == "22") return absl::InvalidArgumentError(message);
  return absl::InternalError(message);
}

std::string DescribeDsn(std::string_view dsn) {
  auto options = ParseDsn(dsn);
  if (options == nullptr) return "";
  std::string out;
  for (std::string_view keyword : {"host", "port", "dbname"}) {
    const std::string value = OptionValue(options.get(), keyword);
    if (value.empty()) continue;
    if (!out.empty()) out += ' ';
    out += Cat(keyword, "=", value);
  }
  return out.empty() ? std::string("(libpq defaults)") : out;
}

// ---------------------------------------------------------------------------

// A statement of one connection. Prepared on the server lazily, at its first
// execution, because PQprepare fixes the parameters' types and those come
// from the first bindings: int8 for an integer, bytea for a blob, and unknown
// (the server infers it from the context) for text and NULL. A parameter
// whose type cannot be inferred (42P18, e.g. `? IS NULL`) is retried as
// text. Later executions reuse those types whatever they bind.
//
// A cached statement is prepared under its own name once per connection; an
// uncached one (a nested use of a cached statement's SQL, or past the cache's
// size) runs as the unnamed statement, with the types its cached twin found
// when there is one.
class PgStatement final : public sql::StatementImpl {
 public:
  PgStatement(PgConnection& connection, std::string_view sql, TranslatedSql translated,
              std::string name, bool cached)
      : connection_(connection),
        sql_(sql),
        text_(std::move(translated.text)),
        params_(static_cast<std::size_t>(translated.parameters)),
        name_(std::move(name)),
        cached_(cached) {}

  // A private copy of `twin` (in use), sharing what it learnt of the types.
  static std::unique_ptr<PgStatement> CopyOf(const PgStatement& twin) {
    auto copy = std::make_unique<PgStatement>(twin.connection_, twin.sql_,
                                              TranslatedSql{twin.text_, twin.parameter_count()},
                                              std::string(), /*cached=*/false);
    copy->types_ = twin.types_;
    copy->types_known_ = twin.types_known_;
    return copy;
  }

  void BindInt(int index, std::int64_t value) override {
    Param* param = At(index);
    if (param == nullptr) return;
    char buffer[24];
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
    *param = Param{kInt8Oid, kTextFormat, false, std::string(buffer, end)};
  }
  void BindText(int index, std::string_view value) override {
    Param* param = At(index);
    if (param == nullptr) return;
    // libpq reads a text-format value up to its first NUL.
    if (value.find('\0') != std::string_view::npos && bind_status_.ok()) {
      bind_status_ =
          absl::InvalidArgumentError(Cat("postgres: bind: parameter ", index + 1, " of \"",
                                         sql_.substr(0, 80), "\": text with a NUL character"));
    }
    *param = Param{kUnknownOid, kTextFormat, false, std::string(value)};
  }
  void BindBlob(int index, std::string_view bytes) override {
    Param* param = At(index);
    if (param == nullptr) return;
    *param = Param{kByteaOid, kBinaryFormat, false, std::string(bytes)};
  }
  void BindNull(int index) override {
    Param* param = At(index);
    if (param == nullptr) return;
    *param = Param{};
  }

  absl::StatusOr<bool> Step() override {
    ClearColumns();
    if (!executed_) {
      executed_ = true;
      row_ = -1;
      rows_ = 0;
      execute_status_ = Execute();
    }
    if (!execute_status_.ok()) return execute_status_;
    if (row_ < rows_) ++row_;
    return row_ < rows_;
  }

  void Reset() override {
    result_.reset();
    std::fill(params_.begin(), params_.end(), Param{});
    bind_status_ = absl::OkStatus();
    execute_status_ = absl::OkStatus();
    executed_ = false;
    row_ = -1;
    rows_ = 0;
    ClearColumns();
  }

  bool ColumnIsNull(int column) override {
    return !HasValue(column) || PQgetisnull(result_.get(), row_, column) != 0;
  }

  // Integers parse as SQLite reads text: the leading integer ("12.5" reads
  // 12), 0 when there is none. A boolean (e.g. `count(*) > 0`) reads 1 or 0.
  std::int64_t ColumnInt(int column) override {
    if (ColumnIsNull(column)) return 0;
    const char* value = PQgetvalue(result_.get(), row_, column);
    if (PQftype(result_.get(), column) == kBoolOid) return value[0] == 't' ? 1 : 0;
    const char* end = value + PQgetlength(result_.get(), row_, column);
    std::int64_t out = 0;
    const auto [ptr, ec] = std::from_chars(value, end, out);
    return ec == std::errc() ? out : 0;
  }

  std::string_view ColumnText(int column) override {
    if (ColumnIsNull(column)) return {};
    return std::string_view(PQgetvalue(result_.get(), row_, column),
                            static_cast<std::size_t>(PQgetlength(result_.get(), row_, column)));
  }

  // A bytea column is decoded into a buffer of its own, kept until the next
  // Step or Reset; any other column reads as its text.
  std::string_view ColumnBlob(int column) override {
    const std::string_view text = ColumnText(column);
    if (text.empty() || PQftype(result_.get(), column) != kByteaOid) return text;
    const auto index = static_cast<std::size_t>(column);
    if (blobs_.size() <= index) blobs_.resize(index + 1);
    Decoded& decoded = blobs_[index];
    if (!decoded.ready) {
      if (!DecodeHexBytea(text, decoded.bytes)) decoded.bytes.assign(text);
      decoded.ready = true;
    }
    return decoded.bytes;
  }

  std::string_view sql() const override { return sql_; }

  void Release() override {
    if (!cached_) {
      delete this;
      return;
    }
    Reset();
    in_use_ = false;
  }

  bool in_use() const { return in_use_; }
  void set_in_use() { in_use_ = true; }
  int parameter_count() const { return static_cast<int>(params_.size()); }

 private:
  struct Param {
    Oid type = kUnknownOid;
    int format = kTextFormat;
    bool null = true;
    std::string value;
  };
  struct Decoded {
    bool ready = false;
    std::string bytes;
  };

  // The parameter at `index`, or null (recording InvalidArgument for Step)
  // when there is none.
  Param* At(int index) {
    if (index >= 0 && static_cast<std::size_t>(index) < params_.size()) {
      return &params_[static_cast<std::size_t>(index)];
    }
    if (bind_status_.ok()) {
      bind_status_ = absl::InvalidArgumentError(Cat("postgres: bind: parameter ", index + 1,
                                                    " of \"", sql_.substr(0, 80), "\" (which has ",
                                                    params_.size(), ")"));
    }
    return nullptr;
  }

  bool HasValue(int column) const {
    return result_ != nullptr && row_ >= 0 && row_ < rows_ && column >= 0 &&
           column < PQnfields(result_.get());
  }

  void ClearColumns() {
    for (Decoded& decoded : blobs_) decoded.ready = false;
  }

  std::string What(std::string_view verb) const {
    return Cat(verb, " \"", sql_.substr(0, 80), "\"");
  }

  // Prepares the statement on the server as `name` (the unnamed statement
  // when empty), fixing types_. Inside a transaction a failed prepare aborts
  // it, so when a type may have to be retried (some are unknown) the
  // attempts run under a savepoint, rolled back to after each failure: the
  // retries, and a prepare error of such a statement, leave the caller's
  // transaction usable.
  absl::Status PrepareOnServer(const std::string& name) {
    PGconn* conn = connection_.conn_.get();
    std::vector<Oid> types(params_.size());
    std::transform(params_.begin(), params_.end(), types.begin(),
                   [](const Param& p) { return p.null ? kUnknownOid : p.type; });
    const bool savepoint = PQtransactionStatus(conn) == PQTRANS_INTRANS &&
                           std::find(types.begin(), types.end(), kUnknownOid) != types.end();
    if (savepoint) STACKBILL_RETURN_IF_ERROR(connection_.Exec("SAVEPOINT stackbill_prepare"));
    absl::Status status;
    for (std::size_t attempt = 0;; ++attempt) {
      Result result(PQprepare(conn, name.c_str(), text_.c_str(), parameter_count(),
                              types.empty() ? nullptr : types.data()));
      if (Succeeded(result.get())) break;
      if (SqlState(result.get()) == "42P18" && attempt < types.size()) {
        const int named = ParameterOfMessage(result.get());
        if (named >= 1 && static_cast<std::size_t>(named) <= types.size() &&
            types[static_cast<std::size_t>(named - 1)] == kUnknownOid) {
          types[static_cast<std::size_t>(named - 1)] = kTextOid;
        } else {
          std::replace(types.begin(), types.end(), kUnknownOid, kTextOid);
        }
        if (!savepoint) continue;
        status = connection_.Exec("ROLLBACK TO SAVEPOINT stackbill_prepare");
        if (status.ok()) continue;
        break;
      }
      status = connection_.Error(result.get(), What("prepare"));
      break;
    }
    if (savepoint) {
      if (!status.ok()) (void)connection_.Exec("ROLLBACK TO SAVEPOINT stackbill_prepare");
      const absl::Status released = connection_.Exec("RELEASE SAVEPOINT stackbill_prepare");
      if (status.ok()) status = released;
    }
    if (!status.ok()) return status;
    types_ = std::move(types);
    types_known_ = true;
    return absl::OkStatus();
  }

  absl::Status Execute() {
    if (!bind_status_.ok()) return bind_status_;
    const std::size_t n = params_.size();
    std::vector<const char*> values(n);
    std::vector<int> lengths(n);
    std::vector<int> formats(n);
    for (std::size_t i = 0; i < n; ++i) {
      const Param& p = params_[i];
      values[i] = p.null ? nullptr : p.value.data();
      lengths[i] = static_cast<int>(p.value.size());
      formats[i] = p.format;
    }
    PGconn* conn = connection_.conn_.get();
    const int count = parameter_count();
    PGresult* raw = nullptr;
    // A cached statement prepares once under its name; an uncached one that
    // knows no types yet finds them by preparing the unnamed statement, then
    // runs with those types as a one-off: the unnamed statement itself may
    // be gone by then (the RELEASE SAVEPOINT of PrepareOnServer, a simple
    // query, replaces it).
    if (!types_known_) STACKBILL_RETURN_IF_ERROR(PrepareOnServer(name_));
    if (cached_) {
      raw = PQexecPrepared(conn, name_.c_str(), count, values.data(), lengths.data(),
                           formats.data(), kTextFormat);
    } else {
      raw = PQexecParams(conn, text_.c_str(), count, types_.empty() ? nullptr : types_.data(),
                         values.data(), lengths.data(), formats.data(), kTextFormat);
    }
    Result result(raw);
    if (!Succeeded(result.get())) return connection_.Error(result.get(), What("execute"));
    connection_.NoteCommand(result.get());
    rows_ = PQntuples(result.get());
    result_ = std::move(result);
    return absl::OkStatus();
  }

  PgConnection& connection_;
  const std::string sql_;
  const std::string text_;  // with $n placeholders
  std::vector<Param> params_;
  const std::string name_;  // the server's name ("": the unnamed statement)
  const bool cached_;
  bool in_use_ = false;
  // The parameters' types, once prepared (kUnknownOid: the server's choice).
  std::vector<Oid> types_;
  bool types_known_ = false;

  absl::Status bind_status_;
  absl::Status execute_status_;
  bool executed_ = false;
  Result result_;
  int row_ = -1;
  int rows_ = 0;
  std::vector<Decoded> blobs_;  // per column, for the current row
};

// ---------------------------------------------------------------------------

void PgConnection::Finish::operator()(pg_conn* conn) const { PQfinish(conn); }

PgConnection::PgConnection(pg_conn* conn, const PostgresOptions& options)
    : conn_(conn), options_(options) {}

PgConnection::~PgConnection() {
  cache_.clear();  // before conn_ (declared first, so destroyed last anyway)
}

absl::StatusOr<std::unique_ptr<PgConnection>> PgConnection::Open(const PostgresOptions& options) {
  if (ParseDsn(options.dsn) == nullptr) {
    return absl::InvalidArgumentError(
        "postgres: the connection string does not parse (a libpq key=value string or a "
        "postgresql:// URI)");
  }
  // Keywords are applied in order and the DSN is expanded at `dbname`: what
  // comes before it are defaults the DSN may override.
  // TCP keepalives on the client's side find a server that vanished (a
  // failover) in about a minute instead of the system's two hours.
  const char* const keywords[] = {"connect_timeout",
                                  "fallback_application_name",
                                  "keepalives_idle",
                                  "keepalives_interval",
                                  "keepalives_count",
                                  "dbname",
                                  nullptr};
  const char* const values[] = {"10", "stackbill", "30", "10", "3", options.dsn.c_str(), nullptr};
  PGconn* raw = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  std::unique_ptr<pg_conn, Finish> conn(raw);
  if (conn == nullptr || PQstatus(conn.get()) != CONNECTION_OK) {
    return ConnectError(conn.get(), options.dsn);
  }
  PQsetNoticeProcessor(conn.get(), DiscardNotice, nullptr);
  std::unique_ptr<PgConnection> connection(new PgConnection(conn.release(), options));
  STACKBILL_RETURN_IF_ERROR(connection->SetUpSession());
  connection->session_ready_ = true;
  return connection;
}

absl::Status PgConnection::SetUpSession() {
  // One round trip; PQexec returns the last statement's result, or the first
  // failure.
  const std::string setup = Cat(
      "SET TIME ZONE 'UTC'; SET client_encoding = 'UTF8'; "
      "SET standard_conforming_strings = on; SET bytea_output = 'hex'; "
      "SET statement_timeout = ",
      options_.statement_timeout.count(), "; SET lock_timeout = ", options_.lock_timeout.count(),
      // A node that dies inside a write transaction holds the store's write
      // lock (PgDatabase::Write) until the server ends its session: after a
      // minute idle in the transaction, or when its keepalives go
      // unanswered (TCP; about a minute).
      "; SET idle_in_transaction_session_timeout = 60000; SET tcp_keepalives_idle = 30; "
      "SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3",
      "; SELECT COALESCE(hashtext(current_schema()), 0)");
  Result result(PQexec(conn_.get(), setup.c_str()));
  if (!Succeeded(result.get()) || PQntuples(result.get()) != 1) {
    return Error(result.get(), "setting up the session");
  }
  std::int32_t key = 0;
  const char* value = PQgetvalue(result.get(), 0, 0);
  const auto [ptr, ec] = std::from_chars(value, value + PQgetlength(result.get(), 0, 0), key);
  if (ec != std::errc()) {
    return absl::InternalError(Cat("postgres: hashtext(current_schema()) returned '", value, "'"));
  }
  schema_key_ = key;
  return absl::OkStatus();
}

absl::Status PgConnection::PrepareUsageMonth(YearMonth month) {
  return Run("SELECT stackbill_usage_partition(?)",
             std::vector<sql::SqlValue>{month.Start().unix_seconds()});
}

absl::Status PgConnection::LockKey(std::string_view key) {
  return Run("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ' ' || ?, 0))",
             std::vector<sql::SqlValue>{std::string(key)});
}

absl::Status PgConnection::Reconnect() {
  cache_.clear();
  session_ready_ = false;
  PQreset(conn_.get());
  if (PQstatus(conn_.get()) != CONNECTION_OK) return ConnectError(conn_.get(), options_.dsn);
  STACKBILL_RETURN_IF_ERROR(SetUpSession());
  session_ready_ = true;
  return absl::OkStatus();
}

bool PgConnection::Idle() const {
  return session_ready_ && PQstatus(conn_.get()) == CONNECTION_OK &&
         PQtransactionStatus(conn_.get()) == PQTRANS_IDLE;
}

std::string PgConnection::NextStatementName() { return Cat("s", ++statement_names_); }

absl::StatusOr<sql::Statement> PgConnection::Prepare(std::string_view sql) {
  auto it = cache_.find(AbslView(sql));
  if (it != cache_.end()) {
    PgStatement& cached = *it->second;
    if (!cached.in_use()) {
      cached.set_in_use();
      return sql::Statement(&cached);
    }
    // A nested use while the cached one's rows are being read.
    return sql::Statement(PgStatement::CopyOf(cached).release());
  }
  TranslatedSql translated = TranslatePlaceholders(sql);
  if (cache_.size() >= kMaxCachedStatements) {
    return sql::Statement(
        new PgStatement(*this, sql, std::move(translated), std::string(), /*cached=*/false));
  }
  auto statement = std::make_unique<PgStatement>(*this, sql, std::move(translated),
                                                 NextStatementName(), /*cached=*/true);
  statement->set_in_use();
  PgStatement* entry = statement.get();
  cache_.emplace(std::string(sql), std::move(statement));
  return sql::Statement(entry);
}

absl::Status PgConnection::Exec(std::string_view sql) {
  Result result(PQexec(conn_.get(), std::string(sql).c_str()));
  if (!Succeeded(result.get())) return Error(result.get(), Cat("exec \"", sql.substr(0, 80), "\""));
  NoteCommand(result.get());
  return absl::OkStatus();
}

absl::Status PgConnection::Commit() {
  // COMMIT of a transaction that an error aborted "succeeds" as ROLLBACK:
  // the error was already returned to the body, which went on regardless.
  if (PQtransactionStatus(conn_.get()) == PQTRANS_INERROR) {
    return absl::InternalError(
        "postgres: commit: the transaction was aborted by an earlier error; rolled back");
  }
  Result result(PQexec(conn_.get(), "COMMIT"));
  if (!Succeeded(result.get())) return Error(result.get(), "commit");
  if (std::string_view(PQcmdStatus(result.get())) != "COMMIT") {
    return absl::InternalError(Cat("postgres: commit: the server answered ",
                                   PQcmdStatus(result.get()), "; the transaction is lost"));
  }
  return absl::OkStatus();
}

void PgConnection::Rollback() {
  if (PQstatus(conn_.get()) != CONNECTION_OK) return;
  if (PQtransactionStatus(conn_.get()) == PQTRANS_IDLE) return;
  // Its own failure (a lost connection) adds nothing to the caller's error;
  // the pool reconnects a connection left in a transaction.
  Result result(PQexec(conn_.get(), "ROLLBACK"));
}

void PgConnection::NoteCommand(const pg_result* result) {
  const std::string_view tag(PQcmdStatus(const_cast<PGresult*>(result)));
  if (tag.starts_with("INSERT ") || tag.starts_with("UPDATE ") || tag.starts_with("DELETE ") ||
      tag.starts_with("MERGE ")) {
    const std::string_view tuples(PQcmdTuples(const_cast<PGresult*>(result)));
    std::int64_t n = 0;
    std::from_chars(tuples.data(), tuples.data() + tuples.size(), n);
    changes_ = n;
  }
}

absl::Status PgConnection::Error(const pg_result* result, std::string_view what) const {
  std::string_view detail;
  if (result != nullptr) detail = PQresultErrorMessage(result);
  if (TrimSpace(detail).empty()) detail = PQerrorMessage(conn_.get());
  return MapError(SqlState(result), PQstatus(conn_.get()) == CONNECTION_BAD, what, detail);
}

// ---------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<PgDatabase>> PgDatabase::Open(
    const PostgresOptions& options, std::span<const std::string_view> migrations) {
  if (options.dsn.empty()) return absl::InvalidArgumentError("postgres: empty connection string");
  if (options.connections < 1) {
    return absl::InvalidArgumentError("postgres: connections must be at least 1");
  }
  if (options.statement_timeout.count() < 0 || options.lock_timeout.count() < 0) {
    return absl::InvalidArgumentError("postgres: timeouts must not be negative");
  }
  STACKBILL_ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> first, PgConnection::Open(options));
  STACKBILL_RETURN_IF_ERROR(Unaborted(Migrate(*first, migrations)));
  std::unique_ptr<PgDatabase> database(new PgDatabase(options));
  std::lock_guard<std::mutex> lock(database->mu_);
  database->idle_.push_back(first.get());
  database->connections_.push_back(std::move(first));
  return database;
}

absl::StatusOr<PgConnection*> PgDatabase::Acquire() {
  PgConnection* connection = nullptr;
  {
    std::unique_lock<std::mutex> lock(mu_);
    const auto limit = static_cast<std::size_t>(options_.connections);
    released_.wait(lock, [&] {
      return !idle_.empty() || connections_.size() + static_cast<std::size_t>(opening_) < limit;
    });
    if (!idle_.empty()) {
      connection = idle_.back();
      idle_.pop_back();
    } else {
      ++opening_;
    }
  }
  if (connection == nullptr) {
    // Connecting takes round trips: outside mu_, holding a place in the pool.
    auto opened = PgConnection::Open(options_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      --opening_;
      if (opened.ok()) {
        connection = opened->get();
        connections_.push_back(*std::move(opened));
        return connection;
      }
    }
    released_.notify_one();  // the place is free again
    return opened.status();
  }
  // A connection lost (or left inside a transaction by a failed ROLLBACK)
  // during its last use is reset before this one.
  if (!connection->Idle()) {
    absl::Status reset = connection->Reconnect();
    if (!reset.ok()) {
      Release(connection);
      return reset;
    }
  }
  return connection;
}

void PgDatabase::Release(PgConnection* connection) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(connection);
  }
  released_.notify_one();
}

// Write transactions are READ COMMITTED so that each statement after the lock
// sees what the previous writer committed (a REPEATABLE READ snapshot would
// be taken by the lock's own SELECT, before the wait, and miss it). BEGIN and
// the lock go in one round trip.
absl::Status PgDatabase::Transaction(Kind kind,
                                     absl::FunctionRef<absl::Status(sql::Connection&)> body) {
  STACKBILL_ASSIGN_OR_RETURN(PgConnection * connection, Acquire());
  absl::Status status =
      kind == Kind::kRead
          ? connection->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
          : connection->Exec(Cat(
                "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT ",
                kind == Kind::kWrite ? "pg_advisory_xact_lock(" : "pg_advisory_xact_lock_shared(",
                kAdvisoryLockKey, ", ", connection->schema_key(), ")"));
  if (status.ok()) status = body(*connection);
  if (status.ok()) status = connection->Commit();
  if (!status.ok()) connection->Rollback();
  Release(connection);
  return status;
}

absl::Status PgDatabase::Write(absl::FunctionRef<absl::Status(sql::Connection&)> body) {
  return Unaborted(Transaction(Kind::kWrite, body));
}

absl::Status PgDatabase::WriteShared(absl::FunctionRef<absl::Status(sql::Connection&)> body) {
  absl::Status status;
  for (int attempt = 0; attempt < kSharedWriteAttempts; ++attempt) {
    status = Transaction(Kind::kSharedWrite, body);
    if (!EndedByServer(status)) return status;
  }
  return Unaborted(status);
}

absl::Status PgDatabase::Read(absl::FunctionRef<absl::Status(sql::Connection&)> body) {
  return Unaborted(Transaction(Kind::kRead, body));
}

absl::StatusOr<Timestamp> PgDatabase::ServerTime() {
  std::int64_t micros = 0;
  STACKBILL_RETURN_IF_ERROR(Read([&](sql::Connection& c) -> absl::Status {
    STACKBILL_ASSIGN_OR_RETURN(
        sql::Statement now,
        c.Prepare("SELECT CAST(floor(extract(epoch FROM clock_timestamp()) * 1000000) AS bigint)"));
    STACKBILL_ASSIGN_OR_RETURN(bool row, now.Step());
    if (!row) return absl::InternalError("postgres: clock_timestamp() returned no row");
    micros = now.ReadInt();
    return absl::OkStatus();
  }));
  const std::int64_t seconds = micros / 1000000 - (micros % 1000000 < 0 ? 1 : 0);
  return Timestamp::FromUnixSeconds(seconds,
                                    static_cast<std::int32_t>((micros - seconds * 1000000) * 1000));
}

// ---------------------------------------------------------------------------

absl::StatusOr<std::int64_t> ReadSchemaVersion(PgConnection& connection) {
  STACKBILL_ASSIGN_OR_RETURN(
      sql::Statement exists,
      connection.Prepare("SELECT to_regclass('schema_version') IS NOT NULL"));
  STACKBILL_ASSIGN_OR_RETURN(bool row, exists.Step());
  if (!row || !exists.ReadBool()) return 0;
  STACKBILL_ASSIGN_OR_RETURN(
      sql::Statement stmt,
      connection.Prepare("SELECT COALESCE(max(version), 0) FROM schema_version"));
  STACKBILL_ASSIGN_OR_RETURN(row, stmt.Step());
  return row ? stmt.ReadInt() : 0;
}

absl::Status Migrate(PgConnection& connection, std::span<const std::string_view> migrations) {
  // Its own lock (the write lock's key + 1): READ COMMITTED, as Write, so
  // that a process that waited sees the versions the first one recorded.
  const auto migration_key =
      static_cast<std::int32_t>(static_cast<std::uint32_t>(connection.schema_key()) + 1u);
  absl::Status status =
      connection.Exec(Cat("BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(",
                          kAdvisoryLockKey, ", ", migration_key, ")"));
  if (status.ok()) status = sql::ApplyMigrations(connection, "postgres", migrations);
  if (status.ok()) status = connection.Commit();
  if (!status.ok()) connection.Rollback();
  return status;
}

}  // namespace stackbill::postgres
