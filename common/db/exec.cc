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

std::vector<std::string> ArrayValues(const pqxx::field& field) {
  std::vector<std::string> out;
  if (field.is_null()) return out;
  pqxx::array_parser parser = field.as_array();
  while (true) {
    auto [juncture, value] = parser.get_next();
    switch (juncture) {
      case pqxx::array_parser::juncture::string_value:
        out.push_back(std::move(value));
        break;
      case pqxx::array_parser::juncture::null_value:
        out.emplace_back();
        break;
      case pqxx::array_parser::juncture::done:
        return out;
      default:
        break;
    }
  }
}

}  // namespace sagaworks::db
