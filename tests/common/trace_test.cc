// W3C trace context, sampling, span parentage and the OTLP exporter's
// behaviour when its collector is dead.
#include "common/observability/trace.h"

#include "absl/strings/str_cat.h"
#include "common/local/subprocess.h"
#include "common/observability/otlp_exporter.h"
#include "gtest/gtest.h"

namespace sagaworks::trace {
namespace {

namespace otlp = opentelemetry::proto::trace::v1;

constexpr char kValid[] =
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceparentTest, ParsesAndFormatsTheSameValue) {
  std::optional<SpanContext> c = ParseTraceparent(kValid);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->TraceIdHex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(c->SpanIdHex(), "00f067aa0ba902b7");
  EXPECT_TRUE(c->sampled());
  EXPECT_EQ(FormatTraceparent(*c), kValid);
  c = ParseTraceparent(
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->sampled());
}

TEST(TraceparentTest, BadHeadersAreIgnored) {
  for (const char* bad : {
           "",
           "garbage",
           // all-zero trace id or span id
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
           // upper case, wrong lengths, non-hex
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
           // version ff is invalid; version 00 has exactly four fields
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
       }) {
    EXPECT_FALSE(ParseTraceparent(bad).has_value()) << bad;
  }
  // A later version may add fields; its first four are read.
  EXPECT_TRUE(
      ParseTraceparent(
          "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what")
          .has_value());
}

// Collects exported spans in memory.
class Collect final : public Exporter {
 public:
  explicit Collect(std::vector<otlp::Span>* out) : out_(out) {}
  void Export(SpanRecord span) override { out_->push_back(ToOtlp(span)); }
  void Shutdown(absl::Duration) override {}

 private:
  std::vector<otlp::Span>* out_;
};

TEST(TracerTest, ANewRootWithoutParentAndChildrenOfTheCurrentSpan) {
  std::vector<otlp::Span> spans;
  Tracer tracer;
  tracer.Configure("test", Sampler{}, std::make_unique<Collect>(&spans));
  {
    auto root = tracer.StartSpan("root", SpanKind::kServer);
    EXPECT_TRUE(root->context().valid());
    ScopedContext in(root->context());
    auto child = tracer.StartSpan("child", SpanKind::kClient);
    EXPECT_EQ(child->context().trace_id, root->context().trace_id);
    EXPECT_NE(child->context().span_id, root->context().span_id);
    EXPECT_EQ(CurrentContext().span_id, root->context().span_id);
  }
  EXPECT_FALSE(CurrentContext().valid());
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].name(), "child");
  EXPECT_EQ(spans[0].parent_span_id(), spans[1].span_id());
  EXPECT_TRUE(spans[1].parent_span_id().empty());
  // A remote parent (a traceparent header) is honoured.
  const SpanContext remote = *ParseTraceparent(kValid);
  tracer.StartSpanUnder("server", SpanKind::kServer, &remote)->End();
  EXPECT_EQ(spans.back().trace_id().size(), 16u);
  EXPECT_EQ(
      spans.back().parent_span_id(),
      std::string(reinterpret_cast<const char*>(remote.span_id.data()), 8));
}

TEST(TracerTest, UnsampledSpansPropagateButAreNotExported) {
  std::vector<otlp::Span> spans;
  Tracer tracer;
  tracer.Configure("test", *Sampler::Parse("parentbased_always_on", ""),
                   std::make_unique<Collect>(&spans));
  SpanContext parent = *ParseTraceparent(kValid);
  parent.flags = 0;  // the caller decided not to sample
  auto span = tracer.StartSpanUnder("server", SpanKind::kServer, &parent);
  EXPECT_TRUE(span->context().valid());
  EXPECT_FALSE(span->context().sampled());
  EXPECT_FALSE(span->recording());
  span->End();
  EXPECT_TRUE(spans.empty());
}

