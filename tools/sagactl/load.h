// Load: places orders on a running platform at a steady pace, for
// `sagactl load` (watch sagas while killing or slowing a service) and the
// throughput benchmark.
//
// Example:
//   LoadOptions o;  // 20 orders/s for 10 s, alice buys one widget each
//   return RunLoad(order_address, o, bearer, std::cout);
#ifndef SAGAWORKS_TOOLS_SAGACTL_LOAD_H_
#define SAGAWORKS_TOOLS_SAGACTL_LOAD_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sagaworks/v1/order.pb.h"

namespace sagaworks::sagactl {

// The deadline of each call the load generators (closed and open loop)
// make.
inline constexpr absl::Duration kLoadCallTimeout = absl::Seconds(10);

// MakeOrder builds the n-th order of a run.
using MakeOrder = std::function<v1::CreateOrderRequest(uint64_t n)>;
// BearerFor is the `authorization` value for calls as a customer ("" for
// none), as Platform::Bearer gives it.
using BearerFor =
    std::function<absl::StatusOr<std::string>(const std::string& customer)>;

struct DriveResult {
  int64_t failed = 0;                  // CreateOrder calls that failed
  std::string first_error;             // the first of them, for the reader
  std::vector<std::string> order_ids;  // accepted orders, when kept
  // With await_final: each accepted order's time from its CreateOrder call
  // to its final status as WatchOrder told it, and the watches that ended
  // without one (counted in `failed` too).
  std::vector<double> final_ms;
  int64_t unwatched = 0;
};

// DriveOrders places orders from `callers` threads until `until`. With a
// non-zero `interval` they place one order per interval between them (open
// loop: a slow platform does not slow the load); with zero each caller
// places its next order as soon as the last returns. `next` numbers the
// orders across runs; each order's idempotency key is `key_prefix` + n.
// Each order is placed as its customer, with `bearer`'s credentials. With
// `await_final` a caller watches each order it placed (WatchOrder) until it
// is final before placing the next: a closed loop, as clients that wait for
// their workflow's result.
DriveResult DriveOrders(const std::string& order_address, int callers,
                        absl::Time until, absl::Duration interval,
                        std::atomic<uint64_t>& next,
                        const std::string& key_prefix, const MakeOrder& make,
                        const BearerFor& bearer, bool keep_ids,
                        bool await_final = false);

// Percentile: the value at quantile `q` (0 to 1) of `sorted`, by nearest
// rank; 0 when it is empty.
double Percentile(const std::vector<double>& sorted, double q);

struct LoadOptions {
  double rate = 20;     // orders per second
  double seconds = 10;  // how long to place them
  int callers = 8;      // calls in flight at most
  std::string customer = "alice";
  std::string sku = "widget";
  int quantity = 1;
  std::string country = "DE";
  // How long to wait for the placed orders to leave PENDING.
  absl::Duration wait = absl::Seconds(60);

  absl::Status Validate() const;
};

// RunLoad places the orders, reports each second's progress, then waits for
// every order to end and reports how they ended and how long they took.
// Orders are placed as their customer, with `bearer`'s credentials. Returns 0
// when every order was accepted and ended, else 1.
int RunLoad(const std::string& order_address, const LoadOptions& options,
            const BearerFor& bearer, std::ostream& out);

}  // namespace sagaworks::sagactl

#endif  // SAGAWORKS_TOOLS_SAGACTL_LOAD_H_
