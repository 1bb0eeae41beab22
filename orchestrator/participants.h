// Participants: the calls the order saga makes to the other services, behind
// an interface so the runner can be driven by anything that answers them.
#ifndef SAGAWORKS_ORCHESTRATOR_PARTICIPANTS_H_
#define SAGAWORKS_ORCHESTRATOR_PARTICIPANTS_H_

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/resilience/client.h"
#include "orchestrator/order_saga.h"
#include "sagaworks/v1/inventory.grpc.pb.h"
#include "sagaworks/v1/orchestrator.pb.h"
#include "sagaworks/v1/order.grpc.pb.h"
#include "sagaworks/v1/payment.grpc.pb.h"
#include "sagaworks/v1/shipping.grpc.pb.h"

namespace sagaworks::orchestrator {

// SagaCallKey is the idempotency key of one saga call: the same for every
// retry of it, including after an orchestrator restart.
std::string SagaCallKey(const std::string& saga_id, const SagaCall& call);

struct CallResult {
  absl::Status status;
  // reserve_stock: the priced total.
  int64_t total_cents = 0;
};

class Participants {
 public:
  virtual ~Participants() = default;
  // Invoke makes `call` for saga `saga_id`'s order; no attempt outlives
  // `deadline` (the step's deadline, or InfiniteFuture).
  virtual CallResult Invoke(const std::string& saga_id, const SagaCall& call,
                            const v1::StartSagaRequest& order,
                            const SagaState& state, absl::Time deadline) = 0;
};

struct ParticipantStubs {
  resilience::Client<v1::InventoryService::StubInterface> inventory;
  resilience::Client<v1::PaymentService::StubInterface> payment;
  resilience::Client<v1::ShippingService::StubInterface> shipping;
  resilience::Client<v1::OrderService::StubInterface> order;
};

// GrpcParticipants makes the calls over gRPC, each through its service's
// resilience pipeline.
class GrpcParticipants final : public Participants {
 public:
  explicit GrpcParticipants(ParticipantStubs stubs)
      : stubs_(std::move(stubs)) {}
  CallResult Invoke(const std::string& saga_id, const SagaCall& call,
                    const v1::StartSagaRequest& order, const SagaState& state,
                    absl::Time deadline) override;

 private:
  ParticipantStubs stubs_;
};

}  // namespace sagaworks::orchestrator

#endif  // SAGAWORKS_ORCHESTRATOR_PARTICIPANTS_H_
