// The resilience configuration file: layering, and refusing what is wrong
// with a message naming the setting.
#include "common/resilience/config.h"

#include "gtest/gtest.h"

namespace sagaworks::resilience {
namespace {

const std::set<std::string> kKnown = {"payment", "inventory"};

TEST(ResilienceConfigTest, DefaultsThenDownstreamThenMethodOverride) {
  auto settings = ParseResilienceSettings(R"({
    "defaults": {"breaker": {"open_wait_ms": 7000},
                 "call": {"retry": {"max_attempts": 5}}},
    "downstreams": {
      "payment": {
        "call": {"attempt_timeout_ms": 800, "total_timeout_ms": 4000},
        "methods": {"Charge": {"total_timeout_ms": 1600,
                               "retry": {"jitter": "decorrelated"}}},
        "breaker": {"consecutive_failures": 3, "per_method": true},
        "bulkhead": {"max_concurrent": 8}
      }
    }
  })",
                                          kKnown);
  ASSERT_TRUE(settings.ok()) << settings.status();

  absl::StatusOr<DownstreamConfig> payment =
      ConfigFor(*settings, "payment", {});
  ASSERT_TRUE(payment.ok()) << payment.status();
  EXPECT_EQ(payment->breaker.open_wait, absl::Seconds(7));
  EXPECT_EQ(payment->breaker.consecutive_failures, 3);
  EXPECT_TRUE(payment->breaker_per_method);
  EXPECT_EQ(payment->bulkhead.max_concurrent, 8);
  EXPECT_EQ(payment->call.attempt_timeout, absl::Milliseconds(800));
  EXPECT_EQ(payment->call.retry.max_attempts, 5);
  const CallPolicy& charge = payment->methods.at("Charge");
  EXPECT_EQ(charge.attempt_timeout, absl::Milliseconds(800));  // inherited
  EXPECT_EQ(charge.total_timeout, absl::Milliseconds(1600));
  EXPECT_EQ(charge.retry.jitter, Jitter::kDecorrelated);

  // A downstream without a section gets the file's defaults only.
  absl::StatusOr<DownstreamConfig> inventory =
      ConfigFor(*settings, "inventory", {});
  ASSERT_TRUE(inventory.ok());
  EXPECT_EQ(inventory->breaker.open_wait, absl::Seconds(7));
  EXPECT_EQ(inventory->breaker.consecutive_failures,
            CircuitBreakerConfig{}.consecutive_failures);
}

TEST(ResilienceConfigTest, UnknownKeysAreErrors) {
  auto s = ParseResilienceSettings(
      R"({"downstreams": {"payment": {"breaker": {"open_wiat_ms": 1}}}})",
      kKnown);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("open_wiat_ms"), absl::string_view::npos)
      << s.status();
}

TEST(ResilienceConfigTest, UnknownDownstreamsAreErrors) {
  auto s =
      ParseResilienceSettings(R"({"downstreams": {"paymnt": {}}})", kKnown);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("downstreams.paymnt"),
            absl::string_view::npos);
  EXPECT_NE(s.status().message().find("inventory, payment"),
            absl::string_view::npos);
}

TEST(ResilienceConfigTest, ImpossibleValuesNameTheirSetting) {
  struct Case {
    const char* json;
    const char* where;
  };
  for (
      const Case& c : {
          Case{
              R"({"downstreams": {"payment": {"breaker": {"failure_rate_threshold": 1.5}}}})",
              "downstreams.payment.breaker"},
          Case{
              R"({"downstreams": {"payment": {"call": {"attempt_timeout_ms": 9000, "total_timeout_ms": 1000}}}})",
              "downstreams.payment.call"},
          Case{R"({"defaults": {"call": {"retry": {"jitter": "some"}}}})",
               "defaults.call.retry.jitter"},
          Case{
              R"({"downstreams": {"inventory": {"methods": {"GetStock": {"retry": {"max_attempts": 0}}}}}})",
              "downstreams.inventory.methods.GetStock"},
          Case{R"({"defaults": {"bulkhead": {"max_concurrent": 0}}})",
               "defaults.bulkhead"},
          Case{R"({"defaults": {"breaker": {"window_type": "sliding"}}})",
               "defaults.breaker.window_type"},
      }) {
    auto s = ParseResilienceSettings(c.json, kKnown);
    ASSERT_FALSE(s.ok()) << c.json;
    EXPECT_NE(s.status().message().find(c.where), absl::string_view::npos)
        << s.status() << " should name " << c.where;
  }
}

TEST(ResilienceConfigTest, NotJsonIsAnError) {
  EXPECT_FALSE(ParseResilienceSettings("breaker: 3", kKnown).ok());
}

}  // namespace
}  // namespace sagaworks::resilience
