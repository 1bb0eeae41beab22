// Short lower-case names for proto enum values, as stored in the database and
// shown by sagactl: ORDER_STATUS_PENDING <-> "pending".
#ifndef SAGAWORKS_COMMON_ENUM_NAMES_H_
#define SAGAWORKS_COMMON_ENUM_NAMES_H_

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace sagaworks {

// ShortEnumName strips `prefix` from a proto enum value name and lower-cases
// it; "" for the zero (UNSPECIFIED) value.
template <typename E, typename NameFn>
std::string ShortEnumName(E value, NameFn name_of, absl::string_view prefix) {
  if (static_cast<int>(value) == 0) return "";
  std::string name = name_of(value);
  absl::string_view rest = name;
  absl::ConsumePrefix(&rest, prefix);
  return absl::AsciiStrToLower(rest);
}

// ParseShortEnumName is the inverse; false when no value has that name.
template <typename E, typename ParseFn>
bool ParseShortEnumName(absl::string_view short_name, ParseFn parse,
                        absl::string_view prefix, E* out) {
  return parse(absl::StrCat(prefix, absl::AsciiStrToUpper(short_name)), out);
}

}  // namespace sagaworks

#endif  // SAGAWORKS_COMMON_ENUM_NAMES_H_
