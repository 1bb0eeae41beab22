// Console: the operator console on the orchestrator's HTTP port.
//   /console               the page (web/console.html)
//   /console/assets/NAME   its script, style sheet and Chart.js
//   /console/api/...       JSON for the page, each a gRPC call made on the
//                          caller's behalf with the caller's bearer token:
//     GET    overview        this orchestrator's breakers and call counts
//     GET    sagas           ?status=&stuck=1&since_seconds=&limit=
//     GET    sagas/ID        one saga (or an order's) with its timeline
//     GET    chaos           each service's fault-injection rules
//     POST   chaos           {"service","method","failure_rate",
//                             "latency_ms","code"} sets a rule
//     DELETE chaos?service=  clears a service's rules
// The gRPC servers authorize each call as they authorize any other: only an
// operator's token gets answers (UNAUTHENTICATED and PERMISSION_DENIED come
// back as 401 and 403). The page keeps the token in the tab's session
// storage and sends it as a header, never as a cookie, so another site
// cannot make a browser call the API.
#ifndef SAGAWORKS_ORCHESTRATOR_CONSOLE_H_
#define SAGAWORKS_ORCHESTRATOR_CONSOLE_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/observability/http_server.h"
#include "grpcpp/channel.h"

namespace sagaworks::orchestrator {

struct ConsoleConfig {
  // Target per service name the console reaches ("orchestrator" is this
  // process's own gRPC address).
  std::map<std::string, std::string> services;
  // Base URL of the trace viewer; a saga's trace is <jaeger_url>/trace/<id>.
  // Empty: no links.
  std::string jaeger_url;
  // The trust boundary is off (--insecure): the API asks for no token.
  bool insecure = false;

  absl::Status Validate() const;
};

// LoopbackAddress is where this host reaches a server listening on `listen`
// ("0.0.0.0:50055" -> "127.0.0.1:50055"; a named host stays).
std::string LoopbackAddress(const std::string& listen);

class Console {
 public:
  explicit Console(ConsoleConfig config);

  // Handle answers every request under /console.
  metrics::HttpResponse Handle(const metrics::HttpRequest& request);

 private:
  metrics::HttpResponse Api(const metrics::HttpRequest& request,
                            const std::string& route);

  const ConsoleConfig config_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
};

}  // namespace sagaworks::orchestrator

#endif  // SAGAWORKS_ORCHESTRATOR_CONSOLE_H_
