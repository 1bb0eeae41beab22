#include "common/log.h"

#include <atomic>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/observability/trace.h"

namespace sagaworks {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
// Set once at start-up, before any thread logs.
std::string* g_service = new std::string("sagaworks");

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

void AppendJsonString(std::string* out, absl::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

}  // namespace

void SetLogService(absl::string_view service) {
  *g_service = std::string(service);
}

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }

bool ParseLogLevel(absl::string_view text, LogLevel* level) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning,
                     LogLevel::kError}) {
    if (text == LevelName(l)) {
      *level = l;
      return true;
    }
  }
  return false;
}

void Log(LogLevel level, absl::string_view message, const LogFields& fields) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  std::string line =
      absl::StrCat("{\"time\":\"",
                   absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                    absl::UTCTimeZone()),
                   "\",\"level\":\"", LevelName(level), "\",\"service\":");
  AppendJsonString(&line, *g_service);
  // The span this thread works in, so a line leads to its trace.
  const trace::SpanContext& span = trace::CurrentContext();
  if (span.valid()) {
    absl::StrAppend(&line, ",\"trace_id\":\"", span.TraceIdHex(),
                    "\",\"span_id\":\"", span.SpanIdHex(), "\"");
  }
  line.append(",\"message\":");
  AppendJsonString(&line, message);
  if (!fields.empty()) {
    line.append(",\"fields\":{");
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i > 0) line.push_back(',');
      AppendJsonString(&line, fields[i].first);
      line.push_back(':');
      AppendJsonString(&line, fields[i].second);
    }
    line.push_back('}');
  }
  line.append("}\n");
  // One write per line keeps concurrent lines whole.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace sagaworks
