#include "common/db/exec.h"

#include <functional>

#include "absl/strings/str_cat.h"

namespace sagaworks::db {

std::string StatementName(const std::string& sql) {
  // A 64-bit hash: two statements of one process colliding would make
  // libpqxx refuse the second definition loudly, not run the wrong one.
  return absl::StrCat("sw_", std::hash<std::string>{}(sql));
}

std::string ArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace sagaworks::db
