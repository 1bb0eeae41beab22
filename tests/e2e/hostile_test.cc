// The hostile-input matrix: every RPC every process serves, sent what no
// honest client sends (cases generated from each request's descriptor), each
// case with the code it must answer. Afterwards every process still serves,
// everything the matrix set going has ended with money and stock where they
// were, and no answer spoke of the platform's insides.
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/client/channel.h"
#include "common/security/tls.h"
#include "common/server/policy.h"
#include "common/status.h"
#include "common/uuid.h"
#include "common/validation.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/text_format.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "sagaworks/v1/inventory.grpc.pb.h"
#include "sagaworks/v1/orchestrator.grpc.pb.h"
#include "sagaworks/v1/payment.grpc.pb.h"
#include "sagaworks/v1/shipping.grpc.pb.h"
#include "services/payment/payment_service.h"
#include "tests/testing/demo.h"
#include "tests/testing/orders.h"
#include "tests/testing/platform_suite.h"
#include "tests/testing/served_methods.h"

namespace sagaworks {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using Code = grpc::StatusCode;

// A well-formed request the service answers on its merits: done, or refused
// for what it names (no such order, not in that state, not yours), never for
// its shape.
const std::set<Code>& kOnItsMerits =
    *new std::set<Code>{Code::OK, Code::NOT_FOUND, Code::FAILED_PRECONDITION,
                        Code::PERMISSION_DENIED, Code::ALREADY_EXISTS};

// One request of the matrix and what it must answer.
struct Case {
  Case(std::string name, std::string bytes, std::set<Code> expect)
      : name(std::move(name)),
        bytes(std::move(bytes)),
        expect(std::move(expect)) {}

  std::string name;
  std::string bytes;  // the request as sent
  std::set<Code> expect;
  absl::Duration deadline = absl::Seconds(20);
  std::vector<std::pair<std::string, std::string>> metadata;
  // The idempotency key sent: a fresh one when empty, none when nullopt.
  std::optional<std::string> key = std::string();
  // Sent on a connection of its own: a server closes a connection that
  // floods it, and the calls on it with that.
  bool own_connection = false;
};

// What the matrix saw of one case.
struct Answer {
  Code code;
  std::string message;
};

std::string CodeName(Code code) {
  return StatusCodeName(static_cast<absl::StatusCode>(code));
}

std::string Names(const std::set<Code>& codes) {
  std::vector<std::string> names;
  for (Code c : codes) names.push_back(CodeName(c));
  return absl::StrJoin(names, " or ");
}

// Varint and LengthDelimited write protobuf wire format by hand, for
// requests the message classes refuse to build (invalid UTF-8 in a string).
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

std::string LengthDelimited(int number, const std::string& payload) {
  return absl::StrCat(Varint((static_cast<uint64_t>(number) << 3) | 2),
                      Varint(payload.size()), payload);
}

// A path to a field from the request's root: each step a field, and for a
// repeated message field the first element.
using Path = std::vector<const FieldDescriptor*>;

std::string PathName(const Path& path) {
  std::vector<std::string> names;
  for (const FieldDescriptor* f : path) names.push_back(f->name());
  return absl::StrJoin(names, ".");
}

// Leaves lists the scalar fields under `message`, following set message
// fields (and a repeated message's first element).
void Leaves(const Message& message, Path prefix, std::vector<Path>* out) {
  const google::protobuf::Descriptor* d = message.GetDescriptor();
  const google::protobuf::Reflection* r = message.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    Path path = prefix;
    path.push_back(f);
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        if (r->FieldSize(message, f) > 0) {
          Leaves(r->GetRepeatedMessage(message, f, 0), path, out);
        }
      } else if (r->HasField(message, f) && f->message_type()->full_name() !=
                                                "google.protobuf.Timestamp") {
        Leaves(r->GetMessage(message, f), path, out);
      }
    } else if (!f->is_repeated()) {
      out->push_back(path);
    }
  }
}

// Owner is the message holding the path's last field (created as needed).
Message* Owner(Message* root, const Path& path) {
  Message* m = root;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    const google::protobuf::Reflection* r = m->GetReflection();
    m = path[i]->is_repeated() ? r->MutableRepeatedMessage(m, path[i], 0)
                               : r->MutableMessage(m, path[i]);
  }
  return m;
}

// What a string field holds, which says what it accepts.
enum class Kind {
  kUuid,       // an id the platform issued
  kName,       // a caller-chosen name: customer id, SKU
  kText,       // free text a customer or operator writes
  kRelayed,    // text from another service, cleaned and cut, never refused
  kCountry,    // two upper-case letters
  kPageToken,  // opaque, issued by a List call
  kMethod,     // a chaos rule's method: "", or one this process serves
  kCode,       // a chaos rule's code: "", or a gRPC code's name
  kService,    // a health check's service: "", or one the process serves
  kExclusive,  // an alternative to a field the baseline sets: never both
};

