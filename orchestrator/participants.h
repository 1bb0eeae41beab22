// Participants: whatever makes a saga's calls, behind an interface so the
// runner can be driven by fakes in tests. BoundParticipants maps each call
// name of a definition to a binding; OrderSagaParticipants binds the order
// saga's calls to the services over gRPC.
#ifndef SAGAWORKS_ORCHESTRATOR_PARTICIPANTS_H_
#define SAGAWORKS_ORCHESTRATOR_PARTICIPANTS_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/resilience/client.h"
#include "orchestrator/engine/decide.h"
#include "orchestrator/engine/saga_definition.h"
#include "sagaworks/v1/inventory.grpc.pb.h"
#include "sagaworks/v1/orchestrator.pb.h"
#include "sagaworks/v1/order.grpc.pb.h"
#include "sagaworks/v1/payment.grpc.pb.h"
#include "sagaworks/v1/shipping.grpc.pb.h"

namespace sagaworks::orchestrator {

// SagaCallKey is the idempotency key of one saga call: the same for every
// retry of it, including after an orchestrator restart.
std::string SagaCallKey(const std::string& saga_id, const SagaCall& call);

// CallInput: everything a binding may use to make one call.
struct CallInput {
  const std::string& saga_id;
  const SagaCall& call;
  // The request that started the saga.
  const v1::StartSagaRequest& request;
  const SagaState& state;
  // No attempt outlives it (the step's deadline, or InfiniteFuture).
  absl::Time deadline;
  // SagaCallKey(saga_id, call).
  const std::string& idempotency_key;
};

struct CallResult {
  absl::Status status;
  // On success: the saga's new context, when the call changed it.
  std::optional<std::string> context;
};

using CallDone = std::function<void(CallResult)>;

class Participants {
 public:
  virtual ~Participants() = default;
  // Invoke makes the call and gives its result to `done` once it ended, on
  // any thread (`done` must not block); `input` stays valid until then.
  virtual void Invoke(const CallInput& input, CallDone done) = 0;
  // Binds tells whether the call `name` can be made at all.
  virtual bool Binds(const std::string& name) const = 0;
};

// CheckBindings refuses a definition with a call nobody makes, at start.
absl::Status CheckBindings(const SagaDefinition& definition,
                           const Participants& participants);

// A binding makes one call: AsyncBinding without holding the caller's
// thread, Binding on it.
using AsyncBinding = std::function<void(const CallInput&, CallDone)>;
using Binding = std::function<CallResult(const CallInput&)>;

class BoundParticipants : public Participants {
 public:
  void BindAsync(const std::string& name, AsyncBinding binding) {
    bindings_[name] = std::move(binding);
  }
  void Bind(const std::string& name, Binding binding);
  void Invoke(const CallInput& input, CallDone done) override;
  bool Binds(const std::string& name) const override {
    return bindings_.contains(name);
  }

 private:
  absl::flat_hash_map<std::string, AsyncBinding> bindings_;
};

struct ParticipantStubs {
  resilience::Client<v1::InventoryService::StubInterface> inventory;
  resilience::Client<v1::PaymentService::StubInterface> payment;
  resilience::Client<v1::ShippingService::StubInterface> shipping;
  resilience::Client<v1::OrderService::StubInterface> order;
};

// OrderSagaParticipants makes the order saga's calls over gRPC, each through
// its service's resilience pipeline, holding no thread while one is out.
std::unique_ptr<BoundParticipants> OrderSagaParticipants(
    ParticipantStubs stubs);

}  // namespace sagaworks::orchestrator

#endif  // SAGAWORKS_ORCHESTRATOR_PARTICIPANTS_H_
