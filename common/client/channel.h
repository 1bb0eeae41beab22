// Dial: the one way sagaworks processes open a channel to another process.
#ifndef SAGAWORKS_COMMON_CLIENT_CHANNEL_H_
#define SAGAWORKS_COMMON_CLIENT_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"

namespace sagaworks {

// Dial opens a channel to host:port, with the process's transport security
// (security::SetClientTls: mutual TLS, or plaintext). gRPC's default reconnect
// backoff grows to two minutes, so a peer that restarts after a long outage
// would stay unreachable long after it is back; here reconnects are retried
// every 100 ms at first and at least every 2 s, each attempt getting up to
// 5 s to connect and finish its handshake.
//
// Channels to one address with the same settings share one connection (gRPC
// keeps one subchannel per address and settings), whatever number of them
// is opened. `connection` tells them apart: channels opened with different
// numbers each have their own connection.
std::shared_ptr<grpc::Channel> Dial(const std::string& address,
                                    int connection = 0);

// The same with other credentials than the process's: a client that calls
// as a customer (a bearer token over TLS), or as another workload.
std::shared_ptr<grpc::Channel> Dial(
    const std::string& address,
    std::shared_ptr<grpc::ChannelCredentials> credentials, int connection = 0);

// DialReplicas opens a channel to every replica of a service, `target`
// being one address ("host:port"), a list ("ipv4:127.0.0.1:50052,
// 127.0.0.1:50152") or a DNS name with many addresses ("dns:///payment:
// 50052"). Calls go round-robin over the replicas whose grpc.health.v1
// status is SERVING: each connection watches its server's health, so a
// replica that starts draining, or loses its database, stops getting calls
// as soon as it says so, and one that is down at once.
std::shared_ptr<grpc::Channel> DialReplicas(const std::string& target,
                                            int connection = 0);

// ValidateTarget accepts what DialReplicas dials: host:port, "dns:" followed
// by an optional "//authority/" and host:port, or "ipv4:"/"ipv6:" followed by
// a comma-separated list of host:port; every port from 1 to 65535.
absl::Status ValidateTarget(absl::string_view target);

}  // namespace sagaworks

#endif  // SAGAWORKS_COMMON_CLIENT_CHANNEL_H_
