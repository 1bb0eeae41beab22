// OtlpExporter: sends ended spans to an OTLP/gRPC receiver (Jaeger, the
// OpenTelemetry Collector) in batches, from a thread of its own. Export()
// only queues: a slow or dead collector never slows a request; when the queue
// is full, spans are dropped and counted.
#ifndef SAGAWORKS_COMMON_OBSERVABILITY_OTLP_EXPORTER_H_
#define SAGAWORKS_COMMON_OBSERVABILITY_OTLP_EXPORTER_H_

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/observability/trace.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

namespace sagaworks::trace {

struct OtlpExporterConfig {
  // host:port of the receiver; "https://" before it asks for TLS.
  std::string endpoint;
  int max_queue = 2048;
  int max_batch = 512;
  // A batch goes out when full or this long after the last one.
  absl::Duration schedule_delay = absl::Seconds(1);
  absl::Duration export_timeout = absl::Seconds(10);
};

// ExporterStats: for /metrics. Monotonic.
struct ExporterStats {
  std::atomic<int64_t> exported{0};
  std::atomic<int64_t> dropped{0};  // queue full, or the export failed
  std::atomic<int64_t> failed_exports{0};
};

// The process's exporter counters (one exporter per process).
ExporterStats& GlobalExporterStats();

class OtlpExporter final : public Exporter {
 public:
  OtlpExporter(OtlpExporterConfig config, std::string service_name);
  ~OtlpExporter() override;

  // Export queues the record; the OTLP message is built in the batch.
  void Export(SpanRecord span) override;
  void Shutdown(absl::Duration timeout) override;

 private:
  void Run();
  // Sends up to one batch from the queue; false when it was empty.
  bool SendBatch(absl::Time deadline);

  const OtlpExporterConfig config_;
  const std::string service_name_;
  std::unique_ptr<
      opentelemetry::proto::collector::trace::v1::TraceService::Stub>
      stub_;
  absl::Mutex mu_;
  std::deque<SpanRecord> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time drain_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::thread thread_;
};

// ExporterFromEnvironment builds the exporter that OTEL_EXPORTER_OTLP_ENDPOINT
// (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) names, e.g. http://localhost:4317;
// null when neither is set (tracing off). A malformed value is an error.
absl::StatusOr<std::unique_ptr<Exporter>> ExporterFromEnvironment(
    const std::string& service_name);

// NormalizeEndpoint turns "http://host:4317/" into "host:4317" (and keeps
// "https://" as a TLS marker); errors name the variable.
absl::StatusOr<std::string> NormalizeEndpoint(const std::string& value);

}  // namespace sagaworks::trace

#endif  // SAGAWORKS_COMMON_OBSERVABILITY_OTLP_EXPORTER_H_
