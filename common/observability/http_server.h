// HttpServer: the process's HTTP port, for Prometheus and orchestrators:
//   /metrics        the registry in the Prometheus text format
//   /health/live    200 while the process runs
//   /health/startup 200 once `started` says so (migrations applied, pools
//                   open, serving), else 503 naming the step under way
//   /health/ready   200 when `ready` says so (its database answers), else 503
// and whatever the process mounts under a prefix of its own (the
// orchestrator's operator console under /console).
#ifndef SAGAWORKS_COMMON_OBSERVABILITY_HTTP_SERVER_H_
#define SAGAWORKS_COMMON_OBSERVABILITY_HTTP_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/observability/metrics.h"

namespace httplib {
class Server;
}

namespace sagaworks::metrics {

// HttpRequest and HttpResponse: what a mounted handler sees and answers,
// without the HTTP library's types.
struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};
struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  // `ready` answers /health/ready and `started` /health/startup: OK, or why
  // not.
  HttpServer(Registry& registry, std::function<absl::Status()> ready,
             std::function<absl::Status()> started);
  ~HttpServer();

  // Start listens on host:port (port 0 picks one) and serves on a thread.
  absl::Status Start(const std::string& listen);
  // Mount serves every path equal to `prefix` or under `prefix` + "/" with
  // `handler`; safe while serving (the HTTP port opens before the process
  // has built what its handlers need).
  void Mount(const std::string& prefix, HttpHandler handler);
  void Stop();
  int port() const { return port_; }

 private:
  Registry& registry_;
  std::function<absl::Status()> ready_;
  std::function<absl::Status()> started_;
  std::unique_ptr<httplib::Server> server_;
  absl::Mutex mu_;
  std::map<std::string, HttpHandler> mounts_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
  int port_ = 0;
};

}  // namespace sagaworks::metrics

#endif  // SAGAWORKS_COMMON_OBSERVABILITY_HTTP_SERVER_H_