Kind KindOf(const FieldDescriptor* f) {
  const std::string& name = f->name();
  const std::string& message = f->containing_type()->name();
  if (message == "GetSagaRequest" && name == "order_id") {
    return Kind::kExclusive;
  }
  if (message == "HealthCheckRequest") return Kind::kService;
  if (name == "order_id" || name == "saga_id") return Kind::kUuid;
  if (name == "customer_id" || name == "sku") return Kind::kName;
  if (name == "country") return Kind::kCountry;
  if (absl::EndsWith(name, "page_token")) return Kind::kPageToken;
  if (name == "method") return Kind::kMethod;
  if (name == "code") return Kind::kCode;
  if (name == "reason" &&
      (message == "RejectOrderRequest" || message == "HoldOrderRequest")) {
    return Kind::kRelayed;
  }
  return Kind::kText;
}

// Optional string fields: empty is a valid value there.
bool MayBeEmpty(const FieldDescriptor* f) {
  static const std::set<std::string>* const kOptional =
      new std::set<std::string>{
          "sagaworks.v1.CancelOrderRequest.reason",
          "sagaworks.v1.CancelSagaRequest.reason",
          "sagaworks.v1.RejectOrderRequest.reason",
          "sagaworks.v1.HoldOrderRequest.reason",
          // Callers from before these fields existed send none.
          "sagaworks.v1.ApproveOrderRequest.saga_id",
          "sagaworks.v1.RejectOrderRequest.saga_id",
          "sagaworks.v1.HoldOrderRequest.saga_id",
          "sagaworks.v1.CreateShipmentRequest.customer_id",
          "sagaworks.v1.ListOrdersRequest.page_token",
          "sagaworks.v1.ListOrdersRequest.customer_id",
          "sagaworks.v1.ListSagasRequest.page_token",
          "sagaworks.v1.GetSagaRequest.steps_page_token",
          "sagaworks.v1.GetSagaRequest.order_id",
          "sagaworks.v1.ChaosRule.method",
          "sagaworks.v1.ChaosRule.code",
          "sagaworks.v1.ClearChaosRequest.method",
          "grpc.health.v1.HealthCheckRequest.service",
      };
  return kOptional->count(f->full_name()) > 0;
}

// Integers with a range; the rest (amounts) take any non-negative value.
struct Range {
  int64_t min;
  int64_t max;
};

std::optional<Range> RangeOf(const FieldDescriptor* f) {
  const std::string& name = f->name();
  if (name == "quantity") return Range{1, kMaxItemQuantity};
  if (name == "amount_cents") return Range{1, payment::kMaxChargeCents};
  // The most a List call returns at once (common/page_token.h).
  if (absl::EndsWith(name, "page_size")) return Range{0, 500};
  // The most latency a chaos rule may add: ten minutes.
  if (name == "latency_ms") return Range{0, 600000};
  return std::nullopt;
}

class HostileTest : public testing::PlatformSuite {
 protected:
  static void SetUpTestSuite() {
    StartPlatform();
    if (HasFatalFailure()) return;
    balance_before_ = new std::map<std::string, int64_t>{
        {"alice", Balance("alice")}, {"gameday", Balance("gameday")}};
    stock_before_ = new std::map<std::string, v1::Stock>{
        {"widget", Stock("widget")}, {"bolt", Stock("bolt")}};
    for (const platform::ServiceInfo& info : platform::Services()) {
      pids_[info.name] = platform().platform().Status(info).pid;
    }
    // Approved orders of alice's: one for the reads to find, one for the
    // customer to cancel, one for the order service to cancel the saga of.
    orders_ = new std::vector<v1::Order>;
    auto orders = Orders("alice");
    for (int i = 0; i < 3; ++i) {
      grpc::ClientContext c;
      c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
      c.AddMetadata("idempotency-key", absl::StrCat("hostile-setup-", i));
      v1::CreateOrderRequest r;
      r.set_customer_id("alice");
      auto* item = r.add_items();
      item->set_sku("widget");
      item->set_quantity(1);
      *r.mutable_shipping_address() = testing::DemoAddress();
      v1::Order order;
      const grpc::Status s = orders->CreateOrder(&c, r, &order);
      ASSERT_TRUE(s.ok()) << s.error_message();
      order = testing::AwaitOrderFinal(*orders, order.order_id());
      ASSERT_EQ(order.status(), v1::ORDER_STATUS_APPROVED);
      orders_->push_back(order);
    }
  }
  static void TearDownTestSuite() {
    delete balance_before_;
    delete stock_before_;
    delete orders_;
    PlatformSuite::TearDownTestSuite();
  }

