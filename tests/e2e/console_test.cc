// End to end, with real processes: the operator console on the
// orchestrator's HTTP port (its API as a browser calls it, and the page in
// Debian's Chromium driven by tests/browser/console.mjs), and the load
// scenarios with their JSON, SLO lines and HTML report.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <tuple>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/local/subprocess.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "sagaworks/v1/orchestrator.grpc.pb.h"
#include "sagaworks/v1/order.grpc.pb.h"
#include "tests/testing/demo.h"
#include "tests/testing/orders.h"
#include "tests/testing/platform_suite.h"
#include "tools/sagactl/scenario.h"

namespace sagaworks {
namespace {

using nlohmann::json;

constexpr char kJaeger[] = "http://jaeger.example:16686";

class ConsoleTest : public testing::PlatformSuite {
 protected:
  static void SetUpTestSuite() {
    // A short step deadline: a saga whose payment is down compensates soon.
    StartPlatform({{Name(Service::kOrchestrator),
                    {"--step-timeout-seconds=3",
                     absl::StrCat("--jaeger-url=", kJaeger)}}});
  }

  static httplib::Client Http() {
    httplib::Client client(
        "127.0.0.1",
        platform().platform().HttpPort(platform::Info(Service::kOrchestrator)));
    client.set_read_timeout(15, 0);
    return client;
  }

  std::string Operator() const {
    return absl::StrCat("Bearer ", platform().Token("ops", {"operator"}));
  }

  // Call makes an API call as `authorization` ("" for none) and returns the
  // status and the parsed body.
  static std::pair<int, json> Call(const std::string& method,
                                   const std::string& path,
                                   const std::string& authorization,
                                   const std::string& body = "") {
    httplib::Client client = Http();
    httplib::Headers headers;
    if (!authorization.empty()) headers.emplace("Authorization", authorization);
    httplib::Result r =
        method == "GET" ? client.Get(path.c_str(), headers)
        : method == "POST"
            ? client.Post(path.c_str(), headers, body, "application/json")
            : client.Delete(path.c_str(), headers);
    if (!r) return {0, json()};
    return {r->status, json::parse(r->body, nullptr, false)};
  }

  std::string PlaceOrder(const std::string& customer) {
    v1::CreateOrderRequest r;
    r.set_customer_id(customer);
    v1::OrderItem* item = r.add_items();
    item->set_sku("widget");
    item->set_quantity(1);
    *r.mutable_shipping_address() = testing::DemoAddress();
    grpc::ClientContext c;
    c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    c.AddMetadata(
        "idempotency-key",
        absl::StrCat("console-test-", absl::ToUnixNanos(absl::Now())));
    v1::Order order;
    grpc::Status s = Orders(customer)->CreateOrder(&c, r, &order);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return order.order_id();
  }

