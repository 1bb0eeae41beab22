#include "common/observability/otlp_exporter.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace sagaworks::trace {
namespace {

namespace collector = opentelemetry::proto::collector::trace::v1;
namespace otlp = opentelemetry::proto::trace::v1;

constexpr char kTls[] = "https://";

}  // namespace

ExporterStats& GlobalExporterStats() {
  static ExporterStats* const kStats = new ExporterStats();
  return *kStats;
}

absl::StatusOr<std::string> NormalizeEndpoint(const std::string& value) {
  absl::string_view v = value;
  const bool tls = absl::ConsumePrefix(&v, kTls);
  if (!tls) absl::ConsumePrefix(&v, "http://");
  // OTLP/gRPC has no path; tolerate the slash users often add.
  v = absl::StripSuffix(v, "/");
  const size_t colon = v.rfind(':');
  int port = 0;
  if (v.empty() || colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(v.substr(colon + 1), &port) || port < 1 ||
      port > 65535 || absl::StrContains(v, '/')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "OTEL_EXPORTER_OTLP_ENDPOINT: '", value,
        "' is not an OTLP/gRPC endpoint such as http://localhost:4317"));
  }
  return absl::StrCat(tls ? kTls : "", v);
}

OtlpExporter::OtlpExporter(OtlpExporterConfig config, std::string service_name)
    : config_(std::move(config)), service_name_(std::move(service_name)) {
  absl::string_view target = config_.endpoint;
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      absl::ConsumePrefix(&target, kTls)
          ? grpc::SslCredentials(grpc::SslCredentialsOptions())
          : grpc::InsecureChannelCredentials();
  stub_ = collector::TraceService::NewStub(
      grpc::CreateChannel(std::string(target), credentials));
  thread_ = std::thread([this] { Run(); });
}

OtlpExporter::~OtlpExporter() { Shutdown(absl::ZeroDuration()); }

void OtlpExporter::Export(SpanRecord span) {
  absl::MutexLock lock(&mu_);
  if (stop_ || static_cast<int>(queue_.size()) >= config_.max_queue) {
    ++GlobalExporterStats().dropped;
    return;
  }
  queue_.push_back(std::move(span));
}

void OtlpExporter::Shutdown(absl::Duration timeout) {
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    stop_ = true;
    drain_until_ = absl::Now() + timeout;
  }
  if (thread_.joinable()) thread_.join();
}

void OtlpExporter::Run() {
  while (true) {
    bool stopping;
    absl::Time drain_until;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || static_cast<int>(queue_.size()) >= config_.max_batch;
      };
      mu_.AwaitWithTimeout(absl::Condition(&ready), config_.schedule_delay);
      stopping = stop_;
      drain_until = drain_until_;
    }
    if (!stopping) {
      SendBatch(absl::Now() + config_.export_timeout);
      continue;
    }
    // Flush on shutdown, within its budget; what is left is dropped.
    while (absl::Now() < drain_until && SendBatch(drain_until)) {
    }
    absl::MutexLock lock(&mu_);
    GlobalExporterStats().dropped += static_cast<int64_t>(queue_.size());
    queue_.clear();
    return;
  }
}

bool OtlpExporter::SendBatch(absl::Time deadline) {
  collector::ExportTraceServiceRequest request;
  otlp::ResourceSpans* resource = request.add_resource_spans();
  auto* name = resource->mutable_resource()->add_attributes();
  name->set_key("service.name");
  name->mutable_value()->set_string_value(service_name_);
  otlp::ScopeSpans* scope = resource->add_scope_spans();
  scope->mutable_scope()->set_name("sagaworks");
  std::vector<SpanRecord> batch;
  {
    absl::MutexLock lock(&mu_);
    if (queue_.empty()) return false;
    while (!queue_.empty() &&
           static_cast<int>(batch.size()) < config_.max_batch) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  // Built here, not by the threads that recorded the spans, and outside the
  // lock they queue under.
  for (const SpanRecord& record : batch) *scope->add_spans() = ToOtlp(record);
  const int n = scope->spans_size();
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  collector::ExportTraceServiceResponse response;
  grpc::Status s = stub_->Export(&context, request, &response);
  if (s.ok()) {
    const int64_t rejected = response.partial_success().rejected_spans();
    GlobalExporterStats().exported += n - rejected;
    GlobalExporterStats().dropped += rejected;
  } else {
    ++GlobalExporterStats().failed_exports;
    GlobalExporterStats().dropped += n;
    // Once per failed batch at most, and batches are a second apart.
    LogWarning(absl::StrCat("trace export to ", config_.endpoint, " failed (",
                            n, " spans dropped): ", s.error_message()));
  }
  return true;
}

absl::StatusOr<std::unique_ptr<Exporter>> ExporterFromEnvironment(
    const std::string& service_name) {
  const char* value = std::getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  if (value == nullptr || *value == '\0') {
    value = std::getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
  }
  if (value == nullptr || *value == '\0') return nullptr;
  absl::StatusOr<std::string> endpoint = NormalizeEndpoint(value);
  if (!endpoint.ok()) return endpoint.status();
  OtlpExporterConfig config;
  config.endpoint = *endpoint;
  return std::unique_ptr<Exporter>(
      new OtlpExporter(std::move(config), service_name));
}

}  // namespace sagaworks::trace
