// ExpiringSet: names confirmed recently, each forgotten a fixed time after it
// was last confirmed. For checks whose answer rarely changes (does this
// customer exist?), so a hot path asks the owning service once per TTL
// instead of on every call. Bounded: when full, the oldest confirmation goes.
//
// Example:
//   ExpiringSet known({absl::Seconds(30), 10000}, RealClock::Default());
//   if (!known.Contains(sku)) { ...ask...; known.Insert(sku); }
#ifndef SAGAWORKS_COMMON_EXPIRING_SET_H_
#define SAGAWORKS_COMMON_EXPIRING_SET_H_

#include <cstddef>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace sagaworks {

struct ExpiringSetConfig {
  // How long a confirmation holds; zero turns the set off (never contains).
  absl::Duration ttl = absl::Seconds(30);
  size_t max_entries = 10000;

  absl::Status Validate() const;
};

// Thread-safe.
class ExpiringSet {
 public:
  ExpiringSet(ExpiringSetConfig config, Clock& clock);

  // Contains: `name` was inserted less than ttl ago.
  bool Contains(const std::string& name) const;
  // ContainsWithin: `name` was inserted less than `age` ago (and less than
  // ttl: nothing older is kept).
  bool ContainsWithin(const std::string& name, absl::Duration age) const;
  // Insert confirms `name` from now on.
  void Insert(const std::string& name);
  size_t size() const;

 private:
  void Forget(const std::string& name, absl::Time confirmed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ExpiringSetConfig config_;
  Clock& clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, absl::Time> confirmed_ ABSL_GUARDED_BY(mu_);
  // The same entries by confirmation time, oldest first: what goes when full.
  std::multimap<absl::Time, std::string> by_time_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sagaworks

#endif  // SAGAWORKS_COMMON_EXPIRING_SET_H_
