// End to end, with real processes exporting to an in-test OTLP receiver:
// one order is one trace across all five processes, a failing payment shows
// its retries, the breaker and the compensations in the trace, every
// /metrics passes `promtool check metrics`, the health endpoints answer, and
// log lines are JSON carrying the trace ids of the exported spans.
#include <stdlib.h>

#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/client/channel.h"
#include "common/local/subprocess.h"
#include "common/observability/metrics.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "sagaworks/v1/chaos.grpc.pb.h"
#include "sagaworks/v1/orchestrator.grpc.pb.h"
#include "sagaworks/v1/order.grpc.pb.h"
#include "tests/testing/demo.h"
#include "tests/testing/orders.h"
#include "tests/testing/otlp_receiver.h"
#include "tests/testing/platform_suite.h"

namespace sagaworks {
namespace {

namespace otlp = opentelemetry::proto::trace::v1;

using platform::Service;

// ProcessNames is the binary names of `services`, the service.name of their
// spans (all of the platform's by default).
std::set<std::string> ProcessNames(std::vector<Service> services = {}) {
  std::set<std::string> names;
  for (const platform::ServiceInfo& s : platform::Services()) {
    if (services.empty() ||
        std::find(services.begin(), services.end(), s.id) != services.end()) {
      names.insert(s.binary);
    }
  }
  return names;
}

void Deadline(grpc::ClientContext* c) {
  c->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
}

const opentelemetry::proto::common::v1::AnyValue* Attr(const otlp::Span& span,
                                                       const std::string& key) {
  for (const auto& kv : span.attributes()) {
    if (kv.key() == key) return &kv.value();
  }
  return nullptr;
}

std::string Hex(const std::string& bytes) {
  return absl::BytesToHexString(bytes);
}

class ObservabilityTest : public testing::PlatformSuite {
 protected:
  static void SetUpTestSuite() {
    receiver_ = new testing::OtlpReceiver();
    // The services inherit the environment of the process that starts them.
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT",
           absl::StrCat("http://127.0.0.1:", receiver_->port()).c_str(), 1);
    // Set for the whole suite: a service restarted by a test exports too.
    StartPlatform(
        {{Name(Service::kOrchestrator), {"--step-timeout-seconds=3"}}});
  }
  static void TearDownTestSuite() {
    PlatformSuite::TearDownTestSuite();
    unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
    delete receiver_;
    receiver_ = nullptr;
  }
  void TearDown() override {
    for (Service service : {Service::kPayment, Service::kInventory}) {
      (void)ClearChaos(service);
    }
  }

  std::string PlaceOrder(const std::string& customer) {
    auto orders = Orders(customer);
    v1::CreateOrderRequest r;
    r.set_customer_id(customer);
    v1::OrderItem* item = r.add_items();
    item->set_sku("widget");
    item->set_quantity(1);
    *r.mutable_shipping_address() = testing::DemoAddress();
    grpc::ClientContext c;
    Deadline(&c);
    c.AddMetadata("idempotency-key", absl::StrCat("obs-", ++keys_));
    v1::Order order;
    grpc::Status s = orders->CreateOrder(&c, r, &order);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return order.order_id();
  }

  v1::Order AwaitFinal(const std::string& order_id) {
    auto orders = v1::OrderService::NewStub(ChannelTo(Service::kOrder));
    return testing::AwaitOrderFinal(*orders, order_id);
  }

  // The trace of an order: the outbox hop names the order it carries.
  std::optional<std::string> TraceOf(const std::string& order_id) {
    for (const auto& r : receiver_->Spans()) {
      const auto* v = Attr(r.span, "sagaworks.order_id");
      if (v != nullptr && v->string_value() == order_id) {
        return r.span.trace_id();
      }
    }
    return std::nullopt;
  }

  std::vector<testing::ReceivedSpan> SpansOf(const std::string& trace_id) {
    std::vector<testing::ReceivedSpan> out;
    for (auto& r : receiver_->Spans()) {
      if (r.span.trace_id() == trace_id) out.push_back(std::move(r));
    }
    return out;
  }