  // Baseline is a valid request of `method` in text format, which the
  // service answers on its merits; every case changes one thing of it.
  static std::string Baseline(const testing::ServedMethod& served) {
    const std::string& method = served.method;
    const std::string address =
        "{ name: 'Alice Example' line1: '1 Main St' city: 'Berlin' "
        "postal_code: '10115' country: 'DE' }";
    static const std::map<std::string, std::string> kBaselines = {
        {"OrderService/CreateOrder",
         "customer_id: 'alice' items { sku: 'widget' quantity: 1 } "
         "shipping_address: $ADDRESS"},
        {"OrderService/GetOrder", "order_id: '$ORDER'"},
        {"OrderService/ListOrders", "customer_id: 'alice' page_size: 10"},
        {"OrderService/CancelOrder",
         "order_id: '$CANCELLED' reason: 'not needed'"},
        {"OrderService/WatchOrder", "order_id: '$ORDER'"},
        {"OrderService/ApproveOrder",
         "order_id: '$NEW' total_cents: 1999 saga_id: '$NEW'"},
        {"OrderService/RejectOrder",
         "order_id: '$NEW' reason: 'out of stock' total_cents: 1999 "
         "saga_id: '$NEW'"},
        {"OrderService/HoldOrder",
         "order_id: '$NEW' reason: 'refund failed' saga_id: '$NEW'"},
        {"PaymentService/Charge",
         "order_id: '$NEW' customer_id: 'gameday' amount_cents: 100"},
        {"PaymentService/Refund", "order_id: '$NEW'"},
        {"PaymentService/GetBalance", "customer_id: 'gameday'"},
        {"InventoryService/ReserveStock",
         "order_id: '$NEW' items { sku: 'bolt' quantity: 1 }"},
        {"InventoryService/ReleaseStock", "order_id: '$NEW'"},
        {"InventoryService/GetStock", "sku: 'bolt'"},
        {"ShippingService/CreateShipment",
         "order_id: '$NEW' address: $ADDRESS items { sku: 'bolt' quantity: 1 "
         "} customer_id: 'gameday'"},
        {"ShippingService/CancelShipment", "order_id: '$NEW'"},
        {"ShippingService/GetShipment", "order_id: '$ORDER'"},
        {"SagaOrchestrator/StartSaga",
         "order_id: '$ORDER' customer_id: 'alice' items { sku: 'widget' "
         "quantity: 1 } shipping_address: $ADDRESS"},
        {"SagaOrchestrator/GetSaga", "saga_id: '$SAGA' steps_page_size: 10"},
        {"SagaOrchestrator/CancelSaga",
         "order_id: '$SAGA_CANCELLED' reason: 'not needed'"},
        {"SagaOrchestrator/ListSagas", "page_size: 10"},
        {"SagaOrchestrator/RetrySaga", "saga_id: '$SAGA' note: 'try again'"},
        {"SagaOrchestrator/ResolveSaga",
         "saga_id: '$SAGA' resolution: SAGA_RESOLUTION_COMPENSATED "
         "note: 'refunded by hand'"},
        {"ChaosService/SetChaos",
         "rule { method: '$OWN_METHOD' failure_rate: 0 latency_ms: 0 }"},
        {"ChaosService/ClearChaos", "method: '$OWN_METHOD'"},
        {"ChaosService/GetChaos", ""},
        {"AdminService/GetResilienceStatus", ""},
        {"Health/Check", "service: ''"},
    };
    const std::string key =
        absl::StartsWith(method, "/grpc.health.v1.")
            ? method.substr(std::string("/grpc.health.v1.").size())
            : method.substr(std::string("/sagaworks.v1.").size());
    auto it = kBaselines.find(key);
    EXPECT_NE(it, kBaselines.end())
        << method << " has no baseline request in the matrix";
    if (it == kBaselines.end()) return "";
    return absl::StrReplaceAll(it->second,
                               {{"$ADDRESS", address},
                                {"$ORDER", (*orders_)[0].order_id()},
                                {"$SAGA", (*orders_)[0].saga_id()},
                                {"$CANCELLED", (*orders_)[1].order_id()},
                                {"$SAGA_CANCELLED", (*orders_)[2].order_id()},
                                {"$OWN_METHOD", OwnMethod(served)}});
  }

