// ChaosServiceImpl: sets and clears fault-injection rules at run time. It
// refuses unless the process was started with --enable-chaos, and answers
// only operators (with --insecure, only callers on this machine): it is an
// operator's tool, not an API.
#ifndef SAGAWORKS_COMMON_SERVER_CHAOS_SERVICE_H_
#define SAGAWORKS_COMMON_SERVER_CHAOS_SERVICE_H_

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "common/resilience/chaos.h"
#include "common/server/authorizer.h"
#include "sagaworks/v1/chaos.grpc.pb.h"

namespace sagaworks::server {

// IsLocalPeer tells a loopback caller ("ipv4:127.0.0.1:5000",
// "ipv6:[::1]:5000").
bool IsLocalPeer(const std::string& peer);

class ChaosServiceImpl final : public v1::ChaosService::Service {
 public:
  // `service` is the process's own gRPC service ("sagaworks.v1.
  // PaymentService"), the one whose methods a rule may name.
  ChaosServiceImpl(resilience::FaultInjector& injector, bool enabled,
                   Authorizer& authorizer, std::string service)
      : injector_(injector),
        enabled_(enabled),
        authorizer_(authorizer),
        service_(std::move(service)) {}

  grpc::Status SetChaos(grpc::ServerContext* context,
                        const v1::SetChaosRequest* request,
                        v1::ChaosState* response) override;
  grpc::Status ClearChaos(grpc::ServerContext* context,
                          const v1::ClearChaosRequest* request,
                          v1::ChaosState* response) override;
  grpc::Status GetChaos(grpc::ServerContext* context,
                        const v1::GetChaosRequest* request,
                        v1::ChaosState* response) override;

 private:
  grpc::Status Allowed(const grpc::ServerContext& context,
                       const char* method) const;
  // Served refuses a rule's method unless it is empty (all) or one of
  // service_'s.
  absl::Status Served(const std::string& method) const;

  resilience::FaultInjector& injector_;
  const bool enabled_;
  Authorizer& authorizer_;
  const std::string service_;
};

}  // namespace sagaworks::server

#endif  // SAGAWORKS_COMMON_SERVER_CHAOS_SERVICE_H_
