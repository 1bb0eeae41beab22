// Open-loop order load for GameDays and load scenarios: orders placed each
// in its own slot in time (a slow platform does not slow the load), each
// retried under its idempotency key as a client's retry policy would, then
// followed until it ends; money and stock read through the public APIs.
//
// Example:
//   OpenLoop load;  // 40 orders/s for 30 s as `gameday`, 1 x bolt each
//   std::vector<Placed> placed = PlaceOrders(target, load, bearer, start);
//   Ended ended = AwaitEnded(calls, placed, absl::Seconds(90));
#ifndef SAGAWORKS_TOOLS_SAGACTL_OPEN_LOOP_H_
#define SAGAWORKS_TOOLS_SAGACTL_OPEN_LOOP_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sagaworks/v1/inventory.grpc.pb.h"
#include "sagaworks/v1/order.grpc.pb.h"
#include "sagaworks/v1/payment.grpc.pb.h"
#include "tools/sagactl/platform.h"

namespace sagaworks::sagactl {

struct OpenLoop {
  double rate = 40;     // orders per second
  double seconds = 30;  // how long
  int callers = 16;     // orders in flight at most
  // Who orders what: the demo data's GameDay customer and part have money
  // and stock for any number of runs.
  std::string customer = "gameday";
  std::string sku = "bolt";
  // Calls per order at most, all under the order's idempotency key
  // (UNAVAILABLE, DEADLINE_EXCEEDED and ABORTED are retried).
  int attempts = 3;
  // Idempotency keys are this, the start time and the order's number.
  std::string key_prefix = "sagactl-load-";
};

// One order of the load, as its client saw it.
struct Placed {
  absl::Time at;  // its first call
  int attempts = 0;
  bool accepted = false;
  std::string order_id;
  std::string error;                             // the last refusal
  grpc::StatusCode code = grpc::StatusCode::OK;  // and its code
  absl::Duration call_time;  // from the first call to the last answer
};

// PlaceOrders places rate x seconds orders, the i-th at start + i / rate.
std::vector<Placed> PlaceOrders(const std::string& target, const OpenLoop& load,
                                const std::string& authorization,
                                absl::Time start);

// Calls reads what a customer (or an operator) may read through the public
// APIs: balances, stock and orders.
class Calls {
 public:
  Calls(Platform& platform, std::string authorization);

  absl::StatusOr<int64_t> Balance(const std::string& customer);
  absl::StatusOr<int64_t> Available(const std::string& sku);
  std::optional<v1::Order> Order(const std::string& id);

 private:
  void Prepare(grpc::ClientContext& c) const;

  const std::string authorization_;
  std::unique_ptr<v1::OrderService::Stub> orders_;
  std::unique_ptr<v1::PaymentService::Stub> payment_;
  std::unique_ptr<v1::InventoryService::Stub> inventory_;
};

// Ended: the accepted orders that reached a final status, by id, and those
// that did not within the wait (lost, for the reports).
struct Ended {
  std::map<std::string, v1::Order> final;
  std::vector<std::string> pending;
};

// AwaitEnded polls every accepted order until it ends or `wait` runs out.
Ended AwaitEnded(Calls& calls, const std::vector<Placed>& placed,
                 absl::Duration wait);

bool IsFinal(v1::OrderStatus status);
absl::Time TimeOf(const google::protobuf::Timestamp& t);
std::string Describe(const grpc::Status& s);

}  // namespace sagaworks::sagactl

#endif  // SAGAWORKS_TOOLS_SAGACTL_OPEN_LOOP_H_
