#include "tests/testing/leftovers.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/local/ha_cluster.h"
#include "common/local/postgres_cluster.h"
#include "common/local/subprocess.h"

namespace sagaworks::testing {
namespace {

constexpr char kOwnerFile[] = "/owner";

// StopServices kills the services a dead end-to-end run under `home` left
// running (their pid files are in <home>/.sagaworks/run). A pid counts only
// while its command line still names that home (its certificates, its
// database's password file), so a pid the system has since given to
// another process is never signalled.
void StopServices(const std::string& home) {
  const std::string state = home + "/.sagaworks/";
  std::error_code error;
  for (const auto& file :
       std::filesystem::directory_iterator(state + "run", error)) {
    std::ifstream in(file.path());
    std::string text;
    int pid = 0;
    if (!std::getline(in, text) || !absl::SimpleAtoi(text, &pid) || pid <= 0) {
      continue;
    }
    const std::string args = local::CommandLine(pid);
    if (absl::StrContains(args, "--database-url=") &&
        absl::StrContains(args, state)) {
      (void)local::Kill(pid);
    }
  }
}

}  // namespace

void MarkOwned(const std::string& dir) {
  std::ofstream(dir + kOwnerFile) << getpid() << "\n";
}

void RemoveLeftovers(const std::string& prefix, const std::string& data_dir) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/tmp", error)) {
    const std::string dir = entry.path().string();
    if (!absl::StartsWith(entry.path().filename().string(), prefix)) continue;
    std::ifstream owner(dir + kOwnerFile);
    std::string text;
    int pid = 0;
    if (!std::getline(owner, text) || !absl::SimpleAtoi(text, &pid) ||
        pid <= 0 || local::IsAlive(pid)) {
      continue;
    }
    local::ClusterOptions options;
    options.data_dir = dir + "/" + data_dir;
    StopServices(dir);
    // A cluster run for high availability: its Patroni nodes and etcd.
    const std::string ha_dir = dir + "/.sagaworks/ha";
    if (std::filesystem::exists(ha_dir, error)) {
      local::HaOptions ha;
      ha.dir = ha_dir;
      (void)local::HaCluster(ha).Stop();
    }
    local::PostgresCluster cluster(options);
    // pg_ctl finds the server by its data directory, not by a pid we hold.
    if (cluster.Running()) (void)cluster.Stop(/*immediate=*/true);
    std::filesystem::remove_all(dir, error);
  }
}

}  // namespace sagaworks::testing
