#include "tools/sagactl/load.h"

#include <algorithm>
#include <map>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/client/channel.h"
#include "common/enum_names.h"
#include "common/status.h"
#include "common/validation.h"
#include "google/protobuf/util/time_util.h"
#include "sagaworks/v1/order.grpc.pb.h"

namespace sagaworks::sagactl {
namespace {

using google::protobuf::util::TimeUtil;

void SetDeadline(grpc::ClientContext& c) {
  c.set_deadline(absl::ToChronoTime(absl::Now() + kLoadCallTimeout));
}

}  // namespace

double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t at = std::min(
      sorted.size() - 1, static_cast<size_t>(q * (sorted.size() - 1) + 0.5));
  return sorted[at];
}

namespace {

// AwaitFinal watches an order until WatchOrder ends it final; false when the
// stream ends without a final status.
bool AwaitFinal(v1::OrderService::Stub& stub, const std::string& order_id,
                const std::string& authorization) {
  grpc::ClientContext c;
  c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(2)));
  if (!authorization.empty()) c.AddMetadata("authorization", authorization);
  v1::WatchOrderRequest request;
  request.set_order_id(order_id);
  auto stream = stub.WatchOrder(&c, request);
  v1::Order seen;
  v1::OrderStatus last = v1::ORDER_STATUS_UNSPECIFIED;
  while (stream->Read(&seen)) last = seen.status();
  return stream->Finish().ok() && last != v1::ORDER_STATUS_PENDING &&
         last != v1::ORDER_STATUS_UNSPECIFIED;
}

}  // namespace

