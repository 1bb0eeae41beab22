// The Prometheus text exposition: what each kind of family renders.
#include "common/observability/metrics.h"

#include <memory>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace sagaworks::metrics {
namespace {

TEST(MetricsTest, CountersAndGaugesRenderWithHelpTypeAndEscapedLabels) {
  Registry r;
  r.Counter("calls_total", "Calls\nmade.", {"method", "code"})
      .With({"Charge", "OK"})
      .Add(3);
  r.Gauge("breaker_state", "State.", {"downstream"}).With({"pay\"ment"}).Set(1);
  const std::string text = r.Render();
  EXPECT_TRUE(absl::StrContains(text, "# HELP calls_total Calls\\nmade.\n"));
  EXPECT_TRUE(absl::StrContains(text, "# TYPE calls_total counter\n"));
  EXPECT_TRUE(absl::StrContains(
      text, "calls_total{method=\"Charge\",code=\"OK\"} 3\n"));
  EXPECT_TRUE(absl::StrContains(text, "# TYPE breaker_state gauge\n"));
  EXPECT_TRUE(
      absl::StrContains(text, "breaker_state{downstream=\"pay\\\"ment\"} 1\n"));
}

TEST(MetricsTest, ASampleIsReadBackFromItsPageByItsWholeSeries) {
  Registry r;
  r.Counter("refused_total", "Refused.").With({}).Add(7);
  r.Counter("refused_total_other", "Another.").With({}).Add(1);
  r.Gauge("state", "State.", {"downstream"}).With({"payment"}).Set(2.5);
  const std::string text = r.Render();
  EXPECT_EQ(SampleValue(text, "refused_total"), 7);
  EXPECT_EQ(SampleValue(text, "refused_total_other"), 1);
  EXPECT_EQ(SampleValue(text, "state{downstream=\"payment\"}"), 2.5);
  // A name alone is not one of its labelled series, nor a longer name.
  EXPECT_EQ(SampleValue(text, "state"), std::nullopt);
  EXPECT_EQ(SampleValue(text, "refused"), std::nullopt);
  EXPECT_EQ(SampleValue("", "refused_total"), std::nullopt);
}

TEST(MetricsTest, HistogramsAreCumulativeWithSumAndCount) {
  Registry r;
  HistogramValue& h =
      r.Histogram("latency_seconds", "Latency.", {"method"}, {0.1, 1})
          .Histogram({"Charge"});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(5);
  const std::string text = r.Render();
  EXPECT_TRUE(absl::StrContains(
      text, "latency_seconds_bucket{method=\"Charge\",le=\"0.1\"} 1\n"))
      << text;
  EXPECT_TRUE(absl::StrContains(
      text, "latency_seconds_bucket{method=\"Charge\",le=\"1\"} 2\n"));
  EXPECT_TRUE(absl::StrContains(
      text, "latency_seconds_bucket{method=\"Charge\",le=\"+Inf\"} 3\n"));
  EXPECT_TRUE(
      absl::StrContains(text, "latency_seconds_sum{method=\"Charge\"} 5.55"));
  EXPECT_TRUE(
      absl::StrContains(text, "latency_seconds_count{method=\"Charge\"} 3\n"));
}

// Each thread remembers the last (owner, method) it recorded for; calls for
// two owners, one after the other, and an owner made where another was
// freed, still land in their own series.
TEST(MetricsTest, CallMetricsKeepEachOwnersCallsApart) {
  Registry r;
  Family& requests =
      r.Counter("calls_total", "Calls.", {"to", "method", "code"});
  Family& latency = r.Histogram("call_seconds", "Latency.",
                                {"to", "method", "code"}, LatencyBuckets());
  {
    CallMetrics payment(requests, latency, "payment");
    CallMetrics inventory(requests, latency, "inventory");
    for (int i = 0; i < 3; ++i) {
      payment.Record("Check", absl::StatusCode::kOk, absl::Milliseconds(2));
      inventory.Record("Check", absl::StatusCode::kOk, absl::Milliseconds(2));
    }
    payment.Record("Check", absl::StatusCode::kUnavailable,
                   absl::ZeroDuration());
  }
  {
    auto shipping =
        std::make_unique<CallMetrics>(requests, latency, "shipping");
    shipping->Record("Check", absl::StatusCode::kOk, absl::Milliseconds(1));
  }
  const std::string text = r.Render();
  EXPECT_EQ(SampleValue(text,
                        "calls_total{to=\"payment\",method=\"Check\","
                        "code=\"OK\"}"),
            3);
  EXPECT_EQ(SampleValue(text,
                        "calls_total{to=\"inventory\",method=\"Check\","
                        "code=\"OK\"}"),
            3);
  EXPECT_EQ(SampleValue(text,
                        "calls_total{to=\"payment\",method=\"Check\","
                        "code=\"UNAVAILABLE\"}"),
            1);
  EXPECT_EQ(SampleValue(text,
                        "calls_total{to=\"shipping\",method=\"Check\","
                        "code=\"OK\"}"),
            1);
}

TEST(MetricsTest, CollectorsRunBeforeEachRendering) {
  Registry r;
  Value& v = r.Gauge("queue", "Queue length.").With({});
  int calls = 0;
  r.AddCollector([&] { v.Set(++calls); });
  EXPECT_TRUE(absl::StrContains(r.Render(), "queue 1\n"));
  EXPECT_TRUE(absl::StrContains(r.Render(), "queue 2\n"));
}

}  // namespace
}  // namespace sagaworks::metrics
