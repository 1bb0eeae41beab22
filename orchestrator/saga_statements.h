// What the saga store's two create paths share: how a saga's request and
// context go into their columns.
#ifndef SAGAWORKS_ORCHESTRATOR_SAGA_STATEMENTS_H_
#define SAGAWORKS_ORCHESTRATOR_SAGA_STATEMENTS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "sagaworks/v1/orchestrator.pb.h"

namespace sagaworks::orchestrator::internal {

// ByteaParam is `bytes` as a bytea parameter in hex form.
inline std::string ByteaParam(const std::string& bytes) {
  return absl::StrCat("\\x", absl::BytesToHexString(bytes));
}

// Payload is the StartSaga request as the saga's payload column keeps it
// (JSON with the proto field names).
absl::StatusOr<std::string> Payload(const v1::StartSagaRequest& request);

}  // namespace sagaworks::orchestrator::internal

#endif  // SAGAWORKS_ORCHESTRATOR_SAGA_STATEMENTS_H_
