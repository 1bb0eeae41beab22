#include "common/observability/http_server.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"

namespace sagaworks::metrics {

namespace {

// Probe answers a probe from `check`: 200 "ok", or 503 with why not.
void Probe(const std::function<absl::Status()>& check, const char* what,
           httplib::Response& res) {
  const absl::Status s = check();
  if (s.ok()) {
    res.set_content("ok\n", "text/plain");
  } else {
    res.status = 503;
    res.set_content(absl::StrCat(what, ": ", s.message(), "\n"), "text/plain");
  }
}

}  // namespace

HttpServer::HttpServer(Registry& registry, std::function<absl::Status()> ready,
                       std::function<absl::Status()> started)
    : registry_(registry),
      ready_(std::move(ready)),
      started_(std::move(started)),
      server_(std::make_unique<httplib::Server>()) {
  server_->Get(
      "/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(registry_.Render(), "text/plain; version=0.0.4");
      });
  server_->Get("/health/live",
               [](const httplib::Request&, httplib::Response& res) {
                 res.set_content("ok\n", "text/plain");
               });
  server_->Get("/health/ready",
               [this](const httplib::Request&, httplib::Response& res) {
                 Probe(ready_, "not ready", res);
               });
  server_->Get("/health/startup",
               [this](const httplib::Request&, httplib::Response& res) {
                 Probe(started_, "not started", res);
               });
  // Registered last, so the routes above come first: everything else goes
  // to the handler mounted over its path, if any.
  const auto mounted = [this](const httplib::Request& req,
                              httplib::Response& res) {
    HttpHandler handler;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [prefix, h] : mounts_) {
        if (req.path == prefix || absl::StartsWith(req.path, prefix + "/")) {
          handler = h;
          break;
        }
      }
    }
    if (!handler) {
      res.status = 404;
      res.set_content("not found\n", "text/plain");
      return;
    }
    HttpRequest request;
    request.method = req.method;
    request.path = req.path;
    for (const auto& [k, v] : req.params) request.query.emplace(k, v);
    for (const auto& [k, v] : req.headers) {
      request.headers.emplace(absl::AsciiStrToLower(k), v);
    }
    request.body = req.body;
    const HttpResponse response = handler(request);
    res.status = response.status;
    for (const auto& [k, v] : response.headers) res.set_header(k, v);
    res.set_content(response.body, response.content_type);
  };
  server_->Get("/.*", mounted);
  server_->Post("/.*", mounted);
  server_->Delete("/.*", mounted);
}

void HttpServer::Mount(const std::string& prefix, HttpHandler handler) {
  absl::MutexLock lock(&mu_);
  mounts_[prefix] = std::move(handler);
}

HttpServer::~HttpServer() { Stop(); }

absl::Status HttpServer::Start(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http-listen: '", listen, "' is not host:port"));
  }
  const std::string host = listen.substr(0, colon);
  if (port == 0) {
    port_ = server_->bind_to_any_port(host);
  } else {
    port_ = server_->bind_to_port(host, port) ? port : -1;
  }
  if (port_ < 0) {
    return absl::UnavailableError(
        absl::StrCat("--http-listen: cannot listen on ", listen));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return absl::OkStatus();
}

void HttpServer::Stop() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

}  // namespace sagaworks::metrics
