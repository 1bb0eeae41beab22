// Client: a generated stub together with the Downstream pipeline its calls go
// through, so a call site reads like a plain stub call:
//
//   Client<v1::PaymentService::StubInterface> payment{stub, downstream};
//   absl::Status s = payment.Call("Charge", options,
//       &v1::PaymentService::StubInterface::Charge, request, &charge);
#ifndef SAGAWORKS_COMMON_RESILIENCE_CLIENT_H_
#define SAGAWORKS_COMMON_RESILIENCE_CLIENT_H_

#include <memory>
#include <string>

#include "common/resilience/downstream.h"

namespace sagaworks::resilience {

template <typename Stub>
struct Client {
  std::unique_ptr<Stub> stub;
  std::unique_ptr<Downstream> downstream;

  template <typename Request, typename Response>
  absl::Status Call(const std::string& method, const CallOptions& options,
                    grpc::Status (Stub::*rpc)(grpc::ClientContext*,
                                              const Request&, Response*),
                    const Request& request, Response* response) {
    return downstream->Call(method, options, [&](grpc::ClientContext& ctx) {
      return (stub.get()->*rpc)(&ctx, request, response);
    });
  }
};

}  // namespace sagaworks::resilience

#endif  // SAGAWORKS_COMMON_RESILIENCE_CLIENT_H_
