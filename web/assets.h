// The web pages compiled into the binaries (web/CMakeLists.txt): the
// operator console's files and the load report's template, and Chart.js.
#ifndef SAGAWORKS_WEB_ASSETS_H_
#define SAGAWORKS_WEB_ASSETS_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace sagaworks::web {

// Asset is the file named `name` ("console.js", "chart.min.js"), or nullopt.
std::optional<absl::string_view> Asset(absl::string_view name);

// RenderReport is the load report: report.html with its scripts and
// Chart.js inlined and `data_json` (the JSON `sagactl load --json` prints)
// as its data, one page that needs nothing else.
std::string RenderReport(absl::string_view data_json);

}  // namespace sagaworks::web

#endif  // SAGAWORKS_WEB_ASSETS_H_
