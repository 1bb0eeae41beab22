// Conversions between absl::Status (used everywhere inside sagaworks) and
// grpc::Status (used only at the edge: service adapters and clients).
#ifndef SAGAWORKS_COMMON_STATUS_H_
#define SAGAWORKS_COMMON_STATUS_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace sagaworks {

// The most of a status message a caller is sent, in bytes.
inline constexpr size_t kMaxStatusMessageBytes = 1024;

// ToGrpcStatus converts at a service adapter's return; the message is made
// printable and cut to kMaxStatusMessageBytes.
grpc::Status ToGrpcStatus(const absl::Status& status);

// FromGrpcStatus converts a downstream call's result into a Status.
absl::Status FromGrpcStatus(const grpc::Status& status);

// StatusCodeName returns "NOT_FOUND", "UNAVAILABLE", ... for a code.
std::string StatusCodeName(absl::StatusCode code);

// IsFinalError tells a refusal that retrying cannot change
// (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, ...) from a transient
// failure (UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, ...).
bool IsFinalError(const absl::Status& status);

// DescribeStatus returns "CODE: message", the form errors take in logs and in
// the saga step log.
std::string DescribeStatus(const absl::Status& status);

}  // namespace sagaworks

#endif  // SAGAWORKS_COMMON_STATUS_H_
