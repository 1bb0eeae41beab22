// Tracing: W3C trace context, spans, and the process's tracer. A small
// tracer of our own, because Debian ships no OpenTelemetry C++ SDK; its spans
// are OTLP messages from the start, so exporting them is a copy.
//
//   auto span = trace::Tracer::Get().StartSpan("charge", SpanKind::kClient);
//   trace::ScopedContext in(span->context());   // children and logs see it
//   span->SetAttribute("rpc.method", "Charge");
//   span->End();                                // or let it go out of scope
//
// Every span gets ids, sampled or not, so logs carry trace ids and calls
// carry `traceparent` whatever the sampler decides; only sampled spans are
// recorded and exported.
#ifndef SAGAWORKS_COMMON_OBSERVABILITY_TRACE_H_
#define SAGAWORKS_COMMON_OBSERVABILITY_TRACE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace sagaworks::trace {

struct SpanContext {
  std::array<uint8_t, 16> trace_id{};
  std::array<uint8_t, 8> span_id{};
  uint8_t flags = 0;  // bit 0: sampled
  std::string trace_state;
  // Sent by a caller outside the platform (a customer): its trace is
  // joined, but its sampled flag does not decide, or anyone could have
  // every call of theirs recorded and exported.
  bool untrusted = false;

  // valid: neither id is all zeroes.
  bool valid() const;
  bool sampled() const { return (flags & 1) != 0; }
  std::string TraceIdHex() const;
  std::string SpanIdHex() const;
};

// ParseTraceparent reads a W3C `traceparent` value
// ("00-<32 hex>-<16 hex>-<2 hex>"); nullopt for anything malformed, which
// callers ignore (a new trace starts). Versions above 00 are read by their
// first four fields, as the specification asks.
std::optional<SpanContext> ParseTraceparent(absl::string_view value);
std::string FormatTraceparent(const SpanContext& context);

// kMaxTracestateBytes: the `tracestate` a process keeps and passes on. W3C
// asks vendors to propagate at least 512 characters; more is dropped here,
// so one caller cannot make every span and every call it leads to larger.
inline constexpr size_t kMaxTracestateBytes = 512;

// CleanTracestate is a received `tracestate` as this process keeps it: the
// same text when it has at most 32 list members, kMaxTracestateBytes bytes
// and only printable ASCII; else empty (W3C: discard what cannot be
// parsed).
std::string CleanTracestate(absl::string_view value);

// The current span context of this thread (invalid when there is none).
const SpanContext& CurrentContext();

// CurrentTraceparent is the current span context as a `traceparent` value,
// or empty when there is none: what a stored request carries so that later
// work continues its trace.
std::string CurrentTraceparent();

// ScopedContext makes `context` current on this thread until it goes out of
// scope, then restores what was current before.
class ScopedContext {
 public:
  explicit ScopedContext(const SpanContext& context);
  ~ScopedContext();
  ScopedContext(const ScopedContext&) = delete;
  ScopedContext& operator=(const ScopedContext&) = delete;

 private:
  SpanContext saved_;
};

enum class SpanKind { kInternal = 1, kServer = 2, kClient = 3, kProducer = 4 };

using AttributeValue = std::variant<std::string, int64_t, double, bool>;
using Attributes = std::vector<std::pair<std::string, AttributeValue>>;

class Tracer;

// SpanRecord: a span as recorded, plain data. The OTLP message is built
// from it only at export (ToOtlp), off the recording thread.
struct SpanRecord {
  struct Event {
    std::string name;
    uint64_t time_unix_nano = 0;
    Attributes attributes;
  };
  enum class Status { kUnset, kOk, kError };

  SpanContext context;
  std::optional<std::array<uint8_t, 8>> parent_span_id;
  std::string name;
  SpanKind kind = SpanKind::kInternal;
  uint64_t start_unix_nano = 0;
  uint64_t end_unix_nano = 0;
  Attributes attributes;
  std::vector<Event> events;
  Status status = Status::kUnset;
  std::string status_message;
};

