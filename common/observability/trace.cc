#include "common/observability/trace.h"

#include <algorithm>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace sagaworks::trace {
namespace {

namespace otlp = opentelemetry::proto::trace::v1;
namespace otlp_common = opentelemetry::proto::common::v1;

thread_local SpanContext t_current;

uint64_t RandomWord() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

template <size_t N>
void FillRandom(std::array<uint8_t, N>& bytes) {
  // Never all zeroes: that is the invalid id.
  do {
    for (size_t i = 0; i < N; i += 8) {
      const uint64_t w = RandomWord();
      for (size_t j = 0; j < 8 && i + j < N; ++j) bytes[i + j] = w >> (8 * j);
    }
  } while (std::all_of(bytes.begin(), bytes.end(),
                       [](uint8_t b) { return b == 0; }));
}

template <size_t N>
bool AllZero(const std::array<uint8_t, N>& bytes) {
  for (uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

template <size_t N>
std::string Hex(const std::array<uint8_t, N>& bytes) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes.data()), N));
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case too: the specification asks for lower case
}

template <size_t N>
bool ParseHex(absl::string_view text, std::array<uint8_t, N>& out) {
  if (text.size() != 2 * N) return false;
  for (size_t i = 0; i < N; ++i) {
    const int hi = HexDigit(text[2 * i]), lo = HexDigit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

std::string Bytes(const uint8_t* data, size_t n) {
  return std::string(reinterpret_cast<const char*>(data), n);
}

void SetValue(otlp_common::AnyValue* out, const AttributeValue& value) {
  if (const auto* s = std::get_if<std::string>(&value)) {
    out->set_string_value(*s);
  } else if (const auto* i = std::get_if<int64_t>(&value)) {
    out->set_int_value(*i);
  } else if (const auto* d = std::get_if<double>(&value)) {
    out->set_double_value(*d);
  } else {
    out->set_bool_value(std::get<bool>(value));
  }
}

}  // namespace

bool SpanContext::valid() const {
  return !AllZero(trace_id) && !AllZero(span_id);
}

std::string SpanContext::TraceIdHex() const { return Hex(trace_id); }
std::string SpanContext::SpanIdHex() const { return Hex(span_id); }

std::optional<SpanContext> ParseTraceparent(absl::string_view value) {
  value = absl::StripAsciiWhitespace(value);
  std::vector<absl::string_view> parts = absl::StrSplit(value, '-');
  if (parts.size() < 4) return std::nullopt;
  std::array<uint8_t, 1> version{}, flags{};
  if (!ParseHex(parts[0], version) || version[0] == 0xff) return std::nullopt;
  // Version 00 has exactly four fields; later versions may append more.
  if (version[0] == 0 && parts.size() != 4) return std::nullopt;
  SpanContext c;
  if (!ParseHex(parts[1], c.trace_id) || !ParseHex(parts[2], c.span_id) ||
      !ParseHex(parts[3], flags)) {
    return std::nullopt;
  }
  c.flags = flags[0];
  if (!c.valid()) return std::nullopt;
  return c;
}

std::string CleanTracestate(absl::string_view value) {
  value = absl::StripAsciiWhitespace(value);
  if (value.size() > kMaxTracestateBytes) return "";
  int members = 1;
  for (char c : value) {
    if (c < 0x20 || c > 0x7e) return "";
    if (c == ',') ++members;
  }
  if (members > 32) return "";
  return std::string(value);
}

std::string FormatTraceparent(const SpanContext& c) {
  return absl::StrCat("00-", c.TraceIdHex(), "-", c.SpanIdHex(), "-",
                      c.sampled() ? "01" : "00");
}

const SpanContext& CurrentContext() { return t_current; }

std::string CurrentTraceparent() {
  return t_current.valid() ? FormatTraceparent(t_current) : std::string();
}

ScopedContext::ScopedContext(const SpanContext& context) : saved_(t_current) {
  t_current = context;
}

ScopedContext::~ScopedContext() { t_current = std::move(saved_); }

uint64_t NowUnixNanos() { return absl::ToUnixNanos(absl::Now()); }

void Span::SetAttribute(absl::string_view key, AttributeValue value) {
  if (!recording_ || ended_) return;
  record_.attributes.emplace_back(std::string(key), std::move(value));
}

void Span::AddEvent(absl::string_view name, const Attributes& attributes) {
  if (!recording_ || ended_) return;
  record_.events.push_back({std::string(name), NowUnixNanos(), attributes});
}

void Span::SetError(absl::string_view message) {
  if (!recording_ || ended_) return;
  record_.status = SpanRecord::Status::kError;
  record_.status_message = std::string(message);
}

void Span::SetOk() {
  if (!recording_ || ended_) return;
  record_.status = SpanRecord::Status::kOk;
  record_.status_message.clear();
}

void Span::End() {
  if (ended_) return;
  ended_ = true;
  if (!recording_) return;
  record_.end_unix_nano = NowUnixNanos();
  tracer_.Finish(std::move(record_));
}

otlp::Span ToOtlp(const SpanRecord& r) {
  otlp::Span d;
  const SpanContext& c = r.context;
  d.set_trace_id(Bytes(c.trace_id.data(), c.trace_id.size()));
  d.set_span_id(Bytes(c.span_id.data(), c.span_id.size()));
  if (r.parent_span_id.has_value()) {
    d.set_parent_span_id(
        Bytes(r.parent_span_id->data(), r.parent_span_id->size()));
  }
  d.set_trace_state(c.trace_state);
  d.set_flags(c.flags);
  d.set_name(r.name);
  d.set_kind(static_cast<otlp::Span::SpanKind>(r.kind));
  d.set_start_time_unix_nano(r.start_unix_nano);
  d.set_end_time_unix_nano(r.end_unix_nano);
  for (const auto& [key, value] : r.attributes) {
    otlp_common::KeyValue* kv = d.add_attributes();
    kv->set_key(key);
    SetValue(kv->mutable_value(), value);
  }
  for (const SpanRecord::Event& event : r.events) {
    otlp::Span::Event* e = d.add_events();
    e->set_time_unix_nano(event.time_unix_nano);
    e->set_name(event.name);
    for (const auto& [key, value] : event.attributes) {
      otlp_common::KeyValue* kv = e->add_attributes();
      kv->set_key(key);
      SetValue(kv->mutable_value(), value);
    }
  }
  switch (r.status) {
    case SpanRecord::Status::kUnset:
      break;
    case SpanRecord::Status::kOk:
      d.mutable_status()->set_code(otlp::Status::STATUS_CODE_OK);
      break;
    case SpanRecord::Status::kError:
      d.mutable_status()->set_code(otlp::Status::STATUS_CODE_ERROR);
      d.mutable_status()->set_message(r.status_message);
      break;
  }
  return d;
}

absl::StatusOr<Sampler> Sampler::Parse(absl::string_view name,
                                       absl::string_view arg) {
  Sampler s;
  const std::string n = absl::AsciiStrToLower(absl::StripAsciiWhitespace(name));
  if (n.empty() || n == "parentbased_always_on") return s;
  if (n == "always_on" || n == "always_off" || n == "traceidratio") {
    s.parent_based = false;
  } else if (n != "parentbased_always_off" && n != "parentbased_traceidratio") {
    return absl::InvalidArgumentError(absl::StrCat(
        "OTEL_TRACES_SAMPLER: unknown sampler '", name,
        "' (always_on, always_off, traceidratio, parentbased_always_on, "
        "parentbased_always_off, parentbased_traceidratio)"));
  }
  if (absl::EndsWith(n, "always_off")) s.root = Kind::kAlwaysOff;
  if (absl::EndsWith(n, "traceidratio")) {
    s.root = Kind::kRatio;
    s.ratio = 1.0;
    if (!arg.empty() &&
        (!absl::SimpleAtod(arg, &s.ratio) || s.ratio < 0 || s.ratio > 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("OTEL_TRACES_SAMPLER_ARG: '", arg,
                       "' is not a ratio between 0 and 1"));
    }
  }
  return s;
}

bool Sampler::Sample(const SpanContext* parent,
                     const std::array<uint8_t, 16>& trace_id) const {
  if (parent_based && parent != nullptr && !parent->untrusted) {
    return parent->sampled();
  }
  switch (root) {
    case Kind::kAlwaysOn:
      return true;
    case Kind::kAlwaysOff:
      return false;
    case Kind::kRatio: {
      // The trace id's low 8 bytes decide, so every process sampling at the
      // same ratio decides alike for one trace.
      uint64_t x = 0;
      for (int i = 8; i < 16; ++i) x = (x << 8) | trace_id[i];
      // 53 bits, exact in a double.
      return static_cast<double>(x >> 11) < ratio * 9007199254740992.0;
    }
  }
  return false;
}

Tracer& Tracer::Get() {
  static Tracer* const kTracer = new Tracer();
  return *kTracer;
}

void Tracer::Configure(std::string service_name, Sampler sampler,
                       std::unique_ptr<Exporter> exporter) {
  service_name_ = std::move(service_name);
  sampler_ = sampler;
  absl::MutexLock lock(&mu_);
  exporter_ = std::move(exporter);
  exporting_ = exporter_ != nullptr;
}

void Tracer::Shutdown(absl::Duration timeout) {
  std::unique_ptr<Exporter> exporter;
  {
    absl::MutexLock lock(&mu_);
    exporter = std::move(exporter_);
    exporting_ = false;
  }
  if (exporter != nullptr) exporter->Shutdown(timeout);
}

std::unique_ptr<Span> Tracer::StartSpan(absl::string_view name, SpanKind kind,
                                        const SpanContext* parent) {
  if (parent == nullptr || !parent->valid()) {
    parent = t_current.valid() ? &t_current : nullptr;
  }
  return StartSpanUnder(name, kind, parent);
}

std::unique_ptr<Span> Tracer::StartSpanUnder(absl::string_view name,
                                             SpanKind kind,
                                             const SpanContext* parent) {
  if (parent != nullptr && !parent->valid()) parent = nullptr;
  SpanContext c;
  if (parent != nullptr) {
    c.trace_id = parent->trace_id;
    c.trace_state = parent->trace_state;
  } else {
    FillRandom(c.trace_id);
  }
  FillRandom(c.span_id);
  const bool sampled = sampler_.Sample(parent, c.trace_id);
  c.flags = sampled ? 1 : 0;
  const bool recording = sampled && exporting();
  std::unique_ptr<Span> span(new Span(*this, c, recording));
  if (recording) {
    SpanRecord& r = span->record_;
    r.context = c;
    if (parent != nullptr) r.parent_span_id = parent->span_id;
    r.name = std::string(name);
    r.kind = kind;
    r.start_unix_nano = NowUnixNanos();
    // The client and server spans set about this many.
    r.attributes.reserve(8);
  }
  return span;
}

void Tracer::Finish(SpanRecord span) {
  absl::MutexLock lock(&mu_);
  if (exporter_ != nullptr) exporter_->Export(std::move(span));
}

}  // namespace sagaworks::trace
