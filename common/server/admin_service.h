// AdminServiceImpl: reports the process's resilience state: each downstream's
// breakers and counters, and what its own guard refused.
#ifndef SAGAWORKS_COMMON_SERVER_ADMIN_SERVICE_H_
#define SAGAWORKS_COMMON_SERVER_ADMIN_SERVICE_H_

#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/observability/metrics.h"
#include "common/resilience/downstream.h"
#include "common/server/guard.h"
#include "sagaworks/v1/admin.grpc.pb.h"

namespace sagaworks::server {

// DescribeDownstream is one downstream's status as the API shows it.
v1::DownstreamStatus DescribeDownstream(resilience::Downstream& downstream);

class AdminServiceImpl final : public v1::AdminService::Service {
 public:
  AdminServiceImpl(const ServerGuard& guard, Authorizer& authorizer)
      : guard_(guard), authorizer_(authorizer) {}

  // Track adds a downstream to report; it must outlive this service.
  void Track(resilience::Downstream* downstream);

  // ExportMetrics publishes what this service reports (breakers, retries,
  // rejections) and the trace exporter's counters in `registry`, read at
  // each scrape.
  void ExportMetrics(metrics::Registry& registry);

  grpc::Status GetResilienceStatus(
      grpc::ServerContext* context,
      const v1::GetResilienceStatusRequest* request,
      v1::ResilienceStatus* response) override;

 private:
  void Describe(v1::ResilienceStatus* response);

  const ServerGuard& guard_;
  Authorizer& authorizer_;
  absl::Mutex mu_;
  std::vector<resilience::Downstream*> downstreams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sagaworks::server

#endif  // SAGAWORKS_COMMON_SERVER_ADMIN_SERVICE_H_