DriveResult DriveOrders(const std::string& order_address, int callers,
                        absl::Time until, absl::Duration interval,
                        std::atomic<uint64_t>& next,
                        const std::string& key_prefix, const MakeOrder& make,
                        const BearerFor& bearer, bool keep_ids,
                        bool await_final) {
  DriveResult result;
  absl::Mutex mu;
  std::atomic<int64_t> slot{0};
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int i = 0; i < callers; ++i) {
    threads.emplace_back([&, i] {
      auto stub = v1::OrderService::NewStub(DialReplicas(order_address, i));
      while (true) {
        if (interval > absl::ZeroDuration()) {
          // Each order has its own slot in time, however long earlier
          // calls took: the load does not back off when the platform slows.
          const absl::Time due = start + slot.fetch_add(1) * interval;
          if (due >= until) return;
          absl::SleepFor(due - absl::Now());
        } else if (absl::Now() >= until) {
          return;
        }
        const uint64_t n = next.fetch_add(1);
        const v1::CreateOrderRequest request = make(n);
        grpc::ClientContext c;
        SetDeadline(c);
        c.AddMetadata("idempotency-key", absl::StrCat(key_prefix, n));
        absl::StatusOr<std::string> authorization =
            bearer(request.customer_id());
        if (!authorization.ok()) {
          absl::MutexLock lock(&mu);
          if (result.failed++ == 0) {
            result.first_error = std::string(authorization.status().message());
          }
          continue;
        }
        if (!authorization->empty()) {
          c.AddMetadata("authorization", *authorization);
        }
        v1::Order order;
        const absl::Time placed = absl::Now();
        grpc::Status s = stub->CreateOrder(&c, request, &order);
        std::optional<bool> ended;
        if (s.ok() && await_final) {
          ended = AwaitFinal(*stub, order.order_id(), *authorization);
        }
        const double final_ms =
            absl::ToDoubleMilliseconds(absl::Now() - placed);
        absl::MutexLock lock(&mu);
        if (ended.has_value()) {
          if (*ended) {
            result.final_ms.push_back(final_ms);
          } else {
            ++result.unwatched;
            if (result.failed++ == 0) {
              result.first_error = "WatchOrder ended without a final status";
            }
          }
        }
        if (!s.ok()) {
          if (result.failed++ == 0) {
            result.first_error = absl::StrCat(
                StatusCodeName(static_cast<absl::StatusCode>(s.error_code())),
                ": ", s.error_message());
          }
        } else if (keep_ids) {
          result.order_ids.push_back(order.order_id());
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return result;
}

absl::Status LoadOptions::Validate() const {
  if (rate <= 0 || rate > 10000) {
    return absl::InvalidArgumentError("--rate must be in (0, 10000]");
  }
  if (seconds <= 0 || seconds > 3600) {
    return absl::InvalidArgumentError("--seconds must be in (0, 3600]");
  }
  if (callers < 1 || callers > 256) {
    return absl::InvalidArgumentError("--callers must be in [1, 256]");
  }
  v1::OrderItem item;
  item.set_sku(sku);
  item.set_quantity(quantity);
  google::protobuf::RepeatedPtrField<v1::OrderItem> items;
  *items.Add() = item;
  if (absl::Status s = ValidateName("customer_id", customer); !s.ok()) {
    return s;
  }
  return ValidateItems(items);
}

int RunLoad(const std::string& order_address, const LoadOptions& options,
            const BearerFor& bearer, std::ostream& out) {
  if (absl::Status s = options.Validate(); !s.ok()) {
    out << "sagactl load: " << s.message() << "\n";
    return 2;
  }
  const auto make = [&options](uint64_t) {
    v1::CreateOrderRequest r;
    r.set_customer_id(options.customer);
    v1::OrderItem* item = r.add_items();
    item->set_sku(options.sku);
    item->set_quantity(options.quantity);
    v1::Address* a = r.mutable_shipping_address();
    a->set_name("Load Test");
    a->set_line1("1 Load Street");
    a->set_city("Berlin");
    a->set_postal_code("10115");
    a->set_country(options.country);
    return r;
  };
  // Keys unique to this run, so a second run places new orders.
  const std::string prefix =
      absl::StrCat("sagactl-load-", absl::ToUnixMicros(absl::Now()), "-");
  std::atomic<uint64_t> next{0};
  const absl::Duration interval = absl::Seconds(1.0 / options.rate);
  out << absl::StrFormat(
      "placing %.0f orders/s for %.0f s (%s, %d x %s, to %s)\n", options.rate,
      options.seconds, options.customer, options.quantity, options.sku,
      options.country);
  const DriveResult placed =
      DriveOrders(order_address, options.callers,
                  absl::Now() + absl::Seconds(options.seconds), interval, next,
                  prefix, make, bearer, /*keep_ids=*/true);
  out << placed.order_ids.size() << " orders accepted, " << placed.failed
      << " refused" << (placed.failed > 0 ? " (first: " : "")
      << placed.first_error << (placed.failed > 0 ? ")" : "") << "\n";

  // Until every order ends, or the wait runs out.
  auto stub = v1::OrderService::NewStub(DialReplicas(order_address));
  std::map<std::string, v1::Order> ended;
  std::vector<std::string> pending = placed.order_ids;
  const absl::Time give_up = absl::Now() + options.wait;
  while (!pending.empty()) {
    std::vector<std::string> still;
    for (const std::string& id : pending) {
      grpc::ClientContext c;
      SetDeadline(c);
      v1::GetOrderRequest r;
      r.set_order_id(id);
      v1::Order order;
      if (stub->GetOrder(&c, r, &order).ok() &&
          order.status() != v1::ORDER_STATUS_PENDING) {
        ended[id] = order;
      } else {
        still.push_back(id);
      }
    }
    pending.swap(still);
    if (pending.empty() || absl::Now() > give_up) break;
    out << "  " << ended.size() << " ended, " << pending.size()
        << " still pending\n";
    absl::SleepFor(absl::Seconds(1));
  }
  std::map<std::string, int> by_status;
  std::vector<double> ms;
  for (const auto& [id, order] : ended) {
    ++by_status[ShortEnumName(order.status(),
                              v1::OrderStatus_Name<v1::OrderStatus>,
                              "ORDER_STATUS_")];
    ms.push_back(static_cast<double>(TimeUtil::DurationToMilliseconds(
        order.update_time() - order.create_time())));
  }
  std::sort(ms.begin(), ms.end());
  out << ended.size() << " ended:";
  for (const auto& [status, n] : by_status) out << " " << n << " " << status;
  out << "; " << pending.size() << " still pending\n";
  if (!ms.empty()) {
    out << absl::StrFormat(
        "order accepted to final: p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, "
        "max %.0f ms\n",
        Percentile(ms, 0.5), Percentile(ms, 0.9), Percentile(ms, 0.99),
        ms.back());
  }
  return placed.failed == 0 && pending.empty() ? 0 : 1;
}

}  // namespace sagaworks::sagactl
