#include "forward/spool.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "core/error.h"
#include "core/status_macros.h"
#include "store/sqlite/sqlite_database.h"

namespace stackbill {
namespace {

using sqlite::Connection;
using sqlite::ConnectionOptions;
using sqlite::SqlValue;
using sqlite::Statement;

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS spool_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- AUTOINCREMENT: sequence numbers never repeat, even once the spool empties,
-- so rejected/<first seq>.ndjson never names two batches.
CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY AUTOINCREMENT, line BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sources (source TEXT PRIMARY KEY, records INTEGER NOT NULL);
)sql";

absl::Status CreatePrivate(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        fmt::format("spool: cannot create {}: {}", path, std::strerror(errno)));
  }
  ::fchmod(fd, 0600);
  ::close(fd);
  return absl::OkStatus();
}

}  // namespace

Spool::Spool(std::unique_ptr<Connection> connection) : db_(std::move(connection)) {}
Spool::~Spool() = default;

absl::StatusOr<std::unique_ptr<Spool>> Spool::Open(const std::string& path, Guid cloud_id) {
  STACKBILL_RETURN_IF_ERROR(CreatePrivate(path));
  ConnectionOptions options;
  // FULL: the forwarder removes an inbox file once it is spooled, so the
  // spool must outlive a power loss, not only a crash.
  options.durability = SqliteOptions::Durability::kFull;
  options.busy_timeout = std::chrono::milliseconds(10000);
  STACKBILL_ASSIGN_OR_RETURN(std::unique_ptr<Connection> db, Connection::Open(path, options));
  {
    STACKBILL_ASSIGN_OR_RETURN(Statement wal, db->Prepare("PRAGMA journal_mode = WAL"));
    STACKBILL_RETURN_IF_ERROR(wal.Step().status());
  }
  STACKBILL_RETURN_IF_ERROR(db->Exec(kSchema));
  std::unique_ptr<Spool> spool(new Spool(std::move(db)));
  {
    STACKBILL_ASSIGN_OR_RETURN(
        Statement find, spool->db_->Prepare("SELECT value FROM spool_meta WHERE key = 'cloudId'"));
    STACKBILL_ASSIGN_OR_RETURN(bool row, find.Step());
    if (row) {
      const std::string stored = find.ReadText();
      if (stored != cloud_id.ToString()) {
        return FailedPreconditionError(
            "SpoolCloudMismatch",
            fmt::format("spool {} holds records of cloud {}, not {}: give each stack its own "
                        "--state folder",
                        path, stored, cloud_id.ToString()));
      }
    }
  }
  STACKBILL_RETURN_IF_ERROR(
      spool->db_->Run("INSERT OR IGNORE INTO spool_meta (key, value) VALUES ('cloudId', ?)",
                      {SqlValue(cloud_id.ToString())}));
  STACKBILL_ASSIGN_OR_RETURN(Statement count, spool->db_->Prepare("SELECT count(*) FROM records"));
  STACKBILL_ASSIGN_OR_RETURN(bool counted, count.Step());
  if (counted) spool->backlog_ = count.ReadInt();
  return spool;
}

absl::Status Spool::Transaction(const std::function<absl::Status()>& body) {
  STACKBILL_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  absl::Status status = body();
  if (status.ok()) status = db_->Exec("COMMIT");
  if (!status.ok()) (void)db_->Exec("ROLLBACK");
  return status;
}

absl::StatusOr<bool> Spool::HasSource(std::string_view source) {
  STACKBILL_ASSIGN_OR_RETURN(Statement find,
                             db_->Prepare("SELECT 1 FROM sources WHERE source = ?"));
  find.BindText(source);
  return find.Step();
}

absl::Status Spool::Append(std::span<const std::string_view> lines, std::string_view source) {
  STACKBILL_RETURN_IF_ERROR(Transaction([&]() -> absl::Status {
    STACKBILL_ASSIGN_OR_RETURN(Statement insert,
                               db_->Prepare("INSERT INTO records (line) VALUES (?)"));
    for (std::string_view line : lines) {
      insert.BindBlob(line);
      STACKBILL_RETURN_IF_ERROR(insert.Run());
      insert.Reset();
    }
    if (!source.empty()) {
      STACKBILL_RETURN_IF_ERROR(db_->Run(
          "INSERT OR REPLACE INTO sources (source, records) VALUES (?, ?)",
          {SqlValue(std::string(source)), SqlValue(static_cast<std::int64_t>(lines.size()))}));
    }
    return absl::OkStatus();
  }));
  backlog_ += static_cast<std::int64_t>(lines.size());
  return absl::OkStatus();
}

std::string_view SpoolBatch::line(std::size_t i) const {
  const std::size_t begin = i == 0 ? 0 : ends_[i - 1];
  return std::string_view(text_).substr(begin, ends_[i] - begin - 1);
}

std::string_view SpoolBatch::from(std::size_t i) const {
  return std::string_view(text_).substr(i == 0 ? 0 : ends_[i - 1]);
}

void SpoolBatch::Clear() {
  first_seq_ = last_seq_ = 0;
  text_.clear();
  ends_.clear();
}

void SpoolBatch::Add(std::int64_t seq, std::string_view line) {
  if (ends_.empty()) first_seq_ = seq;
  last_seq_ = seq;
  text_.append(line);
  text_.push_back('\n');
  ends_.push_back(text_.size());
}

absl::Status Spool::Oldest(std::size_t max_records, std::size_t max_bytes, SpoolBatch& batch) {
  batch.Clear();
  STACKBILL_ASSIGN_OR_RETURN(Statement select,
                             db_->Prepare("SELECT seq, line FROM records ORDER BY seq LIMIT ?"));
  select.BindInt(static_cast<std::int64_t>(max_records));
  for (;;) {
    STACKBILL_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    const std::int64_t seq = select.ReadInt();
    const std::string_view line = select.ReadBlobView();
    if (!batch.empty() && batch.text().size() + line.size() + 1 > max_bytes) break;
    batch.Add(seq, line);
  }
  return absl::OkStatus();
}

absl::Status Spool::Remove(std::int64_t last_seq) {
  std::int64_t removed = 0;
  STACKBILL_RETURN_IF_ERROR(Transaction([&]() -> absl::Status {
    STACKBILL_RETURN_IF_ERROR(db_->Run("DELETE FROM records WHERE seq <= ?", {SqlValue(last_seq)}));
    removed = db_->changes();
    return absl::OkStatus();
  }));
  backlog_ -= removed;
  return absl::OkStatus();
}

}  // namespace stackbill
