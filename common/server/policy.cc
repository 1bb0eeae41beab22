#include "common/server/policy.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace sagaworks::server {
namespace {

using platform::Service;

std::vector<MethodPolicy> BuildPolicies() {
  const Service kOrchestrator = Service::kOrchestrator;
  const Service kOrder = Service::kOrder;
  auto platform = [](const char* service, const char* method, Service caller) {
    MethodPolicy p;
    p.method = absl::StrCat("/sagaworks.v1.", service, "/", method);
    p.workloads = {caller};
    return p;
  };
  auto people = [](const char* service, const char* method, Customers customers,
                   bool operators) {
    MethodPolicy p;
    p.method = absl::StrCat("/sagaworks.v1.", service, "/", method);
    p.customers = customers;
    p.operators = operators;
    return p;
  };
  // A read the order service also makes, checking a new order's customer
  // and items.
  auto checked_by_order = [&](MethodPolicy p) {
    p.workloads = {kOrder};
    return p;
  };
  auto operators = [&](const char* service, const char* method) {
    return people(service, method, Customers::kNone, true);
  };
  auto open = [](const char* method) {
    MethodPolicy p;
    p.method = method;
    p.open = true;
    return p;
  };
  return {
      // The customer's entry point; operators read, they do not order.
      people("OrderService", "CreateOrder", Customers::kOwn, false),
      people("OrderService", "GetOrder", Customers::kOwn, true),
      people("OrderService", "ListOrders", Customers::kOwn, true),
      people("OrderService", "CancelOrder", Customers::kOwn, false),
      people("OrderService", "WatchOrder", Customers::kOwn, true),
      platform("OrderService", "ApproveOrder", kOrchestrator),
      platform("OrderService", "RejectOrder", kOrchestrator),
      platform("OrderService", "HoldOrder", kOrchestrator),
      // Money and stock move only inside a saga.
      platform("PaymentService", "Charge", kOrchestrator),
      platform("PaymentService", "Refund", kOrchestrator),
      checked_by_order(
          people("PaymentService", "GetBalance", Customers::kOwn, true)),
      platform("InventoryService", "ReserveStock", kOrchestrator),
      platform("InventoryService", "ReleaseStock", kOrchestrator),
      checked_by_order(
          people("InventoryService", "GetStock", Customers::kAny, true)),
      platform("ShippingService", "CreateShipment", kOrchestrator),
      platform("ShippingService", "CancelShipment", kOrchestrator),
      people("ShippingService", "GetShipment", Customers::kOwn, true),
      platform("SagaOrchestrator", "StartSaga", kOrder),
      platform("SagaOrchestrator", "CancelSaga", kOrder),
      operators("SagaOrchestrator", "GetSaga"),
      operators("SagaOrchestrator", "ListSagas"),
      operators("SagaOrchestrator", "RetrySaga"),
      operators("SagaOrchestrator", "ResolveSaga"),
      operators("ChaosService", "SetChaos"),
      operators("ChaosService", "ClearChaos"),
      operators("ChaosService", "GetChaos"),
      operators("AdminService", "GetResilienceStatus"),
      open("/grpc.health.v1.Health/Check"),
      open("/grpc.health.v1.Health/Watch"),
      open("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"),
  };
}

}  // namespace

const std::vector<MethodPolicy>& Policies() {
  static const std::vector<MethodPolicy>* policies =
      new std::vector<MethodPolicy>(BuildPolicies());
  return *policies;
}

const MethodPolicy* FindPolicy(absl::string_view method) {
  static const std::map<std::string, const MethodPolicy*, std::less<>>* index =
      [] {
        auto* m = new std::map<std::string, const MethodPolicy*, std::less<>>;
        for (const MethodPolicy& p : Policies()) (*m)[p.method] = &p;
        return m;
      }();
  auto it = index->find(method);
  return it == index->end() ? nullptr : it->second;
}

std::string DescribeAllowed(const MethodPolicy& policy) {
  if (policy.open) return "anyone";
  std::vector<std::string> who;
  for (Service s : policy.workloads) {
    who.push_back(absl::StrCat("the ", platform::Info(s).name, " service"));
  }
  if (policy.customers == Customers::kAny) who.push_back("customers");
  if (policy.customers == Customers::kOwn) {
    who.push_back("customers, for their own data");
  }
  if (policy.operators) who.push_back("operators");
  return who.empty() ? "nobody" : absl::StrJoin(who, "; ");
}

absl::Status Check(absl::string_view method,
                   const security::Principal& caller) {
  using Kind = security::Principal::Kind;
  const MethodPolicy* policy = FindPolicy(method);
  if (policy == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat(method, " has no authorization policy: denied"));
  }
  bool allowed = policy->open;
  switch (caller.kind) {
    case Kind::kWorkload:
      allowed =
          allowed || std::any_of(policy->workloads.begin(),
                                 policy->workloads.end(), [&](Service s) {
                                   return platform::Info(s).name == caller.name;
                                 });
      break;
    case Kind::kCustomer:
      allowed = allowed || policy->customers != Customers::kNone;
      break;
    case Kind::kOperator:
      allowed = allowed || policy->operators;
      break;
    case Kind::kUnverified:
      // Only a process started with --insecure lets these in at all.
      allowed = true;
      break;
  }
  if (allowed) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat(caller.Key(), " may not call ", method,
                   "; allowed: ", DescribeAllowed(*policy)));
}

}  // namespace sagaworks::server
