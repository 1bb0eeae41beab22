#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace sagaworks {

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& text, mode_t mode) {
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot write ", tmp));
  }
  const bool written =
      write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  fchmod(fd, mode);
  close(fd);
  if (!written || rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

}  // namespace sagaworks
