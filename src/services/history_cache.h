#pragma once

// HistoryCache: the effective-dated history (core/history.h) as services
// read it — one immutable snapshot shared by every request, its version
// checked against the store at most every `check_interval`, reloaded only
// when the version moved. Thread-safe.

#include <chrono>
#include <memory>
#include <mutex>

#include "absl/status/statusor.h"
#include "core/history.h"
#include "store/store.h"

namespace stackbill {

struct HistorySnapshot {
  explicit HistorySnapshot(History h) : history(std::move(h)), view(history) {}
  History history;
  HistoryView view;  // borrows `history`; neither moves again
};

class HistoryCache {
 public:
  HistoryCache(Store& store, std::chrono::milliseconds check_interval)
      : store_(store), check_interval_(check_interval) {}

  // The current snapshot; `force` reads the version now whatever the
  // interval. shared_ptr: a request keeps the snapshot it works with alive
  // while a newer one replaces it.
  absl::StatusOr<std::shared_ptr<const HistorySnapshot>> Current(bool force);

 private:
  Store& store_;
  const std::chrono::milliseconds check_interval_;
  std::mutex mu_;
  std::shared_ptr<const HistorySnapshot> snapshot_;     // guarded by mu_
  std::chrono::steady_clock::time_point checked_at_{};  // guarded by mu_
};

}  // namespace stackbill
