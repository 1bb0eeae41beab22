#include "common/observability/metrics.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace sagaworks::metrics {
namespace {

std::string EscapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Labels renders {a="x",b="y"}, with `extra` (le="...") last; empty when
// there are none.
std::string Labels(const std::vector<std::string>& names,
                   const std::vector<std::string>& values,
                   const std::string& extra = "") {
  std::vector<std::string> parts;
  for (size_t i = 0; i < names.size(); ++i) {
    parts.push_back(
        absl::StrCat(names[i], "=\"", EscapeLabel(values[i]), "\""));
  }
  if (!extra.empty()) parts.push_back(extra);
  if (parts.empty()) return "";
  return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
}

const char* TypeName(Type t) {
  switch (t) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string FormatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  // The shortest form that reads back as the same double: "0.1", not
  // "0.10000000000000001".
  std::string shorter = absl::StrFormat("%.15g", v);
  if (std::strtod(shorter.c_str(), nullptr) == v) return shorter;
  return absl::StrFormat("%.17g", v);
}

void Value::Add(double v) {
  double current = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(current, current + v,
                                       std::memory_order_relaxed)) {
  }
}

HistogramValue::HistogramValue(const std::vector<double>* bounds)
    : bounds_(bounds), counts_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds->size(); ++i) counts_[i] = 0;
}

void HistogramValue::Observe(double v) {
  size_t i = 0;
  while (i < bounds_->size() && v > (*bounds_)[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.Add(v);
}

Family::Family(std::string name, std::string help, Type type,
               std::vector<std::string> labels, std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      labels_(std::move(labels)),
      bounds_(std::move(bounds)) {}

Value& Family::With(const std::vector<std::string>& label_values) {
  if (type_ == Type::kHistogram || label_values.size() != labels_.size()) {
    std::fprintf(stderr, "metric %s: wrong use of With()\n", name_.c_str());
    std::abort();
  }
  absl::MutexLock lock(&mu_);
  auto& v = values_[label_values];
  if (v == nullptr) v = std::make_unique<Value>();
  return *v;
}

HistogramValue& Family::Histogram(
    const std::vector<std::string>& label_values) {
  if (type_ != Type::kHistogram || label_values.size() != labels_.size()) {
    std::fprintf(stderr, "metric %s: wrong use of Histogram()\n",
                 name_.c_str());
    std::abort();
  }
  absl::MutexLock lock(&mu_);
  auto& h = histograms_[label_values];
  if (h == nullptr) h = std::make_unique<HistogramValue>(&bounds_);
  return *h;
}

void Family::Render(std::string* out) const {
  absl::StrAppend(out, "# HELP ", name_, " ", EscapeHelp(help_), "\n",
                  "# TYPE ", name_, " ", TypeName(type_), "\n");
  absl::MutexLock lock(&mu_);
  for (const auto& [labels, value] : values_) {
    absl::StrAppend(out, name_, Labels(labels_, labels), " ",
                    FormatNumber(value->Get()), "\n");
  }
  for (const auto& [labels, h] : histograms_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= bounds_.size(); ++i) {
      cumulative += h->counts_[i].load(std::memory_order_relaxed);
      const std::string le =
          i < bounds_.size() ? FormatNumber(bounds_[i]) : "+Inf";
      absl::StrAppend(out, name_, "_bucket",
                      Labels(labels_, labels, absl::StrCat("le=\"", le, "\"")),
                      " ", cumulative, "\n");
    }
    // The count is the +Inf bucket, so the two always agree.
    absl::StrAppend(out, name_, "_sum", Labels(labels_, labels), " ",
                    FormatNumber(h->sum_.Get()), "\n", name_, "_count",
                    Labels(labels_, labels), " ", cumulative, "\n");
  }
}

uint64_t CallMetrics::NextId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

void CallMetrics::Record(absl::string_view method, absl::StatusCode code,
                         absl::Duration took) {
  const int c = static_cast<int>(code);
  if (c < 0 || c >= kCodes) return;
  // Each thread remembers the last method it recorded for: the same few
  // methods come again and again, and are then found without the lock.
  struct Last {
    uint64_t owner = 0;
    std::string method;
    Codes* codes = nullptr;
  };
  thread_local Last last;
  Codes* codes;
  if (last.owner == id_ && last.method == method) {
    codes = last.codes;
  } else {
    absl::MutexLock lock(&mu_);
    auto it = series_.find(method);
    if (it == series_.end())
      it = series_.try_emplace(std::string(method)).first;
    codes = &it->second;
    last.owner = id_;
    last.method = std::string(method);
    last.codes = codes;
  }
  Series& series = (*codes)[c];
  Value* requests = series.requests.load(std::memory_order_acquire);
  if (requests == nullptr) {
    absl::MutexLock lock(&mu_);
    requests = series.requests.load(std::memory_order_relaxed);
    if (requests == nullptr) {
      const std::string name = absl::StatusCodeToString(code);
      series.latency.store(
          &latency_.Histogram({owner_, std::string(method), name}),
          std::memory_order_relaxed);
      requests = &requests_.With({owner_, std::string(method), name});
      series.requests.store(requests, std::memory_order_release);
    }
  }
  requests->Add(1);
  series.latency.load(std::memory_order_relaxed)
      ->Observe(absl::ToDoubleSeconds(took));
}

const std::vector<double>& LatencyBuckets() {
  static const auto* const kBuckets =
      new std::vector<double>{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                              0.25,  0.5,    1,     2.5,  5,     10,   30};
  return *kBuckets;
}

Registry& Registry::Default() {
  static Registry* const kRegistry = new Registry();
  return *kRegistry;
}

Family& Registry::GetOrCreate(const std::string& name, const std::string& help,
                              Type type, std::vector<std::string> labels,
                              std::vector<double> bounds) {
  absl::MutexLock lock(&mu_);
  auto& f = families_[name];
  if (f == nullptr) {
    f = std::make_unique<Family>(name, help, type, std::move(labels),
                                 std::move(bounds));
  }
  return *f;
}

Family& Registry::Counter(const std::string& name, const std::string& help,
                          std::vector<std::string> labels) {
  return GetOrCreate(name, help, Type::kCounter, std::move(labels), {});
}

Family& Registry::Gauge(const std::string& name, const std::string& help,
                        std::vector<std::string> labels) {
  return GetOrCreate(name, help, Type::kGauge, std::move(labels), {});
}

Family& Registry::Histogram(const std::string& name, const std::string& help,
                            std::vector<std::string> labels,
                            std::vector<double> bounds) {
  return GetOrCreate(name, help, Type::kHistogram, std::move(labels),
                     std::move(bounds));
}

void Registry::AddCollector(std::function<void()> collect) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collect));
}

std::string Registry::Render() {
  std::vector<std::function<void()>> collectors;
  {
    absl::MutexLock lock(&mu_);
    collectors = collectors_;
  }
  for (const auto& c : collectors) c();
  std::string out;
  absl::MutexLock lock(&mu_);
  for (const auto& [name, family] : families_) family->Render(&out);
  return out;
}

std::optional<double> SampleValue(absl::string_view exposition,
                                  absl::string_view series) {
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    double value = 0;
    if (absl::ConsumePrefix(&line, series) && absl::ConsumePrefix(&line, " ") &&
        absl::SimpleAtod(line, &value)) {
      return value;
    }
  }
  return std::nullopt;
}

}  // namespace sagaworks::metrics