  v1::Order AwaitFinal(const std::string& order_id) {
    auto orders = Orders("alice");
    return testing::AwaitOrderFinal(*orders, order_id, absl::Seconds(60));
  }
};

TEST_F(ConsoleTest, ThePageAndItsAssetsComeWithAStrictPolicy) {
  httplib::Client client = Http();
  httplib::Result page = client.Get("/console");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_TRUE(absl::StrContains(page->body, "sagaworks console"));
  EXPECT_TRUE(absl::StrContains(
      page->get_header_value("Content-Security-Policy"), "script-src 'self'"));
  EXPECT_EQ(page->get_header_value("X-Frame-Options"), "DENY");
  httplib::Result chart = client.Get("/console/assets/chart.min.js");
  ASSERT_TRUE(chart);
  EXPECT_EQ(chart->status, 200);
  EXPECT_TRUE(absl::StrContains(chart->body, "Chart.js v3"));
  EXPECT_TRUE(absl::StartsWith(chart->get_header_value("Content-Type"),
                               "text/javascript"));
  httplib::Result missing = client.Get("/console/assets/..%2Fconsole.cc");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  // The routes the process had before are untouched.
  httplib::Result metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
}

TEST_F(ConsoleTest, TheApiAnswersOperatorsOnly) {
  auto [status, body] = Call("GET", "/console/api/overview", "");
  EXPECT_EQ(status, 401);
  EXPECT_TRUE(absl::StrContains(body.value("error", ""), "operator"));
  for (const char* wrong :
       {"Bearer nope", "Basic b3BzOm9wcw==", "Bearer \xc3\xa9t\xc3\xa9"}) {
    std::tie(status, body) = Call("GET", "/console/api/overview", wrong);
    EXPECT_EQ(status, 401) << wrong << ": " << body.dump();
  }
  std::tie(status, body) =
      Call("GET", "/console/api/sagas",
           absl::StrCat("Bearer ", platform().Token("alice")));
  EXPECT_EQ(status, 403) << body.dump();
  EXPECT_TRUE(absl::StrContains(body.value("error", ""), "PERMISSION_DENIED"));
  std::tie(status, body) =
      Call("POST", "/console/api/chaos",
           absl::StrCat("Bearer ", platform().Token("alice")),
           R"({"service": "payment", "failure_rate": 1})");
  EXPECT_EQ(status, 403) << body.dump();

  std::tie(status, body) = Call("GET", "/console/api/overview", Operator());
  ASSERT_EQ(status, 200) << body.dump();
  std::set<std::string> downstreams;
  for (const json& d : body["resilience"]["downstreams"]) {
    downstreams.insert(d["name"].get<std::string>());
  }
  EXPECT_EQ(downstreams, (std::set<std::string>{"inventory", "order", "payment",
                                                "shipping"}));
  EXPECT_EQ(body["jaeger_url"], kJaeger);
}

TEST_F(ConsoleTest, SagasAreListedFilteredAndShownWithTheirTimeline) {
  const std::string order_id = PlaceOrder("alice");
  ASSERT_EQ(AwaitFinal(order_id).status(), v1::ORDER_STATUS_APPROVED);

  auto [status, body] =
      Call("GET", "/console/api/sagas?status=completed&since_seconds=600",
           Operator());
  ASSERT_EQ(status, 200) << body.dump();
  bool listed = false;
  for (const json& s : body["sagas"]) {
    EXPECT_EQ(s["status"], "SAGA_STATUS_COMPLETED");
    listed = listed || s["order_id"] == order_id;
  }
  EXPECT_TRUE(listed) << body.dump();
  std::tie(status, body) =
      Call("GET", "/console/api/sagas?status=failed", Operator());
  ASSERT_EQ(status, 200);
  for (const json& s : body["sagas"]) EXPECT_NE(s["order_id"], order_id);
  std::tie(status, body) =
      Call("GET", "/console/api/sagas?status=sleeping", Operator());
  EXPECT_EQ(status, 400);
  EXPECT_TRUE(absl::StrContains(body.value("error", ""), "sleeping"));
  std::tie(status, body) =
      Call("GET", "/console/api/sagas?limit=100000", Operator());
  EXPECT_EQ(status, 400);

  // By the order's id, as the page links it.
  std::tie(status, body) =
      Call("GET", absl::StrCat("/console/api/sagas/", order_id), Operator());
  ASSERT_EQ(status, 200) << body.dump();
  EXPECT_EQ(body["order_id"], order_id);
  std::vector<std::string> steps;
  for (const json& e : body["steps"]) steps.push_back(e["name"]);
  EXPECT_EQ(steps,
            (std::vector<std::string>{"reserve_stock", "charge_payment",
                                      "create_shipment", "approve_order"}));
  ASSERT_EQ(body["trace_id"].get<std::string>().size(), 32u) << body.dump();
  EXPECT_EQ(
      body["trace_url"],
      absl::StrCat(kJaeger, "/trace/", body["trace_id"].get<std::string>()));
  std::tie(status, body) =
      Call("GET", "/console/api/sagas/no-such-saga", Operator());
  EXPECT_EQ(status, 400) << body.dump();
}

TEST_F(ConsoleTest, ChaosRulesAreSetAndClearedThroughTheApi) {
  auto [status, body] =
      Call("POST", "/console/api/chaos", Operator(),
           R"({"service": "inventory", "method": "", "failure_rate": 0.5,
          "latency_ms": 20, "code": "UNAVAILABLE"})");
  ASSERT_EQ(status, 200) << body.dump();
  std::tie(status, body) = Call("GET", "/console/api/chaos", Operator());
  ASSERT_EQ(status, 200) << body.dump();
  ASSERT_EQ(body["services"]["inventory"]["rules"].size(), 1u) << body.dump();
  EXPECT_EQ(body["services"]["inventory"]["rules"][0]["failure_rate"], 0.5);
  EXPECT_EQ(body["services"]["payment"]["rules"].size(), 0u);
  std::tie(status, body) =
      Call("DELETE", "/console/api/chaos?service=inventory", Operator());
  ASSERT_EQ(status, 200) << body.dump();
  EXPECT_EQ(body["rules"].size(), 0u);

