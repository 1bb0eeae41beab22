#include "common/resilience/sliding_window.h"

namespace sagaworks::resilience {
namespace {

void Add(WindowTotals& to, const WindowTotals& from, int sign) {
  to.calls += sign * from.calls;
  to.failures += sign * from.failures;
  to.slow += sign * from.slow;
}

}  // namespace

SlidingWindow::SlidingWindow(Type type, int size)
    : type_(type), size_(size < 1 ? 1 : size), buckets_(size_) {}

void SlidingWindow::Record(absl::Time now, bool failure, bool slow) {
  const WindowTotals one{1, failure ? 1 : 0, slow ? 1 : 0};
  if (type_ == Type::kCount) {
    Bucket& b = buckets_[next_];
    if (filled_ == size_) Add(running_, b.totals, -1);  // evict the oldest
    b.totals = one;
    Add(running_, one, +1);
    next_ = (next_ + 1) % size_;
    if (filled_ < size_) ++filled_;
    return;
  }
  const int64_t second = absl::ToUnixSeconds(now);
  Bucket& b = buckets_[static_cast<size_t>(((second % size_) + size_) % size_)];
  if (b.second != second) {
    b.second = second;
    b.totals = WindowTotals{};
  }
  Add(b.totals, one, +1);
}

WindowTotals SlidingWindow::Totals(absl::Time now) const {
  if (type_ == Type::kCount) return running_;
  const int64_t second = absl::ToUnixSeconds(now);
  WindowTotals sum;
  for (const Bucket& b : buckets_) {
    if (b.second > second - size_ && b.second <= second) Add(sum, b.totals, +1);
  }
  return sum;
}

void SlidingWindow::Reset() {
  for (Bucket& b : buckets_) b = Bucket{};
  next_ = 0;
  filled_ = 0;
  running_ = WindowTotals{};
}

}  // namespace sagaworks::resilience
