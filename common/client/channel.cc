#include "common/client/channel.h"

#include "common/security/tls.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace sagaworks {

std::shared_ptr<grpc::Channel> Dial(const std::string& address,
                                    int connection) {
  return Dial(address, security::ClientChannelCredentials(), connection);
}

std::shared_ptr<grpc::Channel> Dial(
    const std::string& address,
    std::shared_ptr<grpc::ChannelCredentials> credentials, int connection) {
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
  return grpc::CreateCustomChannel(address, std::move(credentials), args);
}

}  // namespace sagaworks
