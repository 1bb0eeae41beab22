// FreePort: ports for throw-away servers that parallel test processes and
// outgoing connections cannot take from under them.
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include "common/local/subprocess.h"
#include "gtest/gtest.h"

namespace sagaworks::local {
namespace {

int EphemeralLow() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768, high = 0;
  range >> low >> high;
  return low;
}

TEST(FreePortTest, PortsAreDistinctAndBelowTheEphemeralRange) {
  std::set<int> ports;
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<int> port = FreePort();
    ASSERT_TRUE(port.ok()) << port.status();
    EXPECT_LT(*port, EphemeralLow());
    EXPECT_GE(*port, 10000);
    ports.insert(*port);
  }
  EXPECT_EQ(ports.size(), 50u);
}

// Another process picking ports meanwhile never gets one this process holds.
TEST(FreePortTest, AnotherProcessNeverGetsAPortThisOneHolds) {
  std::set<int> mine;
  for (int i = 0; i < 200; ++i) mine.insert(*FreePort());
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    // The child inherits no lock worth having: it picks its own ports.
    int clashes = 0;
    for (int i = 0; i < 200; ++i) {
      absl::StatusOr<int> port = FreePort();
      if (!port.ok() || mine.count(*port) > 0) ++clashes;
    }
    const ssize_t n = write(fds[1], &clashes, sizeof clashes);
    _exit(n == sizeof clashes ? 0 : 1);
  }
  close(fds[1]);
  int clashes = -1;
  ASSERT_EQ(read(fds[0], &clashes, sizeof clashes),
            static_cast<ssize_t>(sizeof clashes));
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_EQ(clashes, 0);
}

}  // namespace
}  // namespace sagaworks::local
