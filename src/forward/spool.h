#pragma once

// Spool: the forwarder's durable local queue (SPEC §4.1) — one SQLite file,
// created mode 0600, WAL with synchronous=FULL so that a record once spooled
// survives kill -9 and power loss. Records are kept as the NDJSON lines they
// will be sent as, in arrival order, under a monotonic sequence number; a
// batch is removed only once the server acknowledged it (R10). Sending a
// batch again after a crash is harmless: the server counts a record once
// (R11).
//
// Inbox files are recorded by their identity (name, size, inode, mtime) in
// the same transaction as their records, so a file spooled just before a
// crash, and not yet removed, is not spooled twice.
//
// Not thread-safe: the caller serialises use (the forwarder holds a mutex).

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/guid.h"

namespace stackbill {

namespace sqlite {
class Connection;
}  // namespace sqlite

// The oldest spooled records, as the request body that carries them: one
// buffer, reused from batch to batch (no allocation per record or per batch
// once warm).
class SpoolBatch {
 public:
  std::int64_t first_seq() const { return first_seq_; }
  std::int64_t last_seq() const { return last_seq_; }
  std::size_t size() const { return ends_.size(); }
  bool empty() const { return ends_.empty(); }
  // Every record, each ending in '\n'.
  const std::string& text() const { return text_; }
  // Record i without its '\n'.
  std::string_view line(std::size_t i) const;
  // Records i… as text.
  std::string_view from(std::size_t i) const;

  // Empties the batch, keeping its memory.
  void Clear();
  void Add(std::int64_t seq, std::string_view line);

 private:
  std::int64_t first_seq_ = 0;
  std::int64_t last_seq_ = 0;
  std::string text_;
  std::vector<std::size_t> ends_;  // ends_[i]: one past record i's '\n'
};

class Spool {
 public:
  // Opens (creating mode 0600) the spool at `path` for stack `cloud_id`.
  // FailedPrecondition / "SpoolCloudMismatch" when it holds another stack's
  // records.
  static absl::StatusOr<std::unique_ptr<Spool>> Open(const std::string& path, Guid cloud_id);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Whether an inbox file of this identity was spooled already.
  absl::StatusOr<bool> HasSource(std::string_view source);
  // Appends `lines` in one transaction, recording `source` (an inbox file's
  // identity; empty for stdin) with them.
  absl::Status Append(std::span<const std::string_view> lines, std::string_view source = "");
  // Replaces `batch` with the oldest records, at most `max_records` and about
  // `max_bytes` (at least one record); empty when the spool is empty.
  absl::Status Oldest(std::size_t max_records, std::size_t max_bytes, SpoolBatch& batch);
  // Removes every record up to and including `last_seq` (acknowledged).
  absl::Status Remove(std::int64_t last_seq);
  // Records waiting to be acknowledged.
  std::int64_t backlog() const { return backlog_; }

 private:
  explicit Spool(std::unique_ptr<sqlite::Connection> connection);
  absl::Status Transaction(const std::function<absl::Status()>& body);

  std::unique_ptr<sqlite::Connection> db_;
  std::int64_t backlog_ = 0;
};

}  // namespace stackbill
