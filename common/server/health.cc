#include "common/server/health.h"

#include "absl/cleanup/cleanup.h"
#include "absl/time/time.h"
#include "common/validation.h"

namespace sagaworks::server {

using grpc::health::v1::HealthCheckResponse;

void HealthService::SetStatus(const std::string& service,
                              ServingStatus status) {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return;
  statuses_[service] = status;
  ++generation_;
}

void HealthService::SetAll(ServingStatus status) {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return;
  statuses_[""] = status;
  for (auto& [name, s] : statuses_) s = status;
  ++generation_;
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  for (auto& [name, s] : statuses_) s = HealthCheckResponse::NOT_SERVING;
  shutdown_ = true;
  ++generation_;
}

bool HealthService::AwaitWatchesTold(absl::Duration limit) {
  absl::MutexLock lock(&mu_);
  auto told = [this]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return watches_ == 0; };
  return mu_.AwaitWithTimeout(absl::Condition(&told), limit);
}

int HealthService::watches() const {
  absl::MutexLock lock(&mu_);
  return watches_;
}

HealthService::ServingStatus HealthService::Lookup(
    const std::string& service) const {
  auto it = statuses_.find(service);
  return it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN
                               : it->second;
}

grpc::Status HealthService::Check(
    grpc::ServerContext*, const grpc::health::v1::HealthCheckRequest* request,
    HealthCheckResponse* response) {
  absl::MutexLock lock(&mu_);
  ServingStatus status = Lookup(request->service());
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    return grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        "unknown service: " + CleanText(request->service(), 200));
  }
  response->set_status(status);
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(
    grpc::ServerContext* context,
    const grpc::health::v1::HealthCheckRequest* request,
    grpc::ServerWriter<HealthCheckResponse>* writer) {
  uint64_t seen = 0;
  ServingStatus last = HealthCheckResponse::UNKNOWN;
  bool first = true;
  {
    absl::MutexLock lock(&mu_);
    ++watches_;
  }
  absl::Cleanup ended = [this] {
    absl::MutexLock lock(&mu_);
    --watches_;
  };
  while (true) {
    ServingStatus status;
    bool shutdown;
    {
      absl::MutexLock lock(&mu_);
      // Wake at least once a second to notice a cancelled client: the sync API
      // offers no cancellation callback.
      auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return generation_ != seen;
      };
      mu_.AwaitWithTimeout(absl::Condition(&changed), absl::Seconds(1));
      seen = generation_;
      status = Lookup(request->service());
      shutdown = shutdown_;
    }
    if (context->IsCancelled()) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    }
    if (first || status != last) {
      HealthCheckResponse response;
      response.set_status(status);
      if (!writer->Write(response)) return grpc::Status::OK;
      last = status;
      first = false;
    }
    if (shutdown) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "server shutting down");
    }
  }
}

}  // namespace sagaworks::server
