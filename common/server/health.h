// HealthService: grpc.health.v1.Health built from our own compiled proto, so
// that server reflection can describe it (gRPC's built-in health service
// cannot be described, and grpcurl then refuses to call it).
#ifndef SAGAWORKS_COMMON_SERVER_HEALTH_H_
#define SAGAWORKS_COMMON_SERVER_HEALTH_H_

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace sagaworks::server {

class HealthService final : public grpc::health::v1::Health::Service {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  // SetStatus sets one service's status; "" is the whole process.
  void SetStatus(const std::string& service, ServingStatus status);
  // SetAll sets every known service, and the process, to `status`.
  void SetAll(ServingStatus status);
  // Shutdown marks everything NOT_SERVING for good and ends Watch streams, so
  // the server can drain.
  void Shutdown();
  // AwaitWatchesTold waits, at most `limit`, until every Watch stream has
  // sent its last status and ended: then every client balancing over this
  // server's health has been told to stop sending it calls. True if so.
  bool AwaitWatchesTold(absl::Duration limit);
  // watches is how many Watch streams are open.
  int watches() const;

  grpc::Status Check(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override;
  grpc::Status Watch(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>*
                         writer) override;

 private:
  ServingStatus Lookup(const std::string& service) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, ServingStatus> statuses_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // bumped on every change
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  int watches_ ABSL_GUARDED_BY(mu_) = 0;  // Watch streams open
};

}  // namespace sagaworks::server

#endif  // SAGAWORKS_COMMON_SERVER_HEALTH_H_
