// Order helpers the end-to-end suites share.
#ifndef SAGAWORKS_TESTS_TESTING_ORDERS_H_
#define SAGAWORKS_TESTS_TESTING_ORDERS_H_

#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "sagaworks/v1/order.grpc.pb.h"

namespace sagaworks::testing {

// AwaitOrderLeaves polls GetOrder until the order's status is no longer
// `from`, for at most `limit`; the order as last seen.
inline v1::Order AwaitOrderLeaves(v1::OrderService::StubInterface& orders,
                                  const std::string& order_id,
                                  v1::OrderStatus from,
                                  absl::Duration limit = absl::Seconds(30)) {
  const absl::Time deadline = absl::Now() + limit;
  v1::Order order;
  while (absl::Now() < deadline) {
    grpc::ClientContext c;
    c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::GetOrderRequest r;
    r.set_order_id(order_id);
    if (orders.GetOrder(&c, r, &order).ok() && order.status() != from) {
      return order;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  ADD_FAILURE() << "order " << order_id << " still "
                << v1::OrderStatus_Name(from) << " after "
                << absl::FormatDuration(limit);
  return order;
}

// AwaitOrderFinal polls GetOrder until the order leaves PENDING.
inline v1::Order AwaitOrderFinal(v1::OrderService::StubInterface& orders,
                                 const std::string& order_id,
                                 absl::Duration limit = absl::Seconds(30)) {
  return AwaitOrderLeaves(orders, order_id, v1::ORDER_STATUS_PENDING, limit);
}

}  // namespace sagaworks::testing

#endif  // SAGAWORKS_TESTS_TESTING_ORDERS_H_
