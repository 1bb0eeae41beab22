#include "services/order/order_service.h"

#include <algorithm>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/enum_names.h"
#include "common/grpc_reply.h"
#include "common/log.h"
#include "common/observability/metrics.h"
#include "common/observability/trace.h"
#include "common/page_token.h"
#include "common/platform/services.h"
#include "common/status.h"
#include "common/validation.h"
#include "google/protobuf/util/time_util.h"

namespace sagaworks::order {

absl::Status WatchConfig::Validate() const {
  if (poll_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("watch poll interval must be positive");
  }
  if (max_lifetime <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--watch-max-seconds must be positive");
  }
  if (max_per_caller < 1) {
    return absl::InvalidArgumentError(
        "--max-watches-per-caller must be at least 1");
  }
  return absl::OkStatus();
}
namespace {

// A rejected or held order's reason, as stored and shown.
constexpr size_t kMaxReasonBytes = 1000;

bool IsFinal(v1::OrderStatus status) {
  return status == v1::ORDER_STATUS_APPROVED ||
         status == v1::ORDER_STATUS_REJECTED ||
         status == v1::ORDER_STATUS_CANCELLED ||
         status == v1::ORDER_STATUS_NEEDS_ATTENTION;
}

// A lookup that did not answer (down, slow, shedding load) proves nothing.
bool IsInconclusive(const absl::Status& status) {
  return !status.ok() && !absl::IsNotFound(status) &&
         !absl::IsInvalidArgument(status);
}

// ValidateOutcome checks what the orchestrator reports for an order.
absl::Status ValidateOutcome(const std::string& order_id, int64_t total_cents,
                             const std::string& saga_id) {
  if (absl::Status s = ValidateUuid("order_id", order_id); !s.ok()) return s;
  // Empty from an orchestrator that does not send it.
  if (!saga_id.empty()) {
    if (absl::Status s = ValidateUuid("saga_id", saga_id); !s.ok()) return s;
  }
  if (total_cents < 0) {
    return absl::InvalidArgumentError("total_cents must not be negative");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateCreateOrder(const v1::CreateOrderRequest& request) {
  if (absl::Status s = ValidateName("customer_id", request.customer_id());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateItems(request.items()); !s.ok()) return s;
  if (!request.has_shipping_address()) {
    return absl::InvalidArgumentError("shipping_address is required");
  }
  return ValidateAddress(request.shipping_address());
}

absl::Status CatalogConfig::Validate() const {
  if (fresh < absl::ZeroDuration() || stale < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--catalog-cache-seconds and --catalog-stale-seconds must not be "
        "negative");
  }
  if (max_entries < 1) {
    return absl::InvalidArgumentError("the catalog cache needs a size");
  }
  return absl::OkStatus();
}

CatalogCheck::CatalogCheck(
    resilience::Client<v1::InventoryService::StubInterface> inventory,
    resilience::Client<v1::PaymentService::StubInterface> payment,
    absl::Duration timeout, CatalogConfig config, Clock& clock)
    : inventory_(std::move(inventory)),
      payment_(std::move(payment)),
      timeout_(timeout),
      config_(config),
      known_customers_(
          {std::max(config.fresh, config.stale), config.max_entries}, clock),
      known_skus_({std::max(config.fresh, config.stale), config.max_entries},
                  clock) {}

absl::Status CatalogCheck::Confirm(
    const char* what, const std::string& name, const char* service,
    ExpiringSet& known, resilience::CallOptions options,
    const std::function<absl::Status(const resilience::CallOptions&)>& ask) {
  if (known.ContainsWithin(name, config_.fresh)) return absl::OkStatus();
  bool stale = false;
  // The resilience library's fallback: the call's final failure, after its
  // retries or from an open breaker, is answered from what was confirmed
  // before.
  options.fallback = [&](const absl::Status& failure) -> absl::Status {
    if (!IsInconclusive(failure)) return failure;
    if (!known.ContainsWithin(name, config_.stale)) {
      return absl::UnavailableError(absl::StrCat(
          service, " cannot confirm ", what, " '", name,
          "' now, and did not within the last ",
          absl::FormatDuration(config_.stale), ": ", failure.message()));
    }
    stale = true;
    static metrics::Family& answers = metrics::Registry::Default().Counter(
        "sagaworks_catalog_stale_answers_total",
        "Orders let through on a customer or SKU confirmed within the stale "
        "window, its service not answering.",
        {"what"});
    answers.With({what}).Add(1);
    LogWarning(absl::StrCat(what, " '", name, "' taken as confirmed earlier: ",
                            service, " does not answer: ", failure.message()));
    if (trace::Tracer::Get().exporting() && trace::CurrentContext().sampled()) {
      auto span = trace::Tracer::Get().StartSpan(
          absl::StrCat("catalog.confirm_", what), trace::SpanKind::kInternal);
      span->AddEvent(
          "catalog.stale_answer",
          {{"sagaworks.catalog.what", std::string(what)},
           {"sagaworks.catalog.service", std::string(service)},
           {"sagaworks.catalog.error", std::string(failure.message())}});
    }
    return absl::OkStatus();
  };
  absl::Status s = ask(options);
  if (s.ok() && !stale) known.Insert(name);
  return s;
}

absl::Status CatalogCheck::Check(const v1::CreateOrderRequest& request,
                                 absl::Time inbound_deadline) {
  resilience::CallOptions options;
  options.idempotent = true;  // reads
  options.deadline = std::min(absl::Now() + timeout_, inbound_deadline);
  if (absl::Status s = Confirm(
          "customer", request.customer_id(), "payment", known_customers_,
          options,
          [&](const resilience::CallOptions& o) {
            v1::GetBalanceRequest customer;
            customer.set_customer_id(request.customer_id());
            v1::Balance balance;
            return payment_.Call("GetBalance", o,
                                 &v1::PaymentService::StubInterface::GetBalance,
                                 customer, &balance);
          });
      !s.ok()) {
    return s;
  }
  for (const v1::OrderItem& item : request.items()) {
    if (absl::Status s = Confirm(
            "sku", item.sku(), "inventory", known_skus_, options,
            [&](const resilience::CallOptions& o) {
              v1::GetStockRequest sku;
              sku.set_sku(item.sku());
              v1::Stock stock;
              return inventory_.Call(
                  "GetStock", o, &v1::InventoryService::StubInterface::GetStock,
                  sku, &stock);
            });
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

namespace {

// ObserveFinal records how long `order` took from CreateOrder to its final
// status, by that status: the customers' view of a saga (and an SLI).
void ObserveFinal(const v1::Order& order) {
  static metrics::Family& final_seconds =
      metrics::Registry::Default().Histogram(
          "sagaworks_order_final_seconds",
          "Time from an order's creation to its final status, by that "
          "status (approved, rejected, cancelled).",
          {"status"},
          {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300});
  const absl::Duration took =
      absl::FromUnixNanos(
          google::protobuf::util::TimeUtil::TimestampToNanoseconds(
              order.update_time())) -
      absl::FromUnixNanos(
          google::protobuf::util::TimeUtil::TimestampToNanoseconds(
              order.create_time()));
  final_seconds
      .Histogram(
          {ShortEnumName(order.status(), v1::OrderStatus_Name<v1::OrderStatus>,
                         "ORDER_STATUS_")})
      .Observe(absl::ToDoubleSeconds(std::max(took, absl::ZeroDuration())));
}

}  // namespace

std::string FailureCategory(const std::string& reason) {
  if (reason.empty()) return "";
  if (absl::StartsWith(reason, "cancelled")) return "cancelled";
  // A refusal (FAILED_PRECONDITION) of a step is the business answer of
  // that step; anything else is the platform's failure, not the customer's.
  static const auto* kRefusals =
      new std::vector<std::pair<std::string, std::string>>{
          {"reserve_stock: FAILED_PRECONDITION:", "out of stock"},
          {"charge_payment: FAILED_PRECONDITION:", "insufficient funds"},
          {"create_shipment: FAILED_PRECONDITION:", "undeliverable address"}};
  for (const auto& [prefix, category] : *kRefusals) {
    if (absl::StartsWith(reason, prefix)) return category;
  }
  return "internal error";
}

namespace {

// ForCaller is `order` as the caller is told it: a customer reads why it
// failed as a category only.
void ForCaller(v1::Order& order) {
  if (server::Caller().kind == security::Principal::Kind::kCustomer) {
    order.set_failure_reason(FailureCategory(order.failure_reason()));
  }
}

// Visible is `order` as the caller may see it: another customer's order reads
// as one that does not exist.
absl::StatusOr<v1::Order> Visible(absl::StatusOr<v1::Order> order) {
  if (order.ok() && !server::Caller().MaySee(order->customer_id())) {
    return OrderNotFound(order->order_id());
  }
  if (order.ok()) ForCaller(*order);
  return order;
}

}  // namespace

grpc::Status OrderServiceImpl::CreateOrder(
    grpc::ServerContext* context, const v1::CreateOrderRequest* request,
    v1::Order* response) {
  return guard_.Run(context, "CreateOrder", [&]() -> grpc::Status {
    if (absl::Status s = ValidateCreateOrder(*request); !s.ok()) {
      return ToGrpcStatus(s);
    }
    if (!server::Caller().MaySee(request->customer_id())) {
      return grpc::Status(
          grpc::StatusCode::PERMISSION_DENIED,
          absl::StrCat(server::Caller().Key(),
                       " may order only as itself, not as customer_id ",
                       request->customer_id()));
    }
    const v1::Order planned = PlannedOrder(*request, clock_.Now());
    const idempotency::OneStatement once{
        planned,
        [&](pqxx::transaction_base& tx, const idempotency::StoredKey& k) {
          return store_.CreateOnce(tx, k, planned);
        }};
    grpc::Status status = idempotency_.Run<v1::Order>(
        context, "CreateOrder", *request, response, &once,
        [&](pqxx::work& tx) { return store_.CreateIn(tx, planned); },
        // Look-ups in other services stay outside the transaction, and a
        // replay skips them.
        [&] {
          return catalog_.Check(*request,
                                resilience::InboundDeadline(*context));
        });
    // This call's order committed, with its outbox row: hand it to the relay
    // at once. Its id is new, so an answer with another one is a replay, and
    // a write that lost to a concurrent call with the same key was rolled
    // back before the replay. (An order committed without an answer, say on
    // a lost connection, goes out after the relay's next read of the table.)
    if (status.ok() && response->order_id() == planned.order_id()) {
      relay_.Offer({/*attempts=*/0, planned, trace::CurrentTraceparent()});
    }
    ForCaller(*response);
    return status;
  });
}

grpc::Status OrderServiceImpl::GetOrder(grpc::ServerContext* context,
                                        const v1::GetOrderRequest* request,
                                        v1::Order* response) {
  return guard_.Run(context, "GetOrder", [&]() -> grpc::Status {
    if (absl::Status s = ValidateUuid("order_id", request->order_id());
        !s.ok()) {
      return ToGrpcStatus(s);
    }
    return Reply(Visible(store_.Get(request->order_id())), response);
  });
}

grpc::Status OrderServiceImpl::ListOrders(grpc::ServerContext* context,
                                          const v1::ListOrdersRequest* request,
                                          v1::ListOrdersResponse* response) {
  return guard_.Run(context, "ListOrders", [&]() -> grpc::Status {
    if (!request->customer_id().empty()) {
      if (absl::Status s = ValidateName("customer_id", request->customer_id());
          !s.ok()) {
        return ToGrpcStatus(s);
      }
    }
    if (!v1::OrderStatus_IsValid(request->status())) {
      return ToGrpcStatus(absl::InvalidArgumentError("status is not valid"));
    }
    const security::Principal& caller = server::Caller();
    v1::ListOrdersRequest asked = *request;
    if (caller.kind == security::Principal::Kind::kCustomer) {
      if (asked.customer_id().empty()) asked.set_customer_id(caller.name);
      if (!caller.MaySee(asked.customer_id())) {
        return grpc::Status(
            grpc::StatusCode::PERMISSION_DENIED,
            absl::StrCat(caller.Key(), " may list only its own orders, not ",
                         asked.customer_id(), "'s"));
      }
    }
    absl::StatusOr<int> page_size = ClampPageSize(request->page_size());
    if (!page_size.ok()) return ToGrpcStatus(page_size.status());
    grpc::Status listed = Reply(store_.List(asked, *page_size), response);
    for (v1::Order& order : *response->mutable_orders()) ForCaller(order);
    return listed;
  });
}

grpc::Status OrderServiceImpl::CancelOrder(
    grpc::ServerContext* context, const v1::CancelOrderRequest* request,
    v1::Order* response) {
  return guard_.Run(context, "CancelOrder", [&]() -> grpc::Status {
    if (absl::Status s = ValidateCancel(request->order_id(), request->reason());
        !s.ok()) {
      return ToGrpcStatus(s);
    }
    // The saga does the cancelling (it alone knows which steps to undo);
    // this service asks it first, then answers with the order as it stands.
    // The order turns CANCELLED once the compensations are done.
    auto ask_saga = [&]() -> absl::Status {
      absl::StatusOr<v1::Order> order =
          Visible(store_.Get(request->order_id()));
      if (!order.ok()) return order.status();
      if (order->status() == v1::ORDER_STATUS_REJECTED ||
          order->status() == v1::ORDER_STATUS_CANCELLED) {
        return absl::FailedPreconditionError(absl::StrCat(
            "order ", request->order_id(), " is already ",
            order->status() == v1::ORDER_STATUS_REJECTED ? "rejected"
                                                         : "cancelled"));
      }
      resilience::CallOptions options;
      options.idempotent = true;
      options.deadline = resilience::InboundDeadline(*context);
      options.metadata = {
          {"idempotency-key",
           absl::StrCat("order:", request->order_id(), ":cancel")}};
      v1::CancelSagaRequest cancel;
      cancel.set_order_id(request->order_id());
      cancel.set_reason(request->reason());
      v1::Saga saga;
      absl::Status s = orchestrator_.Call(
          "CancelSaga", options,
          &v1::SagaOrchestrator::StubInterface::CancelSaga, cancel, &saga);
      // UNAVAILABLE while the outbox has not handed the order over yet: the
      // caller retries with the same key.
      return s;
    };
    grpc::Status cancelled = idempotency_.Run<v1::Order>(
        context, "CancelOrder", *request, response,
        [&](pqxx::work& tx) { return store_.GetIn(tx, request->order_id()); },
        ask_saga, idempotency::Idempotency::Precheck::kActs);
    ForCaller(*response);
    return cancelled;
  });
}

void OrderServiceImpl::Changed(const std::string& order_id) {
  absl::MutexLock lock(&watch_mu_);
  auto it = watched_.find(order_id);
  if (it != watched_.end()) ++it->second.changes;
}

grpc::Status OrderServiceImpl::WatchOrder(
    grpc::ServerContext* context, const v1::WatchOrderRequest* request,
    grpc::ServerWriter<v1::Order>* writer) {
  return guard_.Run(context, "WatchOrder", [&]() -> grpc::Status {
    if (absl::Status s = ValidateUuid("order_id", request->order_id());
        !s.ok()) {
      return ToGrpcStatus(s);
    }
    const std::string caller = server::CallerKey(*context);
    {
      absl::MutexLock lock(&watch_mu_);
      int& open = watches_[caller];
      if (open >= watch_.max_per_caller) {
        if (open == 0) watches_.erase(caller);
        return grpc::Status(
            grpc::StatusCode::RESOURCE_EXHAUSTED,
            absl::StrCat(caller, " has ", watch_.max_per_caller,
                         " WatchOrder streams open, the most allowed"));
      }
      ++open;
    }
    const std::string& order_id = request->order_id();
    // Changes are counted from before the first read: one after a read
    // wakes the wait that follows it.
    int64_t seen_changes;
    {
      absl::MutexLock lock(&watch_mu_);
      Watched& watched = watched_[order_id];
      ++watched.watches;
      seen_changes = watched.changes;
    }
    absl::Cleanup release = [&] {
      absl::MutexLock lock(&watch_mu_);
      if (--watches_[caller] <= 0) watches_.erase(caller);
      if (--watched_[order_id].watches <= 0) watched_.erase(order_id);
    };
    const absl::Time ends = absl::Now() + watch_.max_lifetime;
    v1::OrderStatus sent = v1::ORDER_STATUS_UNSPECIFIED;
    while (true) {
      absl::StatusOr<v1::Order> order =
          Visible(store_.Get(request->order_id()));
      if (!order.ok()) return ToGrpcStatus(order.status());
      if (order->status() != sent) {
        sent = order->status();
        if (!writer->Write(*order)) return grpc::Status::OK;  // client left
      }
      if (IsFinal(sent)) return grpc::Status::OK;
      if (context->IsCancelled()) {
        return grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled");
      }
      if (stopping_) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            "order service is shutting down; watch again");
      }
      if (absl::Now() >= ends) {
        return grpc::Status(
            grpc::StatusCode::UNAVAILABLE,
            absl::StrCat("watch open for its longest, ",
                         absl::FormatDuration(watch_.max_lifetime),
                         "; watch again"));
      }
      // Woken by this process's own change of the order; the poll sees a
      // change another replica made.
      absl::MutexLock lock(&watch_mu_);
      auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(watch_mu_) {
        return stopping_ || watched_[order_id].changes != seen_changes;
      };
      watch_mu_.AwaitWithTimeout(absl::Condition(&changed),
                                 watch_.poll_interval);
      seen_changes = watched_[order_id].changes;
    }
  });
}

grpc::Status OrderServiceImpl::ApproveOrder(
    grpc::ServerContext* context, const v1::ApproveOrderRequest* request,
    v1::Order* response) {
  return guard_.Run(context, "ApproveOrder", [&]() -> grpc::Status {
    if (absl::Status s = ValidateOutcome(
            request->order_id(), request->total_cents(), request->saga_id());
        !s.ok()) {
      return ToGrpcStatus(s);
    }
    // The order first (remembered, or read), so that the approval and its
    // key can go in one statement. With no plan (a read error, an order not
    // PENDING) the full path decides.
    absl::StatusOr<std::optional<v1::Order>> plan =
        store_.PlanApproval(request->order_id(), request->total_cents(),
                            request->saga_id(), clock_.Now());
    // Set when this call, not a replay of an earlier one, moved the order.
    bool moved = false;
    std::optional<idempotency::OneStatement> once;
    if (plan.ok() && plan->has_value()) {
      const v1::Order& planned = **plan;
      once.emplace(idempotency::OneStatement{
          planned,
          [&](pqxx::transaction_base& tx, const idempotency::StoredKey& k) {
            moved = true;
            return store_.ApproveOnce(tx, k, planned);
          }});
    }
    // The key is checked against what is asked, not which saga asks: an
    // orchestrator from before saga_id existed retries the same call without
    // it.
    v1::ApproveOrderRequest asked = *request;
    asked.clear_saga_id();
    grpc::Status status = idempotency_.Run<v1::Order>(
        context, "ApproveOrder", {asked, *request}, response,
        once.has_value() ? &*once : nullptr, [&](pqxx::work& tx) {
          moved = true;
          return store_.ApproveIn(tx, request->order_id(),
                                  request->total_cents(), request->saga_id());
        });
    if (status.ok()) {
      Changed(request->order_id());
      if (moved) ObserveFinal(*response);
    }
    return status;
  });
}

grpc::Status OrderServiceImpl::RejectOrder(
    grpc::ServerContext* context, const v1::RejectOrderRequest* request,
    v1::Order* response) {
  return guard_.Run(context, "RejectOrder", [&]() -> grpc::Status {
    if (absl::Status s = ValidateOutcome(
            request->order_id(), request->total_cents(), request->saga_id());
        !s.ok()) {
      return ToGrpcStatus(s);
    }
    // Reasons come from downstream errors: made storable and bounded (on a
    // character boundary), not refused, or the saga could not end.
    std::string reason = CleanText(request->reason(), kMaxReasonBytes);
    if (reason.empty()) reason = "rejected";
    v1::RejectOrderRequest asked = *request;  // as for ApproveOrder
    asked.clear_saga_id();
    bool moved = false;  // as in ApproveOrder
    grpc::Status status = idempotency_.Run<v1::Order>(
        context, "RejectOrder", {asked, *request}, response,
        [&](pqxx::work& tx) {
          moved = true;
          return store_.RejectIn(tx, request->order_id(), reason,
                                 request->total_cents(), request->cancelled(),
                                 request->saga_id());
        });
    if (status.ok()) {
      Changed(request->order_id());
      if (moved) ObserveFinal(*response);
    }
    return status;
  });
}

grpc::Status OrderServiceImpl::HoldOrder(grpc::ServerContext* context,
                                         const v1::HoldOrderRequest* request,
                                         v1::Order* response) {
  return guard_.Run(context, "HoldOrder", [&]() -> grpc::Status {
    if (absl::Status s =
            ValidateOutcome(request->order_id(), 0, request->saga_id());
        !s.ok()) {
      return ToGrpcStatus(s);
    }
    std::string reason = CleanText(request->reason(), kMaxReasonBytes);
    if (reason.empty()) reason = "needs attention";
    v1::HoldOrderRequest asked = *request;  // as for ApproveOrder
    asked.clear_saga_id();
    grpc::Status status = idempotency_.Run<v1::Order>(
        context, "HoldOrder", {asked, *request}, response, [&](pqxx::work& tx) {
          return store_.HoldIn(tx, request->order_id(), reason,
                               request->saga_id());
        });
    if (status.ok()) Changed(request->order_id());
    return status;
  });
}

}  // namespace sagaworks::order