opentelemetry::proto::trace::v1::Span ToOtlp(const SpanRecord& record);

// Span: one timed operation. Not thread-safe: one thread at a time.
class Span {
 public:
  ~Span() { End(); }
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;

  const SpanContext& context() const { return context_; }
  bool recording() const { return recording_; }

  void SetAttribute(absl::string_view key, AttributeValue value);
  void AddEvent(absl::string_view name, const Attributes& attributes = {});
  // SetError marks the span failed with `message`; SetOk marks it succeeded.
  void SetError(absl::string_view message);
  void SetOk();
  // End stamps the end time and hands a sampled span to the exporter; later
  // calls do nothing.
  void End();

 private:
  friend class Tracer;
  Span(Tracer& tracer, SpanContext context, bool recording)
      : tracer_(tracer), context_(std::move(context)), recording_(recording) {}

  Tracer& tracer_;
  SpanContext context_;
  const bool recording_;
  bool ended_ = false;
  SpanRecord record_;
};

// Exporter receives ended, sampled spans. Export must not block.
class Exporter {
 public:
  virtual ~Exporter() = default;
  virtual void Export(SpanRecord span) = 0;
  // Shutdown sends what is queued, waiting at most `timeout`.
  virtual void Shutdown(absl::Duration timeout) = 0;
};

// Sampler: the OTEL_TRACES_SAMPLER choices.
struct Sampler {
  enum class Kind { kAlwaysOn, kAlwaysOff, kRatio };
  Kind root = Kind::kAlwaysOn;
  double ratio = 1.0;
  // parentbased_*: a span with a parent follows the parent's decision,
  // unless the parent came from an untrusted caller (SpanContext::untrusted):
  // then the root sampler decides.
  bool parent_based = true;

  // Parse reads OTEL_TRACES_SAMPLER's value and OTEL_TRACES_SAMPLER_ARG's.
  static absl::StatusOr<Sampler> Parse(absl::string_view name,
                                       absl::string_view arg);
  bool Sample(const SpanContext* parent,
              const std::array<uint8_t, 16>& trace_id) const;
};

class Tracer {
 public:
  // Get is the process's tracer: no exporter (nothing sent) until
  // Configure().
  static Tracer& Get();

  Tracer() = default;
  // Configure names the service and sets the sampler and the exporter (null:
  // spans are dropped at End). Call at start-up, before spans are made.
  void Configure(std::string service_name, Sampler sampler,
                 std::unique_ptr<Exporter> exporter);
  // Shutdown flushes the exporter, then drops spans from then on.
  void Shutdown(absl::Duration timeout);

  // StartSpan starts a span whose parent is `parent` if given and valid,
  // else this thread's current context if valid, else none (a new trace).
  std::unique_ptr<Span> StartSpan(absl::string_view name, SpanKind kind,
                                  const SpanContext* parent = nullptr);
  // StartSpanUnder starts a span whose parent is `parent`, or a new trace
  // when that is null or invalid: this thread's context plays no part
  // (server calls, whose parent is the caller's header or nothing).
  std::unique_ptr<Span> StartSpanUnder(absl::string_view name, SpanKind kind,
                                       const SpanContext* parent);

  const std::string& service_name() const { return service_name_; }
  // exporting: spans are being sent somewhere (an exporter is set).
  bool exporting() const { return exporting_.load(std::memory_order_relaxed); }

 private:
  friend class Span;
  void Finish(SpanRecord span);

  std::string service_name_ = "sagaworks";
  Sampler sampler_;
  absl::Mutex mu_;
  std::unique_ptr<Exporter> exporter_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> exporting_{false};
};

// Now in nanoseconds since the epoch, as OTLP stamps spans.
uint64_t NowUnixNanos();

}  // namespace sagaworks::trace

#endif  // SAGAWORKS_COMMON_OBSERVABILITY_TRACE_H_
