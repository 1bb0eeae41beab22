#include "common/server/chaos_service.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/status.h"
#include "common/validation.h"
#include "google/protobuf/descriptor.h"

namespace sagaworks::server {

bool IsLocalPeer(const std::string& peer) {
  return absl::StartsWith(peer, "ipv4:127.") ||
         absl::StartsWith(peer, "ipv6:[::1]") ||
         absl::StartsWith(peer, "ipv6:[::ffff:127.") ||
         absl::StartsWith(peer, "unix:");
}

grpc::Status ChaosServiceImpl::Allowed(const grpc::ServerContext& context,
                                       const char* method) const {
  absl::StatusOr<security::Principal> caller = authorizer_.Authorize(
      context,
      absl::StrCat("/", v1::ChaosService::service_full_name(), "/", method));
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (!enabled_) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "fault injection is disabled; start the process with "
                        "--enable-chaos (sagactl up does)");
  }
  if (caller->kind == security::Principal::Kind::kUnverified &&
      !IsLocalPeer(context.peer())) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "without the trust boundary (--insecure), "
                        "ChaosService answers only callers on this machine");
  }
  return grpc::Status::OK;
}

absl::Status ChaosServiceImpl::Served(const std::string& method) const {
  if (method.empty()) return absl::OkStatus();
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          service_);
  std::vector<std::string> served;
  for (int i = 0; service != nullptr && i < service->method_count(); ++i) {
    served.push_back(
        absl::StrCat("/", service_, "/", service->method(i)->name()));
    if (served.back() == method) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("method '", CleanText(method, 200),
                   "' is not served here; this process serves ",
                   absl::StrJoin(served, ", ")));
}

grpc::Status ChaosServiceImpl::SetChaos(grpc::ServerContext* context,
                                        const v1::SetChaosRequest* request,
                                        v1::ChaosState* response) {
  if (grpc::Status s = Allowed(*context, "SetChaos"); !s.ok()) return s;
  if (!request->has_rule()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "rule is required");
  }
  absl::StatusCode code;
  absl::Status s = resilience::ValidateChaosRule(request->rule(), &code);
  if (s.ok()) s = Served(request->rule().method());
  if (s.ok()) s = injector_.Set(request->rule());
  if (!s.ok()) {
    return ToGrpcStatus(s);
  }
  LogWarning("fault injection rule set: " + request->rule().ShortDebugString());
  *response = injector_.State();
  return grpc::Status::OK;
}

grpc::Status ChaosServiceImpl::ClearChaos(grpc::ServerContext* context,
                                          const v1::ClearChaosRequest* request,
                                          v1::ChaosState* response) {
  if (grpc::Status s = Allowed(*context, "ClearChaos"); !s.ok()) return s;
  if (absl::Status s = Served(request->method()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  injector_.Clear(request->method());
  LogInfo("fault injection cleared" + (request->method().empty()
                                           ? std::string()
                                           : " for " + request->method()));
  *response = injector_.State();
  return grpc::Status::OK;
}

grpc::Status ChaosServiceImpl::GetChaos(grpc::ServerContext* context,
                                        const v1::GetChaosRequest*,
                                        v1::ChaosState* response) {
  if (grpc::Status s = Allowed(*context, "GetChaos"); !s.ok()) return s;
  *response = injector_.State();
  return grpc::Status::OK;
}

}  // namespace sagaworks::server
