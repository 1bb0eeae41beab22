#include "orchestrator/console.h"

#include <algorithm>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/client/channel.h"
#include "common/status.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"
#include "sagaworks/v1/admin.grpc.pb.h"
#include "sagaworks/v1/chaos.grpc.pb.h"
#include "sagaworks/v1/orchestrator.grpc.pb.h"
#include "web/assets.h"

namespace sagaworks::orchestrator {
namespace {

using metrics::HttpRequest;
using metrics::HttpResponse;
using nlohmann::json;

constexpr absl::Duration kCallTimeout = absl::Seconds(5);
constexpr int kMaxSagas = 500;

// The page loads nothing from elsewhere and runs no inline script, so an
// injected tag can neither run nor send the token anywhere.
constexpr char kContentSecurityPolicy[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' "
    "data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'";

HttpResponse Json(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump();
  r.headers = {{"Cache-Control", "no-store"},
               {"X-Content-Type-Options", "nosniff"}};
  return r;
}

HttpResponse Error(int status, const std::string& message) {
  return Json(status, {{"error", message}});
}

int HttpStatusOf(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ABORTED:
      return 409;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    default:
      return 500;
  }
}

HttpResponse FromGrpc(const grpc::Status& s) {
  return Error(HttpStatusOf(s.error_code()),
               absl::StrCat(StatusCodeName(
                                static_cast<absl::StatusCode>(s.error_code())),
                            ": ", s.error_message()));
}

json ToJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(m, &out, options).ok()) {
    return json::object();
  }
  return json::parse(out, nullptr, /*allow_exceptions=*/false);
}

