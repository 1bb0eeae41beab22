// Fuzzes the Prometheus exposition writer with odd label values (a label
// value can come from a caller: a method name, a downstream): the page
// stays one sample per line, and reading each label value back through the
// format's escapes gives the value that was set.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/observability/metrics.h"

namespace {

// ReadLabels parses `{a="x",b="y"}` at the start of `s` into its values,
// undoing the escapes \\, \" and \n; false when it is malformed.
bool ReadLabels(absl::string_view s, std::vector<std::string>* values) {
  size_t i = 0;
  if (s.empty() || s[i++] != '{') return false;
  while (i < s.size() && s[i] != '}') {
    const size_t eq = s.find("=\"", i);
    if (eq == absl::string_view::npos) return false;
    i = eq + 2;
    std::string value;
    while (true) {
      if (i >= s.size()) return false;
      const char c = s[i++];
      if (c == '"') break;
      if (c == '\n') return false;
      if (c != '\\') {
        value += c;
        continue;
      }
      if (i >= s.size()) return false;
      const char e = s[i++];
      if (e == 'n') {
        value += '\n';
      } else if (e == '\\' || e == '"') {
        value += e;
      } else {
        return false;
      }
    }
    values->push_back(value);
    if (i < s.size() && s[i] == ',') ++i;
  }
  return i < s.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sagaworks::metrics;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t half = input.size() / 2;
  const std::vector<std::string> set = {input.substr(0, half),
                                        input.substr(half)};
  Registry registry;
  registry.Counter("fuzz_total", "Fuzzed labels.", {"a", "b"}).With(set).Add(1);
  const std::string page = registry.Render();
  bool found = false;
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    if (!absl::ConsumePrefix(&line, "fuzz_total")) abort();
    std::vector<std::string> values;
    if (!ReadLabels(line, &values)) abort();
    if (values != set) abort();
    found = true;
  }
  if (!found) abort();
  return 0;
}