  // OwnMethod is the last method of the process's own service: a harmless
  // target for chaos rules (one that does nothing).
  static std::string OwnMethod(const testing::ServedMethod& served) {
    const google::protobuf::ServiceDescriptor* own =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            served.process->grpc_service);
    return absl::StrCat("/", own->full_name(), "/",
                        own->method(own->method_count() - 1)->name());
  }

  // Fill replaces each '$NEW' by its own fresh UUID.
  static std::string Fill(std::string text) {
    size_t at;
    while ((at = text.find("$NEW")) != std::string::npos) {
      text.replace(at, 4, NewUuid());
    }
    return text;
  }

  static std::unique_ptr<Message> Parse(
      const google::protobuf::Descriptor* type, const std::string& text) {
    std::unique_ptr<Message> m(
        google::protobuf::MessageFactory::generated_factory()
            ->GetPrototype(type)
            ->New());
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, m.get()))
        << type->full_name() << ": " << text;
    return m;
  }

  // Caller is a channel as someone the policy lets call `served`: the
  // customer alice where customers may, else an operator, else the first
  // platform process named. A `connection` other than 0 gets a connection
  // of its own.
  static std::shared_ptr<grpc::Channel> Caller(
      const testing::ServedMethod& served, int connection = 0) {
    const server::MethodPolicy* policy = server::FindPolicy(served.method);
    EXPECT_NE(policy, nullptr) << served.method;
    const platform::Service id = served.process->id;
    if (policy != nullptr && !policy->open &&
        policy->customers != server::Customers::kNone) {
      return platform().ChannelWithToken(id, platform().Token("alice"),
                                         connection);
    }
    if (policy == nullptr || policy->open || policy->operators) {
      return Dial(platform().Address(id), connection);
    }
    return Dial(platform().Address(id),
                security::ChannelCredentials(platform().platform().TlsFor(
                    platform::Info(policy->workloads.at(0)).name)),
                connection);
  }

  // Mutating: the calls that need an idempotency key. Chaos rules are set
  // and cleared, which repeats without harm, and live in memory.
  static bool Mutating(const testing::ServedMethod& served) {
    const std::string& name = served.descriptor->name();
    if (served.descriptor->service()->full_name() ==
        v1::ChaosService::service_full_name()) {
      return false;
    }
    return !(absl::StartsWith(name, "Get") || absl::StartsWith(name, "List") ||
             absl::StartsWith(name, "Watch") || name == "Check");
  }

  // Send makes one call, unary or server-streaming (read to its end).
  static Answer Send(const std::shared_ptr<grpc::Channel>& channel,
                     const testing::ServedMethod& served, const Case& c) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + c.deadline));
    if (c.key.has_value()) {
      context.AddMetadata("idempotency-key",
                          c.key->empty() ? "hostile-" + NewUuid() : *c.key);
    }
    for (const auto& [k, v] : c.metadata) context.AddMetadata(k, v);
    grpc::Slice slice(c.bytes);
    grpc::ByteBuffer request(&slice, 1), response;
    grpc::GenericStub stub(channel);
    grpc::CompletionQueue cq;
    void* tag;
    bool ok;
    grpc::Status status;
    if (!served.descriptor->server_streaming()) {
      auto call = stub.PrepareUnaryCall(&context, served.method, request, &cq);
      call->StartCall();
      call->Finish(&response, &status, reinterpret_cast<void*>(1));
      EXPECT_TRUE(cq.Next(&tag, &ok));
    } else {
      auto call = stub.PrepareCall(&context, served.method, &cq);
      call->StartCall(reinterpret_cast<void*>(1));
      cq.Next(&tag, &ok);
      if (ok) {
        call->WriteLast(request, grpc::WriteOptions(),
                        reinterpret_cast<void*>(2));
        cq.Next(&tag, &ok);
      }
      // A watch of a final order sends it and ends; a handful of reads is
      // the most any case needs.
      for (int i = 0; ok && i < 16; ++i) {
        call->Read(&response, reinterpret_cast<void*>(3));
        cq.Next(&tag, &ok);
      }
      call->Finish(&status, reinterpret_cast<void*>(4));
      cq.Next(&tag, &ok);
    }
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
    return {status.error_code(), status.error_message()};
  }

  // Cases builds the matrix's cases for one method.
  static std::vector<Case> Cases(const testing::ServedMethod& served) {
    const google::protobuf::Descriptor* type = served.descriptor->input_type();
    const std::string text = Baseline(served);
    std::vector<Case> cases;
    auto serialize = [&](const Message& m) {
      std::string bytes;
      EXPECT_TRUE(m.SerializeToString(&bytes));
      return bytes;
    };
    auto baseline = [&] { return Parse(type, Fill(text)); };
    static const std::set<std::string> kEmptyIsValid = {
        "ListOrders", "ListSagas",           "ClearChaos",
        "GetChaos",   "GetResilienceStatus", "Check"};
    const bool takes_nothing =
        kEmptyIsValid.count(served.descriptor->name()) > 0;
    cases.push_back({"the baseline", serialize(*baseline()), kOnItsMerits});
    cases.push_back({"an empty request", "",
                     takes_nothing ? kOnItsMerits
                                   : std::set<Code>{Code::INVALID_ARGUMENT}});
    cases.push_back({"bytes that are no protobuf",
                     std::string("\xff\xff\xff", 3),
                     {Code::INTERNAL}});
    cases.push_back({"an unknown field",
                     serialize(*baseline()) + LengthDelimited(999, "junk"),
                     kOnItsMerits});
    // gRPC refuses a message over the servers' 4 MiB before any handler.
    cases.push_back({"a message over 4 MiB",
                     serialize(*baseline()) +
                         LengthDelimited(999, std::string(4 << 20, 'x')),
                     {Code::RESOURCE_EXHAUSTED}});
    cases.push_back(
        {"a message just under 4 MiB",
         serialize(*baseline()) +
             LengthDelimited(999, std::string((4 << 20) - 4096, 'x')),
         kOnItsMerits});
    {
      Case c{"a deadline of 1 ms", serialize(*baseline()), kOnItsMerits};
      c.expect.insert(Code::DEADLINE_EXCEEDED);
      c.deadline = absl::Milliseconds(1);
      cases.push_back(c);
    }
    {
      Case c{"a deadline of a year", serialize(*baseline()), kOnItsMerits};
      c.deadline = absl::Hours(24 * 365);
      cases.push_back(c);
    }
    {
      // Past the servers' metadata limit (gRPC's default, 8 KiB).
      Case c{"a flood of metadata",
             serialize(*baseline()),
             {Code::RESOURCE_EXHAUSTED}};
      c.own_connection = true;
      for (int i = 0; i < 400; ++i) {
        c.metadata.emplace_back(absl::StrCat("x-flood-", i),
                                std::string(40, 'f'));
      }
      cases.push_back(c);
    }
    {
      Case c{"a hostile traceparent and tracestate", serialize(*baseline()),
             kOnItsMerits};
      c.metadata.emplace_back(
          "traceparent",
          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
      std::string state;
      for (int i = 0; i < 100; ++i) absl::StrAppend(&state, "k", i, "=v,");
      c.metadata.emplace_back("tracestate", state);
      cases.push_back(c);
    }
    if (Mutating(served)) {
      Case none{"no idempotency key",
                serialize(*baseline()),
                {Code::INVALID_ARGUMENT}};
      none.key = std::nullopt;
      cases.push_back(none);
      Case long_key{"an idempotency key of 256 characters",
                    serialize(*baseline()),
                    {Code::INVALID_ARGUMENT}};
      long_key.key = std::string(256, 'k');
      cases.push_back(long_key);
      Case longest{"an idempotency key of 255 characters",
                   serialize(*baseline()), kOnItsMerits};
      longest.key = NewUuid() + std::string(255 - 36, 'k');
      cases.push_back(longest);
    }

    std::vector<Path> leaves;
    Leaves(*baseline(), {}, &leaves);
    for (const Path& path : leaves) {
      const FieldDescriptor* f = path.back();
      const std::string field = PathName(path);
      auto with =
          [&](const std::string& what, std::set<Code> expect,
              const std::function<void(
                  Message*, const google::protobuf::Reflection*)>& set) {
            std::unique_ptr<Message> m = baseline();
            Message* owner = Owner(m.get(), path);
            set(owner, owner->GetReflection());
            cases.push_back({absl::StrCat(field, ": ", what), serialize(*m),
                             std::move(expect)});
          };
      const std::set<Code> refused = {Code::INVALID_ARGUMENT};
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_STRING: {
          const Kind kind = KindOf(f);
          auto str = [&](const std::string& what, std::set<Code> expect,
                         const std::string& value) {
            with(what, std::move(expect),
                 [&](Message* m, const google::protobuf::Reflection* r) {
                   r->SetString(m, f, value);
                 });
          };
          const bool relayed = kind == Kind::kRelayed;
          // The health protocol answers NOT_FOUND for a service it does not
          // know, whatever the name.
          const std::set<Code> bad = relayed ? kOnItsMerits
                                     : kind == Kind::kService
                                         ? std::set<Code>{Code::NOT_FOUND}
                                         : refused;
          str("empty", MayBeEmpty(f) ? kOnItsMerits : refused, "");
          str("64 KiB", bad, std::string(64 << 10, 'a'));
          str("a NUL byte", bad, std::string("a\0b", 3));
          str("a control character", bad, "a\x1b[2Jb");
          str("a right-to-left override",
              kind == Kind::kText || relayed ? kOnItsMerits : bad,
              "a\xe2\x80\xae"
              "b");
          // Proto3 refuses to parse a string field of invalid UTF-8; gRPC
          // answers INTERNAL before any handler runs.
          {
            std::unique_ptr<Message> m = baseline();
            std::string bytes = serialize(*m);
            std::string invalid = "\xc3\x28\xff";
            std::string wire = LengthDelimited(f->number(), invalid);
            for (size_t i = path.size() - 1; i-- > 0;) {
              wire = LengthDelimited(path[i]->number(), wire);
            }
            cases.push_back(
                {field + ": invalid UTF-8", bytes + wire, {Code::INTERNAL}});
          }
          switch (kind) {
            case Kind::kUuid: {
              // An order whose saga has not started may yet get one (the
              // order service starts it): CancelSaga asks to be retried.
              const std::set<Code> other =
                  f->full_name() == "sagaworks.v1.CancelSagaRequest.order_id"
                      ? std::set<Code>{Code::UNAVAILABLE}
                      : kOnItsMerits;
              str("another UUID", other, NewUuid());
              str("not a UUID", refused, "order-1");
              str("a UUID in upper case", other,
                  absl::AsciiStrToUpper(NewUuid()));
              break;
            }
            case Kind::kName:
              str("65 characters", refused, std::string(65, 'n'));
              str("64 characters", kOnItsMerits, std::string(64, 'n'));
              str("a slash", refused, "a/b");
              str("SQL", refused, "x'; DROP TABLE accounts; --");
              break;
            case Kind::kText:
              str(absl::StrCat(kMaxTextLength, " bytes of UTF-8"), kOnItsMerits,
                  Repeat("\xc3\xa9", kMaxTextLength / 2));
              str(absl::StrCat(kMaxTextLength + 1, " bytes"), refused,
                  std::string(kMaxTextLength + 1, 't'));
              break;
            case Kind::kRelayed:
              str("1 MiB", kOnItsMerits, std::string(1 << 20, 'r'));
              break;
            case Kind::kCountry:
              str("lower case", refused, "de");
              str("three letters", refused, "DEU");
              str("a country nobody ships to", kOnItsMerits, "ZZ");
              break;
            case Kind::kPageToken:
              str("garbage", refused, "bm90IGEgdG9rZW4");
              break;
            case Kind::kMethod:
              str("a method nobody serves", refused,
                  "/sagaworks.v1.Nothing/Nothing");
              break;
            case Kind::kCode:
              str("no such code", refused, "NOT_A_CODE");
              str("OK", refused, "OK");
              break;
            case Kind::kService:
              str("a service nobody serves", {Code::NOT_FOUND},
                  "sagaworks.v1.Nothing");
              break;
            case Kind::kExclusive:
              str("another UUID", refused, NewUuid());
              break;
          }
          break;
        }
        case FieldDescriptor::CPPTYPE_INT32:
        case FieldDescriptor::CPPTYPE_INT64: {
          const bool is32 = f->cpp_type() == FieldDescriptor::CPPTYPE_INT32;
          auto num = [&](const std::string& what, std::set<Code> expect,
                         int64_t value) {
            with(what, std::move(expect),
                 [&](Message* m, const google::protobuf::Reflection* r) {
                   if (is32) {
                     r->SetInt32(m, f, static_cast<int32_t>(value));
                   } else {
                     r->SetInt64(m, f, value);
                   }
                 });
          };
          const int64_t lowest = is32 ? std::numeric_limits<int32_t>::min()
                                      : std::numeric_limits<int64_t>::min();
          const int64_t highest = is32 ? std::numeric_limits<int32_t>::max()
                                       : std::numeric_limits<int64_t>::max();
          num("-1", refused, -1);
          num("the lowest", refused, lowest);
          const std::optional<Range> range = RangeOf(f);
          if (range.has_value()) {
            num("below its range", refused, range->min - 1);
            num("its range's top", kOnItsMerits, range->max);
            if (range->max < highest) {
              num("above its range", refused, range->max + 1);
            }
          } else {
            num("0", kOnItsMerits, 0);
            num("the highest", kOnItsMerits, highest);
          }
          break;
        }
        case FieldDescriptor::CPPTYPE_DOUBLE: {
          auto dbl = [&](const std::string& what, std::set<Code> expect,
                         double value) {
            with(what, std::move(expect),
                 [&](Message* m, const google::protobuf::Reflection* r) {
                   r->SetDouble(m, f, value);
                 });
          };
          dbl("NaN", refused, std::nan(""));
          dbl("infinity", refused, std::numeric_limits<double>::infinity());
          dbl("-0.5", refused, -0.5);
          dbl("1.5", refused, 1.5);
          dbl("1", kOnItsMerits, 1.0);
          break;
        }
        case FieldDescriptor::CPPTYPE_ENUM: {
          auto en = [&](const std::string& what, std::set<Code> expect,
                        int value) {
            with(what, std::move(expect),
                 [&](Message* m, const google::protobuf::Reflection* r) {
                   r->SetEnumValue(m, f, value);
                 });
          };
          en("an unknown value", refused, 99);
          en("a negative value", refused, -7);
          break;
        }
        default:
          break;
      }
    }

    // Lists of order lines.
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* f = type->field(i);
      if (!f->is_repeated() || f->message_type() == nullptr ||
          f->message_type()->full_name() != "sagaworks.v1.OrderItem") {
        continue;
      }
      auto items = [&](const std::string& what, std::set<Code> expect,
                       int count, bool distinct) {
        std::unique_ptr<Message> m = baseline();
        const google::protobuf::Reflection* r = m->GetReflection();
        const std::string sku =
            r->GetRepeatedMessage(*m, f, 0).GetReflection()->GetString(
                r->GetRepeatedMessage(*m, f, 0),
                f->message_type()->FindFieldByName("sku"));
        r->ClearField(m.get(), f);
        for (int n = 0; n < count; ++n) {
          auto* item = static_cast<v1::OrderItem*>(r->AddMessage(m.get(), f));
          item->set_sku(distinct && n > 0 ? absl::StrCat(sku, "-", n) : sku);
          item->set_quantity(1);
        }
        cases.push_back({absl::StrCat(f->name(), ": ", what), serialize(*m),
                         std::move(expect)});
      };
      items("none", {Code::INVALID_ARGUMENT}, 0, true);
      items("the same SKU twice", {Code::INVALID_ARGUMENT}, 2, false);
      items(absl::StrCat(kMaxOrderItems, " lines"), kOnItsMerits,
            kMaxOrderItems, true);
      items(absl::StrCat(kMaxOrderItems + 1, " lines"),
            {Code::INVALID_ARGUMENT}, kMaxOrderItems + 1, true);
      items("200,000 lines", {Code::INVALID_ARGUMENT}, 200000, true);
    }
    return cases;
  }

  static std::string Repeat(const std::string& s, size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) out += s;
    return out;
  }

  // Undoes maps the orchestrator's actions the matrix makes directly to
  // their compensations.
  static const std::map<std::string, std::string>& Undoes() {
    static const std::map<std::string, std::string>* const kUndoes =
        new std::map<std::string, std::string>{
            {"Charge", "Refund"},
            {"ReserveStock", "ReleaseStock"},
            {"CreateShipment", "CancelShipment"}};
    return *kUndoes;
  }

  // Undo runs the compensation of `action` for an order, as the
  // orchestrator.
  static grpc::Status Undo(const std::string& action,
                           const std::string& order_id) {
    grpc::ClientContext c;
    c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    c.AddMetadata("idempotency-key", "hostile-undo-" + order_id);
    if (action == "Charge") {
      v1::RefundRequest r;
      r.set_order_id(order_id);
      v1::Charge out;
      return v1::PaymentService::NewStub(
                 ChannelFrom(Service::kPayment, Service::kOrchestrator))
          ->Refund(&c, r, &out);
    }
    if (action == "ReserveStock") {
      v1::ReleaseStockRequest r;
      r.set_order_id(order_id);
      v1::Reservation out;
      return v1::InventoryService::NewStub(
                 ChannelFrom(Service::kInventory, Service::kOrchestrator))
          ->ReleaseStock(&c, r, &out);
    }
    v1::CancelShipmentRequest r;
    r.set_order_id(order_id);
    v1::Shipment out;
    return v1::ShippingService::NewStub(
               ChannelFrom(Service::kShipping, Service::kOrchestrator))
        ->CancelShipment(&c, r, &out);
  }

  // AwaitSagasEnded polls every saga until none runs or compensates; false,
  // and a failure naming them, when some still do after `limit`. The order
  // ids of those that ended FAILED go to `failed`.
  static bool AwaitSagasEnded(absl::Duration limit,
                              std::set<std::string>* failed) {
    auto stub =
        v1::SagaOrchestrator::NewStub(ChannelTo(Service::kOrchestrator));
    const absl::Time deadline = absl::Now() + limit;
    std::vector<std::string> unfinished;
    do {
      unfinished.clear();
      failed->clear();
      std::string token;
      do {
        grpc::ClientContext c;
        c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
        v1::ListSagasRequest r;
        r.set_page_size(500);
        r.set_page_token(token);
        v1::ListSagasResponse page;
        const grpc::Status s = stub->ListSagas(&c, r, &page);
        EXPECT_TRUE(s.ok()) << s.error_message();
        if (!s.ok()) return false;
        for (const v1::Saga& saga : page.sagas()) {
          if (saga.status() == v1::SAGA_STATUS_FAILED) {
            failed->insert(saga.order_id());
          } else if (saga.status() != v1::SAGA_STATUS_COMPLETED &&
                     saga.status() != v1::SAGA_STATUS_COMPENSATED) {
            unfinished.push_back(absl::StrCat(
                saga.saga_id(), " ", v1::SagaStatus_Name(saga.status()), " (",
                saga.failure_reason(), ")"));
          }
        }
        token = page.next_page_token();
      } while (!token.empty());
      if (unfinished.empty()) return true;
      absl::SleepFor(absl::Milliseconds(200));
    } while (absl::Now() < deadline);
    ADD_FAILURE() << "sagas not ended after " << absl::FormatDuration(limit)
                  << ": " << absl::StrJoin(unfinished, "; ");
    return false;
  }

  // AwaitOrdersEnded polls alice's orders until none is PENDING; her orders
  // as last seen.
  static std::vector<v1::Order> AwaitOrdersEnded(absl::Duration limit) {
    auto stub = Orders("alice");
    const absl::Time deadline = absl::Now() + limit;
    std::vector<v1::Order> orders;
    while (true) {
      orders.clear();
      bool pending = false;
      std::string token;
      do {
        grpc::ClientContext c;
        c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
        v1::ListOrdersRequest r;
        r.set_customer_id("alice");
        r.set_page_size(500);
        r.set_page_token(token);
        v1::ListOrdersResponse page;
        const grpc::Status s = stub->ListOrders(&c, r, &page);
        EXPECT_TRUE(s.ok()) << s.error_message();
        if (!s.ok()) return orders;
        for (const v1::Order& order : page.orders()) {
          pending = pending || order.status() == v1::ORDER_STATUS_PENDING;
          orders.push_back(order);
        }
        token = page.next_page_token();
      } while (!token.empty());
      if (!pending) return orders;
      if (absl::Now() > deadline) {
        ADD_FAILURE() << "alice's orders still pending after "
                      << absl::FormatDuration(limit);
        return orders;
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
  }

  // Leaks says what in an error text speaks of the platform's insides.
  static std::string Leaks(const std::string& message) {
    for (
        const char* word :
        {"pqxx",         "postgres",      "SQL",      "sql",        "SELECT",
         "INSERT",       "UPDATE ",       "relation", "constraint", "violates",
         "syntax error", "duplicate key", "std::",    "exception",  "terminate",
         ".cc:",         ".h:",           "/work/",   "/tmp/",      "ERROR:",
         "DETAIL:",      "CONTEXT:",      "0x"}) {
      if (absl::StrContains(message, word)) return word;
    }
    if (message.size() > 1024) return "more than 1 KiB";
    return "";
  }

  static inline std::map<std::string, int64_t>* balance_before_ = nullptr;
  static inline std::map<std::string, v1::Stock>* stock_before_ = nullptr;
  static inline std::vector<v1::Order>* orders_ = nullptr;
  static inline std::map<std::string, std::optional<pid_t>> pids_;
};

TEST_F(HostileTest, EveryCaseAnswersItsCodeAndThePlatformHolds) {
  int cases = 0;
  int connections = 0;
  // Order ids of the direct charges, reservations and shipments made.
  std::map<std::string, std::set<std::string>> done;
  std::map<std::string, int> by_code;
  for (const testing::ServedMethod& served : testing::ServedMethods()) {
    if (served.descriptor->server_streaming() &&
        served.descriptor->service()->full_name() ==
            grpc::health::v1::Health::service_full_name()) {
      continue;  // Health/Watch: a stream of states, not an answer
    }
    const std::shared_ptr<grpc::Channel> channel = Caller(served);
    for (const Case& c : Cases(served)) {
      SCOPED_TRACE(
          absl::StrCat(served.process->name, " ", served.method, ", ", c.name));
      const Answer a =
          Send(c.own_connection ? Caller(served, ++connections) : channel,
               served, c);
      ++cases;
      ++by_code[CodeName(a.code)];
      EXPECT_TRUE(c.expect.count(a.code) > 0)
          << "answered " << CodeName(a.code) << " (" << a.message
          << "), expected " << Names(c.expect);
      EXPECT_EQ(Leaks(a.message), "") << a.message;
      if (a.code == Code::INVALID_ARGUMENT) {
        EXPECT_FALSE(a.message.empty());
      }
      // A call cut off by its deadline may have been done all the same.
      if ((a.code == Code::OK || a.code == Code::DEADLINE_EXCEEDED) &&
          Undoes().count(served.descriptor->name())) {
        std::unique_ptr<Message> sent =
            Parse(served.descriptor->input_type(), "");
        if (sent->ParseFromString(c.bytes)) {
          done[served.descriptor->name()].insert(
              sent->GetReflection()->GetString(
                  *sent, sent->GetDescriptor()->FindFieldByName("order_id")));
        }
      }
    }
  }
  std::vector<std::string> tally;
  for (const auto& [code, n] : by_code)
    tally.push_back(absl::StrCat(code, " ", n));
  std::cout << cases << " cases: " << absl::StrJoin(tally, ", ") << "\n";
  EXPECT_GT(cases, 500);

  // Afterwards: every process that started still serves, as the same pid.
  for (const platform::ServiceInfo& info : platform::Services()) {
    EXPECT_TRUE(ClearChaos(info.id).ok()) << info.name;
    const sagactl::ServiceStatus now = platform().platform().Status(info);
    EXPECT_EQ(now.health, sagactl::Health::kServing) << info.name;
    EXPECT_EQ(now.pid, pids_[info.name]) << info.name << " restarted";
  }
  // What the matrix did as the orchestrator, undone as the orchestrator
  // would; everything it set going ends.
  for (const auto& [method, order_ids] : done) {
    for (const std::string& order_id : order_ids) {
      EXPECT_TRUE(Undo(method, order_id).ok()) << method << " " << order_id;
    }
  }
  std::set<std::string> failed;
  EXPECT_TRUE(AwaitSagasEnded(absl::Seconds(120), &failed));
  const std::vector<v1::Order> orders = AwaitOrdersEnded(absl::Seconds(60));
  // StartSaga for an order the order service does not have (its id sent
  // in another case) undoes every step and then cannot reject the order:
  // FAILED, for an operator to see. Every real order's saga ends cleanly.
  for (const v1::Order& order : orders) {
    EXPECT_EQ(failed.count(order.order_id()), 0u)
        << "the saga of order " << order.order_id() << " FAILED";
    EXPECT_NE(order.status(), v1::ORDER_STATUS_NEEDS_ATTENTION)
        << order.order_id();
  }
  // Money and stock moved exactly by the orders approved.
  int64_t approved_cents = 0, approved_widgets = 0;
  for (const v1::Order& order : orders) {
    if (order.status() != v1::ORDER_STATUS_APPROVED) continue;
    approved_cents += order.total_cents();
    for (const v1::OrderItem& item : order.items()) {
      if (item.sku() == "widget") approved_widgets += item.quantity();
    }
  }
  EXPECT_EQ((*balance_before_)["alice"] - Balance("alice"), approved_cents);
  EXPECT_EQ(Balance("gameday"), (*balance_before_)["gameday"]);
  const v1::Stock widget = Stock("widget"), bolt = Stock("bolt");
  EXPECT_EQ((*stock_before_)["widget"].available() - widget.available(),
            approved_widgets);
  // An approved order's stock stays reserved for its shipment.
  EXPECT_EQ(widget.reserved() - (*stock_before_)["widget"].reserved(),
            approved_widgets);
  EXPECT_EQ(bolt.available(), (*stock_before_)["bolt"].available());
  EXPECT_EQ(bolt.reserved(), (*stock_before_)["bolt"].reserved());
}

}  // namespace
}  // namespace sagaworks