  std::tie(status, body) = Call("POST", "/console/api/chaos", Operator(),
                                R"({"service": "bank", "failure_rate": 1})");
  EXPECT_EQ(status, 400);
  EXPECT_TRUE(absl::StrContains(body.value("error", ""), "bank"));
  std::tie(status, body) = Call("POST", "/console/api/chaos", Operator(),
                                R"({"service": "payment", "failure_rate": 7})");
  EXPECT_EQ(status, 400) << body.dump();
  std::tie(status, body) =
      Call("POST", "/console/api/chaos", Operator(), "not json");
  EXPECT_EQ(status, 400);
}

// Two short scenarios against the platform, run once for the tests that
// look at their figures and their report: the JSON document and the exit
// code.
std::string ReportFile() {
  return ::testing::TempDir() + "sagaworks-console-test-report.html";
}

std::pair<int, std::string> RunTwoScenarios(sagactl::Platform& platform) {
  static const auto* const run = [&platform] {
    sagactl::ScenarioOptions options;
    options.rate = 10;
    options.seconds = 3;
    options.json = true;
    options.settle = absl::Seconds(10);
    options.wait = absl::Seconds(60);
    options.slo_path = SAGAWORKS_SOURCE_DIR "/deploy/slo.yaml";
    options.report_path = ReportFile();
    std::ostringstream out;
    const int code = sagactl::RunScenarios(
        platform, {"baseline", "failures-50"}, options, out);
    return new std::pair<int, std::string>(code, out.str());
  }();
  return *run;
}

TEST_F(ConsoleTest, ScenariosReportOutcomesSlosAndAPage) {
  const auto [code, out] = RunTwoScenarios(platform().platform());
  EXPECT_EQ(code, 0) << out;
  const json doc = json::parse(out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << out;
  ASSERT_EQ(doc["scenarios"].size(), 2u);
  for (const json& s : doc["scenarios"]) {
    SCOPED_TRACE(s["name"].get<std::string>());
    EXPECT_FALSE(s.contains("error")) << s.dump();
    EXPECT_EQ(s["orders"]["placed"], 30);
    EXPECT_EQ(s["orders"]["lost"], 0);
    EXPECT_TRUE(s["money_exact"].get<bool>());
    EXPECT_TRUE(s["stock_exact"].get<bool>());
    EXPECT_GT(s["breaker_timeline"].size(), 0u);
    EXPECT_GT(s["timeline"].size(), 0u);
    ASSERT_EQ(s["slos"].size(), 3u);
    for (const json& slo : s["slos"]) {
      EXPECT_TRUE(absl::StartsWith(slo["line"].get<std::string>(), "SLO "));
    }
  }
  EXPECT_EQ(doc["scenarios"][0]["success_percent"], 100.0);
  EXPECT_EQ(doc["scenarios"][1]["fault"]["failure_rate"], 0.5);
  // The fault was cleared after its scenario.
  auto [status, body] = Call("GET", "/console/api/chaos", Operator());
  ASSERT_EQ(status, 200);
  EXPECT_EQ(body["services"]["payment"]["rules"].size(), 0u) << body.dump();

  const std::optional<std::string> report = ReadFile(ReportFile());
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(absl::StrContains(*report, "Chart.js v3"));
  EXPECT_TRUE(absl::StrContains(*report, "\"failures-50\""));
}

// The page in a real browser: log in, watch a saga whose payment died
// compensate and finish once payment is back, and open a load report.
TEST_F(ConsoleTest, InChromiumAnOperatorWatchesASagaCompensate) {
  ASSERT_EQ(RunTwoScenarios(platform().platform()).first, 0);
  // alice is confirmed by payment first, so that her order is accepted
  // while payment is down (the order service's stale-catalog fallback).
  ASSERT_EQ(AwaitFinal(PlaceOrder("alice")).status(),
            v1::ORDER_STATUS_APPROVED);

  const std::string control =
      ::testing::TempDir() + "console-browser-" + std::to_string(getpid());
  std::filesystem::remove_all(control);
  std::filesystem::create_directories(control);
  const std::string artifacts =
      SAGAWORKS_TESTS_DIR "/browser-artifacts/" +
      std::string(
          ::testing::UnitTest::GetInstance()->current_test_info()->name());
  const std::string log = control + "/browser.log";
  const auto set = [](const char* name, const std::string& value) {
    setenv(name, value.c_str(), 1);
  };
  set("CONSOLE_URL", absl::StrCat("http://127.0.0.1:",
                                  platform().platform().HttpPort(
                                      platform::Info(Service::kOrchestrator)),
                                  "/console"));
  set("OPERATOR_TOKEN", platform().Token("ops", {"operator"}));
  set("CUSTOMER_TOKEN", platform().Token("alice"));
  set("REPORT_FILE", ReportFile());
  set("JAEGER_URL", kJaeger);
  set("CONTROL_DIR", control);
  set("ARTIFACTS_DIR", artifacts);
  local::SpawnOptions spawn;
  spawn.argv = {"/usr/bin/env", "node",
                SAGAWORKS_SOURCE_DIR "/tests/browser/console.mjs"};
  spawn.log_file = log;
  spawn.working_dir = SAGAWORKS_SOURCE_DIR "/tests/browser";
  absl::StatusOr<pid_t> node = local::Spawn(spawn);
  ASSERT_TRUE(node.ok()) << node.status();
  absl::Cleanup stop_node = [&] {
    (void)local::Terminate(*node, absl::Seconds(5));
  };
  const auto browser_log = [&] { return ReadFile(log).value_or("(no log)"); };
  // AwaitFile polls for a file the script writes, while the script runs.
  const auto await_file = [&](const std::string& name, absl::Duration limit) {
    const absl::Time deadline = absl::Now() + limit;
    while (!std::filesystem::exists(control + "/" + name)) {
      if (absl::Now() > deadline || !local::IsAlive(*node)) {
        // One last look: the script may have written it as it exited.
        return std::filesystem::exists(control + "/" + name);
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return true;
  };

  ASSERT_TRUE(await_file("logged-in", absl::Seconds(120))) << browser_log();
  sagactl::Platform& p = platform().platform();
  const platform::ServiceInfo& payment = platform::Info(Service::kPayment);
  ASSERT_TRUE(p.StopService(payment, /*hard=*/true).ok());
  absl::Cleanup restart = [&] {
    (void)p.StartService(payment);
    (void)p.WaitServing({&payment});
  };
  const std::string order_id = PlaceOrder("alice");
  ASSERT_FALSE(order_id.empty());
  {
    std::ofstream(control + "/order-id.tmp") << order_id;
    std::filesystem::rename(control + "/order-id.tmp", control + "/order-id");
  }
  ASSERT_TRUE(await_file("saw-compensating", absl::Seconds(90)))
      << browser_log();
  std::move(restart).Invoke();

  ASSERT_TRUE(await_file("result.json", absl::Seconds(120))) << browser_log();
  const json result = json::parse(
      ReadFile(control + "/result.json").value_or(""), nullptr, false);
  EXPECT_TRUE(result.value("ok", false)) << result.dump(2) << "\n"
                                         << browser_log();
  EXPECT_EQ(AwaitFinal(order_id).status(), v1::ORDER_STATUS_REJECTED);
  std::cout << "the browser's steps:\n" << browser_log();
  std::filesystem::remove_all(control);
}

}  // namespace
}  // namespace sagaworks
