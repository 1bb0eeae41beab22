// The SLO file, the error-budget arithmetic of the load reports, and the
// Prometheus rules' agreement with the file.
#include "tools/sagactl/slo.h"

#include <map>
#include <optional>
#include <string>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/files.h"
#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace sagaworks::sagactl {
namespace {

const std::string kSloFile = SAGAWORKS_SOURCE_DIR "/deploy/slo.yaml";
const std::string kRulesFile =
    SAGAWORKS_SOURCE_DIR "/tools/compose/rules/sagaworks.rules.yml";

TEST(SloTest, TheShippedFileDeclaresEverySli) {
  absl::StatusOr<SloFile> file = LoadSlos(kSloFile);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->window_days, 30);
  ASSERT_EQ(file->slos.size(), 3u);
  EXPECT_EQ(file->slos[0].name, kOrderAvailability);
  EXPECT_EQ(file->slos[1].name, kSagaCompletion);
  EXPECT_EQ(file->slos[2].name, kOrderLatency);
  EXPECT_GT(file->slos[2].threshold_seconds, 0);
}

// CamelName is the alerts' prefix for an SLO ("order_availability" ->
// "OrderAvailability").
std::string CamelName(const std::string& name) {
  std::string out;
  bool upper = true;
  for (char c : name) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(c - 'a' + 'A') : c;
    upper = false;
  }
  return out;
}

TEST(SloTest, TheAlertRulesBurnTheObjectivesTheFileDeclares) {
  absl::StatusOr<SloFile> file = LoadSlos(kSloFile);
  ASSERT_TRUE(file.ok()) << file.status();
  std::optional<std::string> rules_text = ReadFile(kRulesFile);
  ASSERT_TRUE(rules_text.has_value());
  const YAML::Node rules = YAML::Load(*rules_text);
  std::map<std::string, std::string> alerts;  // name -> expr
  std::string recorded;
  for (const YAML::Node& group : rules["groups"]) {
    for (const YAML::Node& rule : group["rules"]) {
      if (rule["alert"]) {
        alerts[rule["alert"].as<std::string>()] =
            rule["expr"].as<std::string>();
      } else {
        recorded += rule["expr"].as<std::string>();
      }
    }
  }
  for (const Slo& slo : file->slos) {
    for (const auto& [speed, factor, windows] :
         {std::tuple{"Fast", "14.4", std::pair{"1h", "5m"}},
          std::tuple{"Slow", "6", std::pair{"6h", "30m"}}}) {
      const std::string name = CamelName(slo.name) + "BudgetBurn" + speed;
      ASSERT_TRUE(alerts.count(name)) << name;
      const std::string& expr = alerts[name];
      EXPECT_TRUE(absl::StrContains(
          expr, absl::StrFormat("(%s * (1 - %g))", factor, slo.objective)))
          << name << ": " << expr;
      for (const char* window : {windows.first, windows.second}) {
        EXPECT_TRUE(absl::StrContains(
            expr,
            absl::StrCat("sagaworks:", slo.name, ":error_ratio_rate", window)))
            << name << " must use the " << window << " window";
      }
    }
    if (slo.name == kOrderLatency) {
      EXPECT_TRUE(absl::StrContains(
          recorded, absl::StrFormat("le=\"%g\"", slo.threshold_seconds)))
          << "the latency SLI must count orders within threshold_seconds";
    }
  }
  for (const char* other :
       {"CircuitBreakerOpen", "SagasStuck", "SagasFailed", "OutboxLagging"}) {
    EXPECT_TRUE(alerts.count(other)) << other;
  }
}

TEST(SloTest, ABadFileIsRefusedNamingTheSetting) {
  const auto error = [](const std::string& yaml) {
    absl::StatusOr<SloFile> file = ParseSlos(yaml, "slo.yaml");
    EXPECT_FALSE(file.ok()) << yaml;
    return file.ok() ? std::string() : std::string(file.status().message());
  };
  EXPECT_TRUE(absl::StrContains(error("slos: [{name: uptime, objective: 0.9}]"),
                                "unknown SLI 'uptime'"));
  EXPECT_TRUE(absl::StrContains(
      error("slos: [{name: saga_completion, objective: 99.9}]"),
      "saga_completion.objective"));
  EXPECT_TRUE(
      absl::StrContains(error("slos: [{name: order_latency, objective: 0.95}]"),
                        "order_latency.threshold_seconds"));
  EXPECT_TRUE(
      absl::StrContains(error("window_days: 0\nslos: []"), "window_days"));
  EXPECT_TRUE(absl::StrContains(
      error("slos: [{name: saga_completion, objective: high}]"), "wrong type"));
  EXPECT_TRUE(absl::StrContains(error("{{{"), "slo.yaml"));
}

TEST(SloTest, TheBudgetIsTheBadEventsTheObjectiveAllows) {
  Slo slo;
  slo.name = kOrderAvailability;
  slo.objective = 0.999;
  // 10 bad of 10,000 spends exactly the budget: burn rate 1.
  Budget b = MeasureBudget(slo, 9990, 10000);
  EXPECT_NEAR(b.allowed, 10, 1e-9);
  EXPECT_NEAR(b.consumed, 1, 1e-9);
  EXPECT_NEAR(b.burn_rate, 1, 1e-9);
  EXPECT_TRUE(b.met);
  // 50 bad: five budgets, and a 30-day budget would last 6 days.
  b = MeasureBudget(slo, 9950, 10000);
  EXPECT_NEAR(b.consumed, 5, 1e-9);
  EXPECT_FALSE(b.met);
  const std::string line = BudgetLine(slo, 9950, 10000, 30);
  EXPECT_TRUE(absl::StrContains(line, "SLI 99.500% (50 bad of 10000)")) << line;
  EXPECT_TRUE(absl::StrContains(line, "500% consumed")) << line;
  EXPECT_TRUE(absl::StrContains(line, "would last 6.0 days")) << line;
  EXPECT_TRUE(absl::EndsWith(line, "MISSED")) << line;
  // No events: nothing spent.
  b = MeasureBudget(slo, 0, 0);
  EXPECT_EQ(b.consumed, 0);
  EXPECT_TRUE(b.met);
  EXPECT_TRUE(absl::EndsWith(BudgetLine(slo, 0, 0, 30), "met"));
}

}  // namespace
}  // namespace sagaworks::sagactl