TEST(SamplerTest, ReadsTheStandardVariables) {
  EXPECT_TRUE(Sampler::Parse("", "").ok());
  EXPECT_TRUE(Sampler::Parse("always_off", "").ok());
  auto ratio = Sampler::Parse("traceidratio", "0.25");
  ASSERT_TRUE(ratio.ok());
  // About a quarter of random trace ids, and the same answer every time.
  int sampled = 0;
  Tracer tracer;
  for (int i = 0; i < 4000; ++i) {
    auto s = tracer.StartSpan("x", SpanKind::kInternal);
    const bool once = ratio->Sample(nullptr, s->context().trace_id);
    EXPECT_EQ(once, ratio->Sample(nullptr, s->context().trace_id));
    sampled += once;
  }
  EXPECT_GT(sampled, 800);
  EXPECT_LT(sampled, 1200);
  EXPECT_FALSE(Sampler::Parse("sometimes", "").ok());
  EXPECT_FALSE(Sampler::Parse("traceidratio", "1.5").ok());
  EXPECT_FALSE(Sampler::Parse("traceidratio", "x").ok());
}

// A caller outside the platform joins its trace, but its sampled flag does
// not decide: with a sampler that samples nothing of its own, a customer's
// "sampled" header records nothing, while a platform process's does.
TEST(SamplerTest, AnUntrustedCallerCannotForceSampling) {
  const Sampler sampler = *Sampler::Parse("parentbased_traceidratio", "0");
  SpanContext parent = *ParseTraceparent(kValid);
  parent.flags = 1;
  EXPECT_TRUE(sampler.Sample(&parent, parent.trace_id));
  parent.untrusted = true;
  EXPECT_FALSE(sampler.Sample(&parent, parent.trace_id));

  std::vector<otlp::Span> spans;
  Tracer tracer;
  tracer.Configure("test", sampler, std::make_unique<Collect>(&spans));
  auto span = tracer.StartSpanUnder("server", SpanKind::kServer, &parent);
  EXPECT_EQ(span->context().trace_id, parent.trace_id);
  EXPECT_FALSE(span->recording());
}

TEST(TracestateTest, OnlyASmallPrintableListIsKept) {
  EXPECT_EQ(CleanTracestate(" vendor=abc,other=1 "), "vendor=abc,other=1");
  EXPECT_EQ(CleanTracestate(std::string(kMaxTracestateBytes, 'a')).size(),
            kMaxTracestateBytes);
  EXPECT_EQ(CleanTracestate(std::string(kMaxTracestateBytes + 1, 'a')), "");
  std::string many;
  for (int i = 0; i < 33; ++i) many += "k" + std::to_string(i) + "=v,";
  many.pop_back();
  EXPECT_EQ(CleanTracestate(many), "");
  EXPECT_EQ(CleanTracestate("a=\x01"), "");
  EXPECT_EQ(CleanTracestate("a=\xc3\xa9"), "");
}

TEST(OtlpExporterTest, EndpointsAreNormalizedAndBadOnesRefused) {
  EXPECT_EQ(*NormalizeEndpoint("http://localhost:4317"), "localhost:4317");
  EXPECT_EQ(*NormalizeEndpoint("jaeger:4317/"), "jaeger:4317");
  EXPECT_EQ(*NormalizeEndpoint("https://collector:4317"),
            "https://collector:4317");
  for (const char* bad : {"", "localhost", "http://", "http://host:port",
                          "http://host:4317/v1/traces", "host:70000"}) {
    EXPECT_FALSE(NormalizeEndpoint(bad).ok()) << bad;
  }
}

// With nothing listening at the collector's address, exporting only queues:
// every call returns at once, the queue holds at most its bound, and what
// does not fit is dropped and counted.
TEST(OtlpExporterTest, ADeadCollectorCostsDroppedSpansNotWaiting) {
  absl::StatusOr<int> port = local::FreePort();
  ASSERT_TRUE(port.ok());
  OtlpExporterConfig config;
  config.endpoint = absl::StrCat("127.0.0.1:", *port);
  config.max_queue = 100;
  config.schedule_delay = absl::Hours(1);  // nothing leaves during the test
  const int64_t dropped_before = GlobalExporterStats().dropped;
  {
    OtlpExporter exporter(config, "test");
    for (int i = 0; i < 10000; ++i) exporter.Export(SpanRecord());
    EXPECT_EQ(GlobalExporterStats().dropped - dropped_before, 10000 - 100);
    // Shutdown tries once within its budget, fails, and drops the rest.
    exporter.Shutdown(absl::Seconds(2));
  }
  EXPECT_EQ(GlobalExporterStats().dropped - dropped_before, 10000);
  EXPECT_GE(GlobalExporterStats().failed_exports, 1);
}

}  // namespace
}  // namespace sagaworks::trace
