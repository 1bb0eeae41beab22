#include "common/status.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/validation.h"

namespace sagaworks {

// absl and gRPC share the canonical code numbering (google.rpc.Code), so the
// conversion is a cast in both directions. A message may quote what the
// caller sent: it is cleaned and cut, so that a huge value cannot make the
// trailer larger than a client accepts (it would see RESOURCE_EXHAUSTED
// instead of the answer) and control characters cannot reach a terminal.
grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      CleanText(status.message(), kMaxStatusMessageBytes));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

std::string StatusCodeName(absl::StatusCode code) {
  return absl::AsciiStrToUpper(absl::StatusCodeToString(code));
}

bool IsFinalError(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kUnimplemented:
      return true;
    default:
      return false;
  }
}

std::string DescribeStatus(const absl::Status& status) {
  if (status.ok()) return "OK";
  return absl::StrCat(StatusCodeName(status.code()), ": ", status.message());
}

}  // namespace sagaworks
