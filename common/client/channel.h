// Dial: the one way sagaworks processes open a channel to another process.
#ifndef SAGAWORKS_COMMON_CLIENT_CHANNEL_H_
#define SAGAWORKS_COMMON_CLIENT_CHANNEL_H_

#include <memory>
#include <string>

#include "grpcpp/channel.h"

namespace sagaworks {

// Dial opens a plaintext channel to host:port. gRPC's default reconnect
// backoff grows to two minutes, so a peer that restarts after a long outage
// would stay unreachable long after it is back; here reconnects are retried
// every 100 ms at first and at least every 2 s.
std::shared_ptr<grpc::Channel> Dial(const std::string& address);

}  // namespace sagaworks

#endif  // SAGAWORKS_COMMON_CLIENT_CHANNEL_H_
