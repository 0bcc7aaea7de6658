#include "services/history_cache.h"

#include <utility>

#include "core/status_macros.h"

namespace stackbill {

absl::StatusOr<std::shared_ptr<const HistorySnapshot>> HistoryCache::Current(bool force) {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (snapshot_ && !force && now - checked_at_ < check_interval_) return snapshot_;
  STACKBILL_ASSIGN_OR_RETURN(const std::int64_t version, store_.registrations().HistoryVersion());
  if (!snapshot_ || snapshot_->history.version != version) {
    STACKBILL_ASSIGN_OR_RETURN(History history, store_.registrations().LoadHistory());
    snapshot_ = std::make_shared<const HistorySnapshot>(std::move(history));
  }
  checked_at_ = now;
  return snapshot_;
}

}  // namespace stackbill
