#include "web/assets.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_replace.h"

namespace sagaworks::web {

// Generated from the files by sagaworks_embed_files.
const std::vector<std::pair<std::string_view, std::string_view>>&
EmbeddedFiles();

std::optional<absl::string_view> Asset(absl::string_view name) {
  for (const auto& [file, content] : EmbeddedFiles()) {
    if (absl::string_view(file.data(), file.size()) == name) {
      return absl::string_view(content.data(), content.size());
    }
  }
  return std::nullopt;
}

std::string RenderReport(absl::string_view data_json) {
  // Inside <script>, "</" would end the element early; "<\/" is the same
  // JSON string and the same JavaScript.
  const std::string data = absl::StrReplaceAll(data_json, {{"</", "<\\/"}});
  const auto inline_script = [](absl::string_view name) {
    return absl::StrReplaceAll(Asset(name).value_or(""), {{"</", "<\\/"}});
  };
  return absl::StrReplaceAll(
      Asset("report.html").value_or(""),
      {{"/*SAGAWORKS_CHART_JS*/", inline_script("chart.min.js")},
       {"/*SAGAWORKS_CHARTS_JS*/", inline_script("charts.js")},
       {"/*SAGAWORKS_REPORT_JS*/", inline_script("report.js")},
       {"/*SAGAWORKS_REPORT_DATA*/", data}});
}

}  // namespace sagaworks::web
