#include "common/security/principal.h"

#include "absl/strings/str_cat.h"

namespace sagaworks::security {

const char* KindName(Principal::Kind kind) {
  switch (kind) {
    case Principal::Kind::kWorkload:
      return "workload";
    case Principal::Kind::kCustomer:
      return "customer";
    case Principal::Kind::kOperator:
      return "operator";
    case Principal::Kind::kUnverified:
      return "unverified";
  }
  return "unverified";
}

std::string Principal::Key() const { return absl::StrCat(KindName(kind), ":", name); }

}  // namespace sagaworks::security
