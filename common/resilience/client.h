// Client: a generated stub together with the Downstream pipeline its calls go
// through, so a call site reads like a plain stub call:
//
//   Client<v1::PaymentService::StubInterface> payment{stub, downstream};
//   absl::Status s = payment.Call("Charge", options,
//       &v1::PaymentService::StubInterface::Charge, request, &charge);
//
// or, holding no thread while the call is out:
//
//   payment.CallAsync("Charge", options,
//       &v1::PaymentService::StubInterface::async_interface::Charge, request,
//       [](absl::Status s, v1::Charge& charge) { ... });
#ifndef SAGAWORKS_COMMON_RESILIENCE_CLIENT_H_
#define SAGAWORKS_COMMON_RESILIENCE_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>

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

  // CallAsync makes the call through Downstream::CallAsync; `done` gets the
  // final status and the response (on any thread; it must not block).
  template <typename Request, typename Response, typename Done>
  void CallAsync(const std::string& method, CallOptions options,
                 void (Stub::async_interface::*rpc)(
                     grpc::ClientContext*, const Request*, Response*,
                     std::function<void(grpc::Status)>),
                 Request request, Done done) {
    // The request and the response live until the call is over.
    auto exchange = std::make_shared<std::pair<Request, Response>>(
        std::move(request), Response());
    typename Stub::async_interface* async = stub->async();
    downstream->CallAsync(
        method, std::move(options),
        [async, rpc, exchange](grpc::ClientContext* context,
                               std::function<void(grpc::Status)> attempt_done) {
          exchange->second.Clear();
          (async->*rpc)(context, &exchange->first, &exchange->second,
                        std::move(attempt_done));
        },
        [exchange, done = std::move(done)](absl::Status status) {
          done(std::move(status), exchange->second);
        });
  }
};

}  // namespace sagaworks::resilience

#endif  // SAGAWORKS_COMMON_RESILIENCE_CLIENT_H_
