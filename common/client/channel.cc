#include "common/client/channel.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/security/tls.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace sagaworks {

std::shared_ptr<grpc::Channel> Dial(const std::string& address,
                                    int connection) {
  return Dial(address, security::ClientChannelCredentials(), connection);
}

namespace {

grpc::ChannelArguments BaseArguments(int connection) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  // gRPC reads this as the time a connection attempt gets to complete. A
  // TLS handshake on a busy machine takes longer than the 100 ms of the
  // reconnect backoff, and attempts cut short would fail every call.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 5000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // Bandwidth probing sizes HTTP/2 windows for bulk transfers; these calls
  // carry a few hundred bytes, and the probe pings cost wake-ups on both
  // ends of every busy connection.
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt("sagaworks.connection", connection);
  return args;
}

constexpr absl::string_view kTargetForms =
    "; a service's replicas are host:port, ipv4:host:port,host:port,... or "
    "dns:///name:port";

// host:port with a port from 1 to 65535; an IPv6 host in brackets.
absl::Status ValidateHostPort(absl::string_view target,
                              absl::string_view address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 1 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", target, "': '", address,
                     "' is not host:port (port 1-65535)", kTargetForms));
  }
  return absl::OkStatus();
}

}  // namespace

std::shared_ptr<grpc::Channel> Dial(
    const std::string& address,
    std::shared_ptr<grpc::ChannelCredentials> credentials, int connection) {
  return grpc::CreateCustomChannel(address, std::move(credentials),
                                   BaseArguments(connection));
}

std::shared_ptr<grpc::Channel> DialReplicas(const std::string& target,
                                            int connection) {
  grpc::ChannelArguments args = BaseArguments(connection);
  // Health "" is the whole process's: NOT_SERVING while it drains or its
  // database is unreachable (common/server/process.cc).
  args.SetServiceConfigJSON(R"({"loadBalancingConfig": [{"round_robin": {}}],)"
                            R"( "healthCheckConfig": {"serviceName": ""}})");
  // A list of addresses has no name of its own to check the replicas'
  // certificates against; they all carry their service's certificate, so
  // the first one's host stands for all.
  absl::string_view rest = target;
  if (absl::ConsumePrefix(&rest, "ipv4:") ||
      absl::ConsumePrefix(&rest, "ipv6:")) {
    const absl::string_view first = rest.substr(0, rest.find(','));
    std::string host(first.substr(0, first.rfind(':')));
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, host);
  }
  return grpc::CreateCustomChannel(target, security::ClientChannelCredentials(),
                                   args);
}

absl::Status ValidateTarget(absl::string_view target) {
  absl::string_view rest = target;
  if (absl::ConsumePrefix(&rest, "dns:")) {
    if (absl::ConsumePrefix(&rest, "//")) {
      const size_t slash = rest.find('/');
      if (slash == absl::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            "address '", target, "': dns://AUTHORITY/ needs a / before ",
            "host:port", kTargetForms));
      }
      rest.remove_prefix(slash + 1);
    }
    return ValidateHostPort(target, rest);
  }
  if (absl::ConsumePrefix(&rest, "ipv4:") ||
      absl::ConsumePrefix(&rest, "ipv6:")) {
    for (absl::string_view one : absl::StrSplit(rest, ',')) {
      if (absl::Status s = ValidateHostPort(target, one); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  return ValidateHostPort(target, rest);
}

}  // namespace sagaworks
