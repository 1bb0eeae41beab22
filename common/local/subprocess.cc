#include "common/local/subprocess.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace sagaworks::local {
namespace {

std::vector<char*> CArgv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const std::string& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

// Child side of fork: only async-signal-safe calls until exec.
[[noreturn]] void ExecChild(const std::vector<char*>& argv, int out_fd,
                            bool new_session, const char* working_dir) {
  if (new_session) setsid();
  if (working_dir != nullptr && chdir(working_dir) != 0) {
    const char msg[] = "cannot enter the working directory\n";
    (void)!write(out_fd >= 0 ? out_fd : STDERR_FILENO, msg, sizeof msg - 1);
    _exit(127);
  }
  // Children must not inherit sagactl's blocked SIGTERM/SIGINT.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (out_fd >= 0) {
    dup2(out_fd, STDOUT_FILENO);
    dup2(out_fd, STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
  }
  execv(argv[0], argv.data());
  const char msg[] = "exec failed\n";
  (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
  _exit(127);
}

}  // namespace

absl::StatusOr<pid_t> Spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("empty argv");
  if (access(options.argv[0].c_str(), X_OK) != 0) {
    return absl::NotFoundError(
        absl::StrCat(options.argv[0], " is not an executable file"));
  }
  int fd = -1;
  if (!options.log_file.empty()) {
    fd = open(options.log_file.c_str(),
              O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      return absl::UnavailableError(absl::StrCat(
          "cannot open ", options.log_file, ": ", std::strerror(errno)));
    }
  }
  std::vector<char*> argv = CArgv(options.argv);
  const pid_t pid = fork();
  if (pid == 0) {
    ExecChild(
        argv, fd, options.new_session,
        options.working_dir.empty() ? nullptr : options.working_dir.c_str());
  }
  if (fd >= 0) close(fd);
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  return pid;
}

std::string CommandLine(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"));
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

absl::Status Run(const std::vector<std::string>& argv, std::string* output) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  std::vector<char*> cargv = CArgv(argv);
  const pid_t pid = fork();
  if (pid == 0) {
    close(pipefd[0]);
    ExecChild(cargv, pipefd[1], /*new_session=*/false,
              /*working_dir=*/nullptr);
  }
  close(pipefd[1]);
  if (pid < 0) {
    close(pipefd[0]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  std::string captured;
  char buf[4096];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0 ||
         (n < 0 && errno == EINTR)) {
    if (n > 0) captured.append(buf, static_cast<size_t>(n));
  }
  close(pipefd[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (output != nullptr) *output = captured;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(
        absl::StrJoin(argv, " "), " failed (status ", status, "): ", captured));
  }
  return absl::OkStatus();
}

bool IsAlive(pid_t pid) {
  if (pid <= 0) return false;
  int status;
  const pid_t r = waitpid(pid, &status, WNOHANG);
  if (r == pid) return false;  // our child, now reaped
  if (r == 0) return true;     // our child, still running
  // Not our child. An exited process whose parent has not reaped it yet is
  // a zombie: signals still "reach" it, but it is gone for our purposes.
  if (kill(pid, 0) != 0 && errno != EPERM) return false;
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(stat, line)) return false;
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() ||
         line[paren + 2] != 'Z';
}

absl::Status Terminate(pid_t pid, absl::Duration grace) {
  if (!IsAlive(pid)) return absl::OkStatus();
  kill(pid, SIGTERM);
  const absl::Time deadline = absl::Now() + grace;
  while (absl::Now() < deadline) {
    if (!IsAlive(pid)) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Kill(pid);
}

absl::Status Kill(pid_t pid) {
  if (!IsAlive(pid)) return absl::OkStatus();
  kill(pid, SIGKILL);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    if (!IsAlive(pid)) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("process ", pid, " did not exit after SIGKILL"));
}

namespace {

// CanBind: nothing listens on the loopback `port` now.
bool CanBind(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok =
      bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

// The first port of the kernel's ephemeral range (32768 by default).
int EphemeralLow() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0, high = 0;
  if (range >> low >> high && low > 0) return low;
  return 32768;
}

}  // namespace

absl::StatusOr<int> FreePort() {
  constexpr int kFirst = 10000;
  const int last = EphemeralLow() - 1;
  if (last <= kFirst) {
    return absl::FailedPreconditionError(
        "the kernel's ephemeral ports start below 10001: no room for test "
        "ports (net.ipv4.ip_local_port_range)");
  }
  const std::string dir = "/tmp/sagaworks-ports";
  // Shared by every user who runs tests here, like /tmp itself.
  if (mkdir(dir.c_str(), 01777) == 0) chmod(dir.c_str(), 01777);
  static absl::Mutex mu;
  static std::mt19937 rng(std::random_device{}() ^
                          static_cast<unsigned>(getpid()));
  absl::MutexLock lock(&mu);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int port = std::uniform_int_distribution<int>(kFirst, last)(rng);
    const std::string path = absl::StrCat(dir, "/", port);
    const int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      close(fd);  // another process holds it
      continue;
    }
    if (!CanBind(port)) {
      close(fd);
      continue;
    }
    // The lock stays held (its descriptor open) until this process ends.
    return port;
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("no free loopback port in ", kFirst, "-", last));
}

std::string ExecutableDir() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/'));
}

bool RunningAsRoot() { return geteuid() == 0; }

}  // namespace sagaworks::local
