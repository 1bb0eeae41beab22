// Metrics in the Prometheus text exposition format: counters, gauges and
// histograms with labels, kept in one registry per process and rendered on
// each scrape of /metrics.
//
//   static auto& requests = metrics::Registry::Default().Counter(
//       "sagaworks_rpc_server_requests_total", "Server calls by method and
//       code.",
//       {"rpc_method", "code"});
//   requests.With({"Charge", "OK"}).Add(1);
//
// Values that other code already keeps (breaker states, guard counters) are
// read at scrape time by collectors instead of being counted twice.
#ifndef SAGAWORKS_COMMON_OBSERVABILITY_METRICS_H_
#define SAGAWORKS_COMMON_OBSERVABILITY_METRICS_H_

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace sagaworks::metrics {

// Value: a counter or gauge sample. Thread-safe and lock-free: counting is
// on every call's path.
class Value {
 public:
  void Add(double v);
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  double Get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// HistogramValue: buckets and sum (the count is the +Inf bucket).
// Thread-safe and lock-free; a scrape may see an observation in its bucket a
// moment before it is in the sum.
class HistogramValue {
 public:
  explicit HistogramValue(const std::vector<double>* bounds);
  void Observe(double v);

 private:
  friend class Family;
  const std::vector<double>* bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, +Inf last
  Value sum_;
};

enum class Type { kCounter, kGauge, kHistogram };

// Family: one metric name with its children, one per set of label values.
class Family {
 public:
  Family(std::string name, std::string help, Type type,
         std::vector<std::string> labels, std::vector<double> bounds);

  // With returns the child for these label values (created on first use);
  // the reference stays valid for the life of the registry.
  Value& With(const std::vector<std::string>& label_values);
  HistogramValue& Histogram(const std::vector<std::string>& label_values);

  void Render(std::string* out) const;
  const std::string& name() const { return name_; }

 private:
  const std::string name_, help_;
  const Type type_;
  const std::vector<std::string> labels_;
  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Value>> values_
      ABSL_GUARDED_BY(mu_);
  std::map<std::vector<std::string>, std::unique_ptr<HistogramValue>>
      histograms_ ABSL_GUARDED_BY(mu_);
};

// CallMetrics: the count and latency of calls, in two families labelled
// (<owner>, method, code), with each series looked up once and then reached
// without building labels: recording is on every call's path.
class CallMetrics {
 public:
  // `owner` is the first label's value (a downstream, a gRPC service).
  CallMetrics(Family& requests, Family& latency, std::string owner)
      : requests_(requests),
        latency_(latency),
        owner_(std::move(owner)),
        id_(NextId()) {}
  CallMetrics(const CallMetrics&) = delete;
  CallMetrics& operator=(const CallMetrics&) = delete;

  void Record(absl::string_view method, absl::StatusCode code,
              absl::Duration took);

 private:
  // The gRPC status codes, 0 (OK) to 16 (UNAUTHENTICATED).
  static constexpr int kCodes = 17;
  // Set once under mu_ (latency before requests) and read without it.
  struct Series {
    std::atomic<Value*> requests{nullptr};
    std::atomic<HistogramValue*> latency{nullptr};
  };
  using Codes = std::array<Series, kCodes>;

  // A number no other CallMetrics of this process has had, for the
  // per-thread memo in Record (an address may be reused).
  static uint64_t NextId();

  Family& requests_;
  Family& latency_;
  const std::string owner_;
  const uint64_t id_;
  absl::Mutex mu_;
  // Series exist only for the codes seen, so pages list no empty ones.
  // Nodes are never erased, so a method's Codes stay where they are.
  std::map<std::string, Codes, std::less<>> series_ ABSL_GUARDED_BY(mu_);
};

// Latency buckets in seconds: 1 ms to 30 s.
const std::vector<double>& LatencyBuckets();

class Registry {
 public:
  static Registry& Default();

  // Each returns the family of that name, creating it on first use (later
  // calls get that family, whatever they pass).
  Family& Counter(const std::string& name, const std::string& help,
                  std::vector<std::string> labels = {});
  Family& Gauge(const std::string& name, const std::string& help,
                std::vector<std::string> labels = {});
  Family& Histogram(const std::string& name, const std::string& help,
                    std::vector<std::string> labels,
                    std::vector<double> bounds = LatencyBuckets());

  // AddCollector registers work run before each rendering (to copy values
  // kept elsewhere into families).
  void AddCollector(std::function<void()> collect);

  // Render returns the exposition text of every family.
  std::string Render();

 private:
  Family& GetOrCreate(const std::string& name, const std::string& help,
                      Type type, std::vector<std::string> labels,
                      std::vector<double> bounds);

  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Family>> families_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> collectors_ ABSL_GUARDED_BY(mu_);
};

// FormatNumber prints integers without a fraction and everything else with
// full precision, as Prometheus parses it.
std::string FormatNumber(double v);

// SampleValue reads one sample from exposition text (a /metrics page):
// `series` is its name with its labels as rendered, if it has any
// ("sagaworks_sagas_finished_total{status=\"completed\"}"). nullopt when the
// page has no such sample.
std::optional<double> SampleValue(absl::string_view exposition,
                                  absl::string_view series);

}  // namespace sagaworks::metrics

#endif  // SAGAWORKS_COMMON_OBSERVABILITY_METRICS_H_
