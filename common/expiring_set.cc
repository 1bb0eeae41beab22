#include "common/expiring_set.h"

#include <algorithm>

namespace sagaworks {

absl::Status ExpiringSetConfig::Validate() const {
  if (ttl < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("cache ttl must not be negative");
  }
  if (max_entries < 1) {
    return absl::InvalidArgumentError("cache must hold at least one entry");
  }
  return absl::OkStatus();
}

ExpiringSet::ExpiringSet(ExpiringSetConfig config, Clock& clock)
    : config_(config), clock_(clock) {}

bool ExpiringSet::Contains(const std::string& name) const {
  return ContainsWithin(name, config_.ttl);
}

bool ExpiringSet::ContainsWithin(const std::string& name,
                                 absl::Duration age) const {
  if (config_.ttl == absl::ZeroDuration()) return false;
  absl::MutexLock lock(&mu_);
  auto it = confirmed_.find(name);
  return it != confirmed_.end() &&
         clock_.Now() - it->second < std::min(age, config_.ttl);
}

void ExpiringSet::Insert(const std::string& name) {
  if (config_.ttl == absl::ZeroDuration()) return;
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  if (auto it = confirmed_.find(name); it != confirmed_.end()) {
    Forget(name, it->second);
  }
  // Expired entries go first, then the oldest if still full.
  while (!by_time_.empty() && (now - by_time_.begin()->first >= config_.ttl ||
                               confirmed_.size() >= config_.max_entries)) {
    auto oldest = by_time_.begin();
    confirmed_.erase(oldest->second);
    by_time_.erase(oldest);
  }
  confirmed_[name] = now;
  by_time_.emplace(now, name);
}

size_t ExpiringSet::size() const {
  absl::MutexLock lock(&mu_);
  return confirmed_.size();
}

void ExpiringSet::Forget(const std::string& name, absl::Time confirmed) {
  auto [first, last] = by_time_.equal_range(confirmed);
  for (auto it = first; it != last; ++it) {
    if (it->second == name) {
      by_time_.erase(it);
      break;
    }
  }
  confirmed_.erase(name);
}

}  // namespace sagaworks