  // Polls until the order's trace has spans from `processes` (all five by
  // default), every parent among them, and a span named `last`; returns the
  // spans.
  std::vector<testing::ReceivedSpan> AwaitTrace(
      const std::string& order_id, const std::string& last,
      const std::set<std::string>& processes = ProcessNames()) {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    std::vector<testing::ReceivedSpan> spans;
    std::string why;
    while (absl::Now() < deadline) {
      std::optional<std::string> trace = TraceOf(order_id);
      if (trace.has_value()) {
        spans = SpansOf(*trace);
        std::set<std::string> services, ids;
        bool has_last = false;
        for (const auto& r : spans) {
          services.insert(r.service);
          ids.insert(r.span.span_id());
          has_last |= r.span.name() == last;
        }
        int orphans = 0;
        for (const auto& r : spans) {
          if (!r.span.parent_span_id().empty() &&
              ids.count(r.span.parent_span_id()) == 0) {
            ++orphans;
          }
        }
        if (services == processes && orphans == 0 && has_last) {
          return spans;
        }
        why = absl::StrCat(services.size(), " services, ", orphans,
                           " orphans, last span seen: ", has_last);
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
    std::string seen;
    for (const auto& r : spans) {
      absl::StrAppend(&seen, "\n  ", r.service, ": ", r.span.name());
    }
    ADD_FAILURE() << "trace of order " << order_id << " incomplete: " << why
                  << seen;
    return spans;
  }

  static int HttpPort(Service service) {
    return platform().platform().HttpPort(platform::Info(service));
  }

  static std::pair<int, std::string> HttpGet(Service service,
                                             const std::string& path) {
    httplib::Client client("127.0.0.1", HttpPort(service));
    client.set_connection_timeout(5);
    client.set_read_timeout(10);
    auto res = client.Get(path.c_str());
    if (!res) return {0, ""};
    return {res->status, res->body};
  }

  static inline testing::OtlpReceiver* receiver_ = nullptr;
  static inline int keys_ = 0;
};

TEST_F(ObservabilityTest, OneOrderIsOneTraceAcrossAllFiveProcesses) {
  const std::string id = PlaceOrder("alice");
  ASSERT_EQ(AwaitFinal(id).status(), v1::ORDER_STATUS_APPROVED);
  const auto spans = AwaitTrace(id, "sagaworks.v1.OrderService/ApproveOrder");
  ASSERT_FALSE(spans.empty());

  int roots = 0;
  std::set<std::string> names;
  for (const auto& r : spans) {
    const otlp::Span& s = r.span;
    names.insert(s.name());
    if (s.parent_span_id().empty()) {
      ++roots;
      EXPECT_EQ(s.name(), "sagaworks.v1.OrderService/CreateOrder");
    }
    EXPECT_GT(s.end_time_unix_nano(), s.start_time_unix_nano()) << s.name();
    if (s.kind() == otlp::Span::SPAN_KIND_SERVER ||
        (s.kind() == otlp::Span::SPAN_KIND_CLIENT && Attr(s, "rpc.system"))) {
      ASSERT_NE(Attr(s, "rpc.system"), nullptr) << s.name();
      EXPECT_EQ(Attr(s, "rpc.system")->string_value(), "grpc");
      ASSERT_NE(Attr(s, "rpc.service"), nullptr) << s.name();
      ASSERT_NE(Attr(s, "rpc.method"), nullptr) << s.name();
      ASSERT_NE(Attr(s, "rpc.grpc.status_code"), nullptr) << s.name();
      EXPECT_EQ(absl::StrCat(Attr(s, "rpc.service")->string_value(), "/",
                             Attr(s, "rpc.method")->string_value()),
                s.name());
    }
    if (Attr(s, "db.system") != nullptr) {
      EXPECT_EQ(Attr(s, "db.system")->string_value(), "postgresql");
    }
    // Each handler names who called it, as authenticated: the customer for
    // their order, the calling process inside the saga.
    if (s.kind() == otlp::Span::SPAN_KIND_SERVER) {
      ASSERT_NE(Attr(s, "enduser.id"), nullptr) << s.name();
      const std::string who = Attr(s, "enduser.id")->string_value();
      if (s.name() == "sagaworks.v1.OrderService/CreateOrder") {
        EXPECT_EQ(who, "alice");
      } else if (s.name() == "sagaworks.v1.SagaOrchestrator/StartSaga") {
        EXPECT_EQ(who, "order");
      } else if (s.name() == "sagaworks.v1.PaymentService/Charge") {
        EXPECT_EQ(who, "orchestrator");
      }
    }
  }
  EXPECT_EQ(roots, 1);
  // The order's whole path: the outbox hop, each saga step, each service's
  // handler, and database transactions.
  for (const char* name :
       {"outbox deliver", "sagaworks.v1.SagaOrchestrator/StartSaga",
        "saga reserve_stock", "saga charge_payment", "saga create_shipment",
        "saga approve_order", "sagaworks.v1.InventoryService/ReserveStock",
        "sagaworks.v1.PaymentService/Charge",
        "sagaworks.v1.ShippingService/CreateShipment"}) {
    EXPECT_EQ(names.count(name), 1u) << "no span " << name;
  }
  EXPECT_TRUE(std::any_of(spans.begin(), spans.end(), [](const auto& r) {
    return Attr(r.span, "db.system") != nullptr;
  })) << "no database spans";
  // Each of the saga's four commits after StartSaga is in its trace, even
  // when another saga's worker wrote the statement it went in.
  EXPECT_EQ(std::count_if(
                spans.begin(), spans.end(),
                [](const auto& r) {
                  return r.span.name() == "commit saga" &&
                         Attr(r.span, "sagaworks.saga.commit_group") != nullptr;
                }),
            4);
  std::cout << "one order: " << spans.size() << " spans in one trace from "
            << platform::Services().size() << " processes, no orphans\n";
}

TEST_F(ObservabilityTest, AFailingPaymentShowsRetriesBreakerAndCompensations) {
  ASSERT_TRUE(
      SetChaos(Service::kPayment, "/sagaworks.v1.PaymentService/Charge", 1.0, 0)
          .ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) ids.push_back(PlaceOrder("alice"));
  for (const std::string& id : ids) {
    EXPECT_EQ(AwaitFinal(id).status(), v1::ORDER_STATUS_REJECTED);
  }
  // Shipping is never reached: the charge fails first.
  const auto spans =
      AwaitTrace(ids.front(), "saga reject_order",
                 ProcessNames({Service::kOrder, Service::kPayment,
                               Service::kInventory, Service::kOrchestrator}));
  int retries = 0, breaker_events = 0, opened = 0;
  std::set<std::string> names;
  for (const auto& r : spans) names.insert(r.span.name());
  // Retries and breaker events may fall in any of the orders' traces.
  for (const std::string& id : ids) {
    std::optional<std::string> trace = TraceOf(id);
    if (!trace.has_value()) continue;
    for (const auto& r : SpansOf(*trace)) {
      for (const auto& e : r.span.events()) {
        retries += e.name() == "retry";
        breaker_events += absl::StartsWith(e.name(), "circuit_breaker.");
        if (e.name() == "circuit_breaker.transition") {
          for (const auto& kv : e.attributes()) {
            opened += kv.key() == "to" && kv.value().string_value() == "open";
          }
        }
      }
    }
  }
  EXPECT_GT(retries, 0) << "no retry events";
  EXPECT_GT(breaker_events, 0) << "no breaker transition or refusal";
  EXPECT_GT(opened, 0) << "no span shows the breaker opening";
  for (const char* name :
       {"saga charge_payment", "saga release_stock", "saga reject_order"}) {
    EXPECT_EQ(names.count(name), 1u) << "no span " << name;
  }
  bool failed_charge = false;
  for (const auto& r : spans) {
    if (r.span.name() == "saga charge_payment") {
      failed_charge = r.span.status().code() == otlp::Status::STATUS_CODE_ERROR;
    }
  }
  EXPECT_TRUE(failed_charge);
  std::cout << "failing payment: " << retries << " retry events, "
            << breaker_events << " breaker events across " << ids.size()
            << " traces\n";
}

// The saga keeps the trace context it was started with, so the steps an
// orchestrator resumes after a crash still belong to the order's trace.
TEST_F(ObservabilityTest, StepsResumedAfterAnOrchestratorCrashJoinTheTrace) {
  ASSERT_TRUE(SetChaos(Service::kInventory,
                       "/sagaworks.v1.InventoryService/ReserveStock", 0, 1500)
                  .ok());
  const std::string id = PlaceOrder("alice");
  // The reservation is out when the orchestrator dies.
  auto sagas = v1::SagaOrchestrator::NewStub(ChannelTo(Service::kOrchestrator));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (true) {
    grpc::ClientContext c;
    Deadline(&c);
    v1::GetSagaRequest r;
    r.set_order_id(id);
    v1::Saga saga;
    if (sagas->GetSaga(&c, r, &saga).ok() && saga.steps_size() > 0) break;
    ASSERT_LT(absl::Now(), deadline) << "the saga did not start";
    absl::SleepFor(absl::Milliseconds(50));
  }
  const auto& orchestrator = platform::Info(Service::kOrchestrator);
  ASSERT_TRUE(platform().platform().StopService(orchestrator, true).ok());
  ASSERT_TRUE(ClearChaos(Service::kInventory).ok());
  ASSERT_TRUE(platform().platform().StartService(orchestrator).ok());
  ASSERT_TRUE(platform().platform().WaitServing({&orchestrator}).ok());
  ASSERT_EQ(AwaitFinal(id).status(), v1::ORDER_STATUS_APPROVED);

  // The killed process never exported its last spans, so their children may
  // be orphans here: only the trace id is asserted.
  const absl::Time until = absl::Now() + absl::Seconds(20);
  bool resumed = false, approved = false;
  while (absl::Now() < until && !(resumed && approved)) {
    std::optional<std::string> trace = TraceOf(id);
    if (trace.has_value()) {
      for (const auto& r : SpansOf(*trace)) {
        const auto* attempt = Attr(r.span, "sagaworks.saga.attempt");
        resumed |= r.span.name() == "saga reserve_stock" &&
                   attempt != nullptr && attempt->int_value() >= 2;
        approved |= r.span.name() == "saga approve_order";
      }
    }
    if (!(resumed && approved)) absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_TRUE(resumed) << "no resumed reserve_stock attempt in the trace";
  EXPECT_TRUE(approved) << "approve_order is not in the order's trace";
}

TEST_F(ObservabilityTest, EveryMetricsPagePassesPromtool) {
  ASSERT_EQ(AwaitFinal(PlaceOrder("alice")).status(),
            v1::ORDER_STATUS_APPROVED);
  for (const platform::ServiceInfo& spec : platform::Services()) {
    SCOPED_TRACE(spec.name);
    auto [status, body] = HttpGet(spec.id, "/metrics");
    ASSERT_EQ(status, 200);
    const std::string file =
        absl::StrCat(platform().home(), "/metrics-", spec.name, ".txt");
    std::ofstream(file) << body;
    std::string out;
    absl::Status s = local::Run(
        {"/bin/sh", "-c", absl::StrCat("promtool check metrics < ", file)},
        &out);
    EXPECT_TRUE(s.ok()) << s << "\n" << out;
    EXPECT_TRUE(absl::StrContains(body, "sagaworks_rpc_server_requests_total"));
  }
  const std::string order = HttpGet(Service::kOrder, "/metrics").second;
  EXPECT_TRUE(absl::StrContains(
      order,
      "sagaworks_rpc_server_requests_total{rpc_service=\"sagaworks.v1."
      "OrderService\",rpc_method=\"CreateOrder\",code=\"OK\"}"));
  EXPECT_TRUE(absl::StrContains(order, "sagaworks_outbox_lag_seconds"));
  const std::string orchestrator =
      HttpGet(Service::kOrchestrator, "/metrics").second;
  EXPECT_TRUE(absl::StrContains(
      orchestrator, "sagaworks_sagas_finished_total{status=\"completed\"}"));
  EXPECT_TRUE(absl::StrContains(
      orchestrator,
      absl::StrCat("sagaworks_circuit_breaker_state{downstream=\"",
                   Name(Service::kPayment), "\"")));
  EXPECT_TRUE(absl::StrContains(orchestrator,
                                "sagaworks_saga_step_duration_seconds_bucket"));
}

// Each order that ends is timed once from its creation, by how it ended,
// however often the orchestrator's approval is delivered.
TEST_F(ObservabilityTest, AnEndedOrderIsTimedOnceByItsStatus) {
  const auto approved = [&]() {
    const auto [code, page] = HttpGet(Service::kOrder, "/metrics");
    EXPECT_EQ(code, 200);
    return metrics::SampleValue(
               page,
               R"(sagaworks_order_final_seconds_count{status="approved"})")
        .value_or(0);
  };
  const double before = approved();
  const v1::Order order = AwaitFinal(PlaceOrder("alice"));
  ASSERT_EQ(order.status(), v1::ORDER_STATUS_APPROVED);
  EXPECT_EQ(approved(), before + 1);
}

TEST_F(ObservabilityTest, HealthEndpointsAnswer) {
  for (const platform::ServiceInfo& spec : platform::Services()) {
    EXPECT_EQ(HttpGet(spec.id, "/health/live").first, 200) << spec.name;
    EXPECT_EQ(HttpGet(spec.id, "/health/ready").first, 200) << spec.name;
  }
}

TEST_F(ObservabilityTest, LogLinesAreJsonWithTheTraceIdsOfExportedSpans) {
  const std::string id = PlaceOrder("alice");
  ASSERT_EQ(AwaitFinal(id).status(), v1::ORDER_STATUS_APPROVED);
  AwaitTrace(id, "sagaworks.v1.OrderService/ApproveOrder");
  std::optional<std::string> trace = TraceOf(id);
  ASSERT_TRUE(trace.has_value());
  const std::string trace_hex = Hex(*trace);
  std::set<std::string> span_ids;
  for (const auto& r : SpansOf(*trace)) span_ids.insert(Hex(r.span.span_id()));

  std::ifstream log(
      platform().platform().LogPath(Name(Service::kOrchestrator)));
  std::string line;
  int lines = 0, in_trace = 0;
  while (std::getline(log, line)) {
    ++lines;
    google::protobuf::Struct json;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &json).ok())
        << "not JSON: " << line;
    for (const char* key : {"time", "level", "service", "message"}) {
      EXPECT_TRUE(json.fields().count(key)) << key << " missing: " << line;
    }
    auto t = json.fields().find("trace_id");
    if (t != json.fields().end() && t->second.string_value() == trace_hex) {
      ++in_trace;
      EXPECT_EQ(span_ids.count(json.fields().at("span_id").string_value()), 1u)
          << "log line names a span that was not exported: " << line;
    }
  }
  EXPECT_GT(lines, 0);
  EXPECT_GT(in_trace, 0) << "no orchestrator log line carries trace "
                         << trace_hex;
}

// Readiness follows the database: with PostgreSQL stopped, every process
// answers /health/ready with 503 and gRPC health NOT_SERVING; once it is back,
// both recover without a restart.
TEST_F(ObservabilityTest, WithoutItsDatabaseAProcessIsNotReady) {
  auto await = [&](bool ready) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    for (const platform::ServiceInfo& spec : platform::Services()) {
      const Service service = spec.id;
      while (true) {
        const bool http_ready = HttpGet(service, "/health/ready").first == 200;
        const bool grpc_serving =
            sagactl::CheckHealth(platform().platform().Address(spec),
                                 absl::Seconds(2)) == sagactl::Health::kServing;
        if (http_ready == ready && grpc_serving == ready) break;
        if (absl::Now() > deadline) {
          ADD_FAILURE() << spec.name << ": /health/ready "
                        << (http_ready ? "200" : "not 200") << ", gRPC "
                        << (grpc_serving ? "SERVING" : "not SERVING")
                        << "; expected " << (ready ? "ready" : "not ready");
          return;
        }
        absl::SleepFor(absl::Milliseconds(200));
      }
    }
  };
  ASSERT_TRUE(platform().platform().StopDatabase().ok());
  await(false);
  // Alive all the same: nothing to restart.
  EXPECT_EQ(HttpGet(Service::kPayment, "/health/live").first, 200);
  ASSERT_TRUE(platform().platform().StartDatabase().ok());
  await(true);
  // And it works again: an order goes through.
  const v1::Order order = AwaitFinal(PlaceOrder("alice"));
  EXPECT_EQ(order.status(), v1::ORDER_STATUS_APPROVED)
      << order.failure_reason();
}

}  // namespace
}  // namespace sagaworks
