// Starting, watching and stopping child processes, for sagactl and for the
// end-to-end tests (which run the real binaries).
#ifndef SAGAWORKS_COMMON_LOCAL_SUBPROCESS_H_
#define SAGAWORKS_COMMON_LOCAL_SUBPROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sagaworks::local {

struct SpawnOptions {
  std::vector<std::string> argv;
  // stdout and stderr are appended here; empty inherits the parent's.
  std::string log_file;
  // Detaches the child into its own session, so it outlives the terminal
  // (and a Ctrl-C meant for sagactl).
  bool new_session = true;
  // Where the child starts; empty: the caller's. A child that runs as
  // another user (PostgreSQL's tools, Patroni) needs one that user may
  // enter.
  std::string working_dir;
};

// Spawn starts argv[0] (a path) with the caller's environment.
absl::StatusOr<pid_t> Spawn(const SpawnOptions& options);

// Run runs argv to completion, capturing stdout and stderr into *output, and
// fails with the output when the exit code is not 0.
absl::Status Run(const std::vector<std::string>& argv, std::string* output);

// IsAlive tells whether pid still runs (reaping it if it is our exited child).
bool IsAlive(pid_t pid);

// Terminate sends SIGTERM, waits up to `grace` for the process to exit, then
// sends SIGKILL. OK when the process is gone.
absl::Status Terminate(pid_t pid, absl::Duration grace);

// CommandLine is pid's argv, NUL-separated, as /proc has it ("" when
// unreadable): to tell whether a pid from a pid file is still the process
// that wrote it, before signalling it.
std::string CommandLine(pid_t pid);

// Kill sends SIGKILL and waits (briefly) until the process is gone.
absl::Status Kill(pid_t pid);

// FreePort picks a loopback port no one listens on now, below the kernel's
// range of ephemeral ports (so no outgoing connection takes it a moment
// later), and reserves it for the rest of this process's life with a lock
// file under /tmp/sagaworks-ports, so that processes picking ports at once
// (tests run in parallel) never get the same one.
absl::StatusOr<int> FreePort();

// ExecutableDir is the directory of the running binary.
std::string ExecutableDir();

// RunningAsRoot: PostgreSQL refuses to run as root, so callers switch to the
// postgres system user for its commands.
bool RunningAsRoot();

}  // namespace sagaworks::local

#endif  // SAGAWORKS_COMMON_LOCAL_SUBPROCESS_H_
