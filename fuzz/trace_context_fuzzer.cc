// Fuzzes the W3C trace context a caller sends (`traceparent`, then
// `tracestate` after a NUL byte): parsing never crashes, a parsed context
// formats to a header that parses to the same ids, and a kept tracestate is
// small and printable.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/observability/trace.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sagaworks::trace;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string traceparent = input.substr(0, nul);
  const std::string tracestate =
      nul == std::string::npos ? "" : input.substr(nul + 1);

  if (std::optional<SpanContext> c = ParseTraceparent(traceparent)) {
    if (!c->valid()) abort();
    std::optional<SpanContext> again = ParseTraceparent(FormatTraceparent(*c));
    if (!again.has_value() || again->trace_id != c->trace_id ||
        again->span_id != c->span_id || again->sampled() != c->sampled()) {
      abort();
    }
  }
  const std::string kept = CleanTracestate(tracestate);
  if (kept.size() > kMaxTracestateBytes) abort();
  for (char ch : kept) {
    if (ch < 0x20 || ch > 0x7e) abort();
  }
  return 0;
}
