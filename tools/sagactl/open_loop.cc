#include "tools/sagactl/open_loop.h"

#include <atomic>
#include <cmath>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/client/channel.h"
#include "common/status.h"
#include "google/protobuf/util/time_util.h"
#include "tools/sagactl/load.h"

namespace sagaworks::sagactl {
namespace {

using platform::Service;

bool Retryable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE ||
         code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::ABORTED;
}

}  // namespace

std::string Describe(const grpc::Status& s) {
  return absl::StrCat(
      StatusCodeName(static_cast<absl::StatusCode>(s.error_code())), ": ",
      s.error_message());
}

bool IsFinal(v1::OrderStatus status) {
  return status != v1::ORDER_STATUS_PENDING &&
         status != v1::ORDER_STATUS_UNSPECIFIED;
}

absl::Time TimeOf(const google::protobuf::Timestamp& t) {
  return absl::FromUnixNanos(
      google::protobuf::util::TimeUtil::TimestampToNanoseconds(t));
}

std::vector<Placed> PlaceOrders(const std::string& target, const OpenLoop& load,
                                const std::string& authorization,
                                absl::Time start) {
  const int total = static_cast<int>(std::lround(load.rate * load.seconds));
  std::vector<Placed> placed(static_cast<size_t>(total));
  const std::string prefix =
      absl::StrCat(load.key_prefix, absl::ToUnixMicros(start), "-");
  std::atomic<int> next{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < load.callers; ++c) {
    callers.emplace_back([&, c] {
      auto stub = v1::OrderService::NewStub(DialReplicas(target, c));
      for (int i = next++; i < total; i = next++) {
        absl::SleepFor(start + absl::Seconds(i / load.rate) - absl::Now());
        Placed& p = placed[static_cast<size_t>(i)];
        p.at = absl::Now();
        v1::CreateOrderRequest request;
        request.set_customer_id(load.customer);
        v1::OrderItem* item = request.add_items();
        item->set_sku(load.sku);
        item->set_quantity(1);
        v1::Address* a = request.mutable_shipping_address();
        a->set_name("Load Test");
        a->set_line1("1 Load Street");
        a->set_city("Berlin");
        a->set_postal_code("10115");
        a->set_country("DE");
        for (p.attempts = 1;; ++p.attempts) {
          grpc::ClientContext context;
          context.set_deadline(
              absl::ToChronoTime(absl::Now() + kLoadCallTimeout));
          context.AddMetadata("idempotency-key", absl::StrCat(prefix, i));
          if (!authorization.empty()) {
            context.AddMetadata("authorization", authorization);
          }
          v1::Order order;
          const grpc::Status s = stub->CreateOrder(&context, request, &order);
          p.call_time = absl::Now() - p.at;
          if (s.ok()) {
            p.accepted = true;
            p.order_id = order.order_id();
            break;
          }
          p.error = Describe(s);
          p.code = s.error_code();
          if (!Retryable(s.error_code()) || p.attempts >= load.attempts) {
            break;
          }
          absl::SleepFor(absl::Milliseconds(200) * p.attempts);
        }
      }
    });
  }
  for (std::thread& t : callers) t.join();
  return placed;
}

Calls::Calls(Platform& platform, std::string authorization)
    : authorization_(std::move(authorization)),
      orders_(v1::OrderService::NewStub(
          DialReplicas(platform.Target(platform::Info(Service::kOrder))))),
      payment_(v1::PaymentService::NewStub(
          DialReplicas(platform.Target(platform::Info(Service::kPayment))))),
      inventory_(v1::InventoryService::NewStub(
          DialReplicas(platform.Target(platform::Info(Service::kInventory))))) {
}

void Calls::Prepare(grpc::ClientContext& c) const {
  c.set_deadline(absl::ToChronoTime(absl::Now() + kLoadCallTimeout));
  if (!authorization_.empty()) c.AddMetadata("authorization", authorization_);
}

absl::StatusOr<int64_t> Calls::Balance(const std::string& customer) {
  grpc::ClientContext c;
  Prepare(c);
  v1::GetBalanceRequest request;
  request.set_customer_id(customer);
  v1::Balance balance;
  grpc::Status s = payment_->GetBalance(&c, request, &balance);
  if (!s.ok()) return absl::UnavailableError(Describe(s));
  return balance.balance_cents();
}

absl::StatusOr<int64_t> Calls::Available(const std::string& sku) {
  grpc::ClientContext c;
  Prepare(c);
  v1::GetStockRequest request;
  request.set_sku(sku);
  v1::Stock stock;
  grpc::Status s = inventory_->GetStock(&c, request, &stock);
  if (!s.ok()) return absl::UnavailableError(Describe(s));
  return stock.available();
}

std::optional<v1::Order> Calls::Order(const std::string& id) {
  grpc::ClientContext c;
  Prepare(c);
  v1::GetOrderRequest request;
  request.set_order_id(id);
  v1::Order order;
  if (!orders_->GetOrder(&c, request, &order).ok()) return std::nullopt;
  return order;
}

Ended AwaitEnded(Calls& calls, const std::vector<Placed>& placed,
                 absl::Duration wait) {
  Ended ended;
  for (const Placed& p : placed) {
    if (p.accepted) ended.pending.push_back(p.order_id);
  }
  const absl::Time give_up = absl::Now() + wait;
  while (!ended.pending.empty()) {
    std::vector<std::string> still;
    for (const std::string& id : ended.pending) {
      std::optional<v1::Order> order = calls.Order(id);
      if (order.has_value() && IsFinal(order->status())) {
        ended.final[id] = *order;
      } else {
        still.push_back(id);
      }
    }
    ended.pending.swap(still);
    if (ended.pending.empty() || absl::Now() > give_up) break;
    absl::SleepFor(absl::Milliseconds(500));
  }
  return ended;
}

}  // namespace sagaworks::sagactl
