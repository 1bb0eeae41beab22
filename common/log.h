// Structured logging: one JSON object per line on stderr, which sagactl
// sends to .sagaworks/logs/<service>.log.
#ifndef SAGAWORKS_COMMON_LOG_H_
#define SAGAWORKS_COMMON_LOG_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace sagaworks {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// SetLogService names the process in every line ("order-service").
void SetLogService(absl::string_view service);
// SetLogLevel drops lines below `level`.
void SetLogLevel(LogLevel level);
// ParseLogLevel accepts "debug", "info", "warning", "error".
bool ParseLogLevel(absl::string_view text, LogLevel* level);

// Extra key/value pairs of a line, under "fields".
using LogFields = std::vector<std::pair<std::string, std::string>>;

// Log writes one JSON object: time, level, service, trace_id and span_id (of
// the span current on this thread, if any), message, fields.
void Log(LogLevel level, absl::string_view message,
         const LogFields& fields = {});
inline void LogInfo(absl::string_view message, const LogFields& fields = {}) {
  Log(LogLevel::kInfo, message, fields);
}
inline void LogWarning(absl::string_view message,
                       const LogFields& fields = {}) {
  Log(LogLevel::kWarning, message, fields);
}
inline void LogError(absl::string_view message) {
  Log(LogLevel::kError, message);
}

}  // namespace sagaworks

#endif  // SAGAWORKS_COMMON_LOG_H_
