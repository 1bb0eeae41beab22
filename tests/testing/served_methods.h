// ServedMethods: every RPC the platform's processes serve, from the
// generated descriptors: each process's own service and those every process
// serves beside it (chaos, admin, health).
#ifndef SAGAWORKS_TESTS_TESTING_SERVED_METHODS_H_
#define SAGAWORKS_TESTS_TESTING_SERVED_METHODS_H_

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/platform/services.h"
#include "google/protobuf/descriptor.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "sagaworks/v1/admin.grpc.pb.h"
#include "sagaworks/v1/chaos.grpc.pb.h"
#include "sagaworks/v1/inventory.grpc.pb.h"
#include "sagaworks/v1/orchestrator.grpc.pb.h"
#include "sagaworks/v1/order.grpc.pb.h"
#include "sagaworks/v1/payment.grpc.pb.h"
#include "sagaworks/v1/shipping.grpc.pb.h"

namespace sagaworks::testing {

struct ServedMethod {
  const platform::ServiceInfo* process;
  std::string method;  // "/sagaworks.v1.PaymentService/Charge"
  const google::protobuf::MethodDescriptor* descriptor;
};

// ServedMethods lists them, process by process; a gRPC service missing from
// the descriptor pool is a test failure.
inline std::vector<ServedMethod> ServedMethods() {
  // A static link keeps only the proto files something refers to: one
  // message of each brings its services into the pool (a new service's
  // proto needs one here).
  for (const auto* linked :
       {v1::Order::descriptor(), v1::Balance::descriptor(),
        v1::Stock::descriptor(), v1::Shipment::descriptor(),
        v1::SagaStepEvent::descriptor(), v1::ChaosRule::descriptor(),
        v1::ResilienceStatus::descriptor(),
        grpc::health::v1::HealthCheckRequest::descriptor()}) {
    EXPECT_NE(linked, nullptr);
  }
  std::vector<ServedMethod> out;
  for (const platform::ServiceInfo& info : platform::Services()) {
    for (const std::string& name :
         {info.grpc_service, std::string(v1::ChaosService::service_full_name()),
          std::string(v1::AdminService::service_full_name()),
          std::string(grpc::health::v1::Health::service_full_name())}) {
      const google::protobuf::ServiceDescriptor* service =
          google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
              name);
      EXPECT_NE(service, nullptr)
          << name << " is not in the descriptor pool: is its .proto in "
          << "proto/CMakeLists.txt and one of its messages named above?";
      if (service == nullptr) continue;
      for (int i = 0; i < service->method_count(); ++i) {
        out.push_back({&info,
                       absl::StrCat("/", name, "/", service->method(i)->name()),
                       service->method(i)});
      }
    }
  }
  return out;
}

}  // namespace sagaworks::testing

#endif  // SAGAWORKS_TESTS_TESTING_SERVED_METHODS_H_
