// Reading and writing whole files: the configuration, certificates and keys
// a process is pointed at.
#ifndef SAGAWORKS_COMMON_FILES_H_
#define SAGAWORKS_COMMON_FILES_H_

#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/status/status.h"

namespace sagaworks {

// ReadFile is the whole of `path`; nullopt when it cannot be read.
std::optional<std::string> ReadFile(const std::string& path);

// WriteFileAtomically replaces `path` whole with `text` and `mode`: a reader
// (a certificate watcher) sees the old file or the new one, never half.
absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& text, mode_t mode);

}  // namespace sagaworks

#endif  // SAGAWORKS_COMMON_FILES_H_
