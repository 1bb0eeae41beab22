// OtlpReceiver: an OTLP/gRPC trace receiver for tests, standing in for
// Jaeger: it keeps every span it is sent, with the service that sent it.
#ifndef SAGAWORKS_TESTS_TESTING_OTLP_RECEIVER_H_
#define SAGAWORKS_TESTS_TESTING_OTLP_RECEIVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

namespace sagaworks::testing {

struct ReceivedSpan {
  std::string service;  // the resource's service.name
  opentelemetry::proto::trace::v1::Span span;
};

class OtlpReceiver final
    : public opentelemetry::proto::collector::trace::v1::TraceService::Service {
 public:
  // Starts listening on a free loopback port.
  OtlpReceiver() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~OtlpReceiver() override { server_->Shutdown(); }

  int port() const { return port_; }

  grpc::Status Export(
      grpc::ServerContext*,
      const opentelemetry::proto::collector::trace::v1::
          ExportTraceServiceRequest* request,
      opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse*)
      override {
    absl::MutexLock lock(&mu_);
    for (const auto& rs : request->resource_spans()) {
      std::string service;
      for (const auto& kv : rs.resource().attributes()) {
        if (kv.key() == "service.name") service = kv.value().string_value();
      }
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) spans_.push_back({service, span});
      }
    }
    return grpc::Status::OK;
  }

  std::vector<ReceivedSpan> Spans() const {
    absl::MutexLock lock(&mu_);
    return spans_;
  }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  mutable absl::Mutex mu_;
  std::vector<ReceivedSpan> spans_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sagaworks::testing

#endif  // SAGAWORKS_TESTS_TESTING_OTLP_RECEIVER_H_