const char* ContentType(absl::string_view name) {
  if (absl::EndsWith(name, ".html")) return "text/html; charset=utf-8";
  if (absl::EndsWith(name, ".js")) return "text/javascript; charset=utf-8";
  if (absl::EndsWith(name, ".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

HttpResponse Asset(absl::string_view name) {
  const std::optional<absl::string_view> content = web::Asset(name);
  if (!content.has_value()) return Error(404, "no such file");
  HttpResponse r;
  r.content_type = ContentType(name);
  r.body = std::string(*content);
  r.headers = {{"X-Content-Type-Options", "nosniff"},
               {"Content-Security-Policy", kContentSecurityPolicy},
               {"X-Frame-Options", "DENY"},
               {"Referrer-Policy", "no-referrer"},
               {"Cache-Control", "no-cache"}};
  return r;
}

// Calls is one API request's gRPC calls, made with the caller's token over
// the console's channels.
class Calls {
 public:
  Calls(const std::map<std::string, std::shared_ptr<grpc::Channel>>& channels,
        std::string authorization)
      : channels_(channels), authorization_(std::move(authorization)) {}

  void Prepare(grpc::ClientContext& c) const {
    c.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
    if (!authorization_.empty()) c.AddMetadata("authorization", authorization_);
  }

  // Channel to `service`, or null when the console does not know it.
  std::shared_ptr<grpc::Channel> Channel(const std::string& service) const {
    auto it = channels_.find(service);
    return it == channels_.end() ? nullptr : it->second;
  }

 private:
  const std::map<std::string, std::shared_ptr<grpc::Channel>>& channels_;
  const std::string authorization_;
};

bool ParseStatus(const std::string& name, v1::SagaStatus* status) {
  return v1::SagaStatus_Parse(
      absl::StrCat("SAGA_STATUS_", absl::AsciiStrToUpper(name)), status);
}

HttpResponse ListSagas(Calls& calls, const HttpRequest& request) {
  v1::ListSagasRequest list;
  auto q = [&request](const char* key) {
    auto it = request.query.find(key);
    return it == request.query.end() ? std::string() : it->second;
  };
  if (const std::string status = q("status"); !status.empty()) {
    v1::SagaStatus parsed;
    if (!ParseStatus(status, &parsed)) {
      return Error(400, absl::StrCat("status: unknown saga status '", status,
                                     "' (running, completed, compensating, "
                                     "compensated, failed)"));
    }
    list.set_status(parsed);
  }
  list.set_stuck(q("stuck") == "1" || q("stuck") == "true");
  int limit = 50;
  if (const std::string l = q("limit"); !l.empty()) {
    if (!absl::SimpleAtoi(l, &limit) || limit < 1 || limit > kMaxSagas) {
      return Error(400, absl::StrCat("limit: must be from 1 to ", kMaxSagas));
    }
  }
  // Sagas come newest first, so those since a time are a prefix of the walk.
  std::optional<absl::Time> since;
  if (const std::string s = q("since_seconds"); !s.empty()) {
    double seconds = 0;
    if (!absl::SimpleAtod(s, &seconds) || !(seconds > 0)) {
      return Error(400, "since_seconds: must be a number of seconds above 0");
    }
    since = absl::Now() - absl::Seconds(seconds);
  }
  auto stub = v1::SagaOrchestrator::NewStub(calls.Channel("orchestrator"));
  json sagas = json::array();
  list.set_page_size(limit);
  bool older = false;
  while (static_cast<int>(sagas.size()) < limit && !older) {
    grpc::ClientContext c;
    calls.Prepare(c);
    v1::ListSagasResponse page;
    grpc::Status s = stub->ListSagas(&c, list, &page);
    if (!s.ok()) return FromGrpc(s);
    for (const v1::Saga& saga : page.sagas()) {
      if (since.has_value() &&
          absl::FromUnixMicros(
              google::protobuf::util::TimeUtil::TimestampToMicroseconds(
                  saga.create_time())) < *since) {
        older = true;
        break;
      }
      if (static_cast<int>(sagas.size()) < limit) sagas.push_back(ToJson(saga));
    }
    if (page.next_page_token().empty()) break;
    list.set_page_token(page.next_page_token());
  }
  return Json(200, {{"sagas", sagas}});
}

HttpResponse GetSaga(Calls& calls, const ConsoleConfig& config,
                     const std::string& id) {
  auto stub = v1::SagaOrchestrator::NewStub(calls.Channel("orchestrator"));
  v1::GetSagaRequest get;
  // An order id is a saga's too: try the saga first, then the order.
  get.set_saga_id(id);
  get.set_steps_page_size(500);
  v1::Saga saga;
  grpc::Status s;
  for (int attempt = 0; attempt < 2; ++attempt) {
    grpc::ClientContext c;
    calls.Prepare(c);
    s = stub->GetSaga(&c, get, &saga);
    if (s.error_code() != grpc::StatusCode::NOT_FOUND) break;
    get.clear_saga_id();
    get.set_order_id(id);
  }
  if (!s.ok()) return FromGrpc(s);
  json body = ToJson(saga);
  body["trace_url"] =
      config.jaeger_url.empty() || saga.trace_id().empty()
          ? ""
          : absl::StrCat(config.jaeger_url, "/trace/", saga.trace_id());
  return Json(200, body);
}

HttpResponse Overview(Calls& calls, const ConsoleConfig& config) {
  auto admin = v1::AdminService::NewStub(calls.Channel("orchestrator"));
  grpc::ClientContext c;
  calls.Prepare(c);
  v1::ResilienceStatus status;
  grpc::Status s = admin->GetResilienceStatus(&c, {}, &status);
  if (!s.ok()) return FromGrpc(s);
  json services = json::array();
  for (const auto& [name, target] : config.services) services.push_back(name);
  return Json(200, {{"resilience", ToJson(status)},
                    {"services", services},
                    {"jaeger_url", config.jaeger_url},
                    {"now", absl::FormatTime(absl::Now())}});
}

HttpResponse GetChaos(Calls& calls, const ConsoleConfig& config) {
  json out = json::object();
  for (const auto& [name, target] : config.services) {
    auto chaos = v1::ChaosService::NewStub(calls.Channel(name));
    grpc::ClientContext c;
    calls.Prepare(c);
    v1::ChaosState state;
    grpc::Status s = chaos->GetChaos(&c, {}, &state);
    if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
        s.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
      return FromGrpc(s);
    }
    out[name] =
        s.ok() ? ToJson(state)
               : json{{"error", StatusCodeName(static_cast<absl::StatusCode>(
                                    s.error_code()))},
                      {"message", s.error_message()}};
  }
  return Json(200, {{"services", out}});
}

HttpResponse SetChaos(Calls& calls, const HttpRequest& request) {
  const json body = json::parse(request.body, nullptr, false);
  if (!body.is_object()) return Error(400, "the body must be a JSON object");
  const std::string service = body.value("service", "");
  auto channel = calls.Channel(service);
  if (channel == nullptr) {
    return Error(400, absl::StrCat("service: unknown service '", service, "'"));
  }
  v1::SetChaosRequest set;
  v1::ChaosRule* rule = set.mutable_rule();
  try {
    rule->set_method(body.value("method", ""));
    rule->set_failure_rate(body.value("failure_rate", 0.0));
    rule->set_latency_ms(body.value("latency_ms", int64_t{0}));
    rule->set_code(body.value("code", ""));
  } catch (const json::exception&) {
    return Error(400,
                 "method and code must be strings, failure_rate and "
                 "latency_ms numbers");
  }
  auto chaos = v1::ChaosService::NewStub(channel);
  grpc::ClientContext c;
  calls.Prepare(c);
  v1::ChaosState state;
  grpc::Status s = chaos->SetChaos(&c, set, &state);
  if (!s.ok()) return FromGrpc(s);
  return Json(200, ToJson(state));
}

HttpResponse ClearChaos(Calls& calls, const HttpRequest& request) {
  auto it = request.query.find("service");
  const std::string service = it == request.query.end() ? "" : it->second;
  auto channel = calls.Channel(service);
  if (channel == nullptr) {
    return Error(400, absl::StrCat("service: unknown service '", service, "'"));
  }
  auto chaos = v1::ChaosService::NewStub(channel);
  grpc::ClientContext c;
  calls.Prepare(c);
  v1::ChaosState state;
  grpc::Status s = chaos->ClearChaos(&c, {}, &state);
  if (!s.ok()) return FromGrpc(s);
  return Json(200, ToJson(state));
}

}  // namespace

absl::Status ConsoleConfig::Validate() const {
  if (!jaeger_url.empty() && !absl::StartsWith(jaeger_url, "http://") &&
      !absl::StartsWith(jaeger_url, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--jaeger-url: '", jaeger_url, "' is not an http:// or https:// URL"));
  }
  if (services.count("orchestrator") == 0) {
    return absl::InvalidArgumentError(
        "console: the orchestrator's own address is missing");
  }
  return absl::OkStatus();
}

std::string LoopbackAddress(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return listen;
  const std::string host = listen.substr(0, colon);
  if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") {
    return absl::StrCat("127.0.0.1", listen.substr(colon));
  }
  return listen;
}

Console::Console(ConsoleConfig config) : config_(std::move(config)) {
  // One channel per service for the console's life: each opens connections
  // and health watches, which a request must not pay for.
  for (const auto& [name, target] : config_.services) {
    channels_[name] = DialReplicas(target);
  }
}

HttpResponse Console::Handle(const HttpRequest& request) {
  absl::string_view route = request.path;
  absl::ConsumePrefix(&route, "/console");
  if (route.empty() || route == "/") {
    if (request.method != "GET") return Error(405, "GET only");
    return Asset("console.html");
  }
  if (absl::ConsumePrefix(&route, "/assets/")) {
    if (request.method != "GET") return Error(405, "GET only");
    return Asset(route);
  }
  if (absl::ConsumePrefix(&route, "/api/")) {
    return Api(request, std::string(route));
  }
  return Error(404, "no such page");
}

HttpResponse Console::Api(const HttpRequest& request,
                          const std::string& route) {
  std::string authorization;
  if (auto it = request.headers.find("authorization");
      it != request.headers.end()) {
    authorization = it->second;
  }
  if (authorization.empty() && !config_.insecure) {
    return Error(401, "log in with an operator's token");
  }
  // Only what gRPC metadata may carry goes on; the servers check the rest.
  if (!std::all_of(authorization.begin(), authorization.end(),
                   [](char c) { return c >= 0x20 && c <= 0x7e; })) {
    return Error(401, "the Authorization header must be 'Bearer <token>'");
  }
  Calls calls(channels_, authorization);
  const std::string& method = request.method;
  if (route == "overview" && method == "GET") return Overview(calls, config_);
  if (route == "sagas" && method == "GET") return ListSagas(calls, request);
  if (absl::StartsWith(route, "sagas/") && method == "GET") {
    return GetSaga(calls, config_, route.substr(6));
  }
  if (route == "chaos") {
    if (method == "GET") return GetChaos(calls, config_);
    if (method == "POST") return SetChaos(calls, request);
    if (method == "DELETE") return ClearChaos(calls, request);
  }
  return Error(404, absl::StrCat("no API ", method, " ", route));
}

}  // namespace sagaworks::orchestrator
