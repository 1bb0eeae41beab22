// Reply: the last line of most handlers. Moves a StatusOr's value into the
// response, or converts its error, in one place.
#ifndef SAGAWORKS_COMMON_GRPC_REPLY_H_
#define SAGAWORKS_COMMON_GRPC_REPLY_H_

#include <utility>

#include "absl/status/statusor.h"
#include "common/status.h"
#include "grpcpp/support/status.h"

namespace sagaworks {

template <typename T>
grpc::Status Reply(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace sagaworks

#endif  // SAGAWORKS_COMMON_GRPC_REPLY_H_
