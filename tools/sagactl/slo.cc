#include "tools/sagactl/slo.h"

#include <cmath>
#include <exception>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/files.h"
#include "yaml-cpp/yaml.h"

namespace sagaworks::sagactl {
namespace {

absl::Status Bad(const std::string& source, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", what));
}

}  // namespace

absl::StatusOr<SloFile> ParseSlos(const std::string& yaml,
                                  const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const std::exception& e) {
    return Bad(source, absl::StrCat("not YAML: ", e.what()));
  }
  if (!root.IsMap()) return Bad(source, "expected a map with `slos`");
  SloFile file;
  try {
    if (root["window_days"]) file.window_days = root["window_days"].as<int>();
    if (file.window_days < 1 || file.window_days > 366) {
      return Bad(source, "window_days must be from 1 to 366");
    }
    const YAML::Node slos = root["slos"];
    if (!slos.IsSequence() || slos.size() == 0) {
      return Bad(source, "slos must list at least one SLO");
    }
    for (const YAML::Node& node : slos) {
      Slo slo;
      slo.name = node["name"] ? node["name"].as<std::string>() : "";
      if (slo.name != kOrderAvailability && slo.name != kSagaCompletion &&
          slo.name != kOrderLatency) {
        return Bad(source,
                   absl::StrCat("slos: unknown SLI '", slo.name, "' (",
                                kOrderAvailability, ", ", kSagaCompletion, ", ",
                                kOrderLatency, ")"));
      }
      for (const Slo& seen : file.slos) {
        if (seen.name == slo.name) {
          return Bad(source, absl::StrCat("slos: ", slo.name, " twice"));
        }
      }
      if (node["description"]) {
        slo.description = node["description"].as<std::string>();
      }
      slo.objective = node["objective"] ? node["objective"].as<double>() : 0;
      if (!(slo.objective > 0 && slo.objective < 1)) {
        return Bad(source, absl::StrCat(slo.name,
                                        ".objective must be between 0 and 1 "
                                        "(0.999 for 99.9%)"));
      }
      if (slo.name == kOrderLatency) {
        slo.threshold_seconds = node["threshold_seconds"]
                                    ? node["threshold_seconds"].as<double>()
                                    : 0;
        if (!(slo.threshold_seconds > 0)) {
          return Bad(
              source,
              absl::StrCat(slo.name, ".threshold_seconds must be above 0"));
        }
      }
      file.slos.push_back(slo);
    }
  } catch (const YAML::Exception& e) {
    return Bad(source, absl::StrCat("a value has the wrong type: ", e.what()));
  }
  return file;
}

absl::StatusOr<SloFile> LoadSlos(const std::string& path) {
  std::optional<std::string> text = ReadFile(path);
  if (!text.has_value()) {
    return absl::NotFoundError(absl::StrCat("--slo: cannot read ", path));
  }
  return ParseSlos(*text, path);
}

Budget MeasureBudget(const Slo& slo, int64_t good, int64_t total) {
  Budget b;
  const int64_t bad = total - good;
  const double budget_fraction = 1 - slo.objective;
  b.sli = total == 0 ? 1 : static_cast<double>(good) / total;
  b.allowed = budget_fraction * static_cast<double>(total);
  b.consumed = b.allowed > 0 ? bad / b.allowed : 0;
  b.burn_rate = (1 - b.sli) / budget_fraction;
  b.met = b.sli >= slo.objective;
  return b;
}

std::string BudgetLine(const Slo& slo, int64_t good, int64_t total,
                       int window_days) {
  const Budget b = MeasureBudget(slo, good, total);
  std::string what = slo.name;
  if (slo.name == kOrderLatency) {
    what = absl::StrFormat("%s (final within %g s)", slo.name,
                           slo.threshold_seconds);
  }
  std::string lasts;
  if (b.burn_rate > 0) {
    lasts = absl::StrFormat(" (a %d-day budget would last %.1f days)",
                            window_days, window_days / b.burn_rate);
  }
  return absl::StrFormat(
      "SLO %s %g%%: SLI %.3f%% (%d bad of %d); budget %.1f bad, %.0f%% "
      "consumed; burn rate %.2f%s: %s",
      what, slo.objective * 100, b.sli * 100, total - good, total, b.allowed,
      b.consumed * 100, b.burn_rate, lasts, b.met ? "met" : "MISSED");
}

}  // namespace sagaworks::sagactl
