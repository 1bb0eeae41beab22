// HttpServer: the process's HTTP port, for Prometheus and orchestrators:
//   /metrics        the registry in the Prometheus text format
//   /health/live    200 while the process runs
//   /health/startup 200 once `started` says so (migrations applied, pools
//                   open, serving), else 503 naming the step under way
//   /health/ready   200 when `ready` says so (its database answers), else 503
#ifndef SAGAWORKS_COMMON_OBSERVABILITY_HTTP_SERVER_H_
#define SAGAWORKS_COMMON_OBSERVABILITY_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "common/observability/metrics.h"

namespace httplib {
class Server;
}

namespace sagaworks::metrics {

class HttpServer {
 public:
  // `ready` answers /health/ready and `started` /health/startup: OK, or why
  // not.
  HttpServer(Registry& registry, std::function<absl::Status()> ready,
             std::function<absl::Status()> started);
  ~HttpServer();

  // Start listens on host:port (port 0 picks one) and serves on a thread.
  absl::Status Start(const std::string& listen);
  void Stop();
  int port() const { return port_; }

 private:
  Registry& registry_;
  std::function<absl::Status()> ready_;
  std::function<absl::Status()> started_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace sagaworks::metrics

#endif  // SAGAWORKS_COMMON_OBSERVABILITY_HTTP_SERVER_H_
