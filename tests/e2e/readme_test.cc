// The README, tried as a new user would: every grpcurl command in its ```sh
// blocks runs in order against a fresh platform, through a client that learns
// every type from server reflection, and its output must show each line of
// the ```json/```text block the README prints after it (ids and times
// aside). Commands whose outcome the saga decides later are retried until the
// output matches, for up to 30 s.
#include <fstream>
#include <regex>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/local/subprocess.h"
#include "gtest/gtest.h"
#include "tests/testing/test_platform.h"

namespace sagaworks {
namespace {

struct Step {
  int line;                       // where the command starts in README.md
  std::string command;            // joined continuation lines
  std::vector<std::string> want;  // expected output lines, trimmed
};

// Reads the README's grpcurl commands and the output shown after each.
std::vector<Step> ParseReadme(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::vector<Step> steps;
  std::string fence;  // language of the open block, "" when outside
  bool output_taken = true;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (absl::StartsWith(l, "```")) {
      if (fence.empty()) {
        fence = l.size() > 3 ? l.substr(3) : "plain";
        if (fence != "sh" && !output_taken && !steps.empty()) {
          // An output block directly after a command block.
          output_taken = true;
          for (size_t j = i + 1;
               j < lines.size() && !absl::StartsWith(lines[j], "```"); ++j) {
            std::string t(absl::StripAsciiWhitespace(lines[j]));
            if (!t.empty()) steps.back().want.push_back(t);
          }
        }
      } else {
        fence.clear();
      }
      continue;
    }
    if (fence == "sh" && absl::StartsWith(l, "grpcurl ")) {
      Step step{static_cast<int>(i + 1), l, {}};
      while (absl::EndsWith(step.command, "\\") && i + 1 < lines.size()) {
        step.command.pop_back();
        step.command +=
            " " + std::string(absl::StripAsciiWhitespace(lines[++i]));
      }
      steps.push_back(step);
      output_taken = false;
    } else if (fence.empty() && !absl::StripAsciiWhitespace(l).empty() &&
               !output_taken) {
      output_taken = true;  // prose in between: the command shows no output
    }
  }
  return steps;
}

bool Volatile(const std::string& line) {
  for (const char* key : {"\"orderId\"", "\"sagaId\"", "\"createTime\"",
                          "\"updateTime\"", "\"reservationId\"", "\"chargeId\"",
                          "\"shipmentId\"", "\"trackingNumber\"", "\"time\""}) {
    if (absl::StartsWith(line, key)) return true;
  }
  return false;
}

// Lines of `want` missing from `got` (both trimmed), ids and times aside.
std::vector<std::string> Missing(const std::vector<std::string>& want,
                                 const std::string& got) {
  std::vector<std::string> have;
  for (absl::string_view l : absl::StrSplit(got, '\n')) {
    have.emplace_back(absl::StripAsciiWhitespace(l));
  }
  std::vector<std::string> missing;
  for (const std::string& w : want) {
    if (Volatile(w)) continue;
    if (std::find(have.begin(), have.end(), w) == have.end()) {
      missing.push_back(w);
    }
  }
  return missing;
}

TEST(ReadmeTest, GrpcurlWalkThroughWorksAsPrinted) {
  const std::vector<Step> steps =
      ParseReadme(absl::StrCat(SAGAWORKS_SOURCE_DIR, "/README.md"));
  ASSERT_GE(steps.size(), 10u) << "the README walk-through went missing";

  absl::StatusOr<std::unique_ptr<testing::TestPlatform>> started =
      testing::TestPlatform::Start();
  ASSERT_TRUE(started.ok()) << started.status();
  testing::TestPlatform& platform = **started;

  const std::string client =
      absl::StrCat(SAGAWORKS_TESTS_DIR, "/reflect_client");
  std::vector<std::pair<std::string, std::string>> ports = {
      {".sagaworks/tls/ca.crt",
       absl::StrCat(platform.platform().TlsDir(), "/ca.crt")},
      {"build/bin/sagactl",
       absl::StrCat(SAGAWORKS_BIN_DIR, "/sagactl --home ", platform.home())}};
  for (const auto& spec : platform::Services()) {
    ports.emplace_back(absl::StrCat("localhost:", spec.port),
                       absl::StrCat("localhost:", platform.Port(spec.id)));
  }
  std::string last_order_id;
  const std::regex order_id_re("\"orderId\": \"([0-9a-f-]{36})\"");

  for (const Step& step : steps) {
    SCOPED_TRACE(absl::StrCat("README.md:", step.line, ": ", step.command));
    std::string command = absl::StrReplaceAll(
        step.command, {{"<orderId from above>", last_order_id}});
    command =
        absl::StrCat(client, command.substr(std::string("grpcurl").size()));
    for (const auto& [from, to] : ports) {
      command = absl::StrReplaceAll(command, {{from, to}});
    }
    const bool expect_error =
        !step.want.empty() && step.want.front() == "ERROR:";
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    std::string out;
    std::vector<std::string> missing;
    while (true) {
      absl::Status ran = local::Run({"/bin/bash", "-c", command}, &out);
      missing = Missing(step.want, out);
      if (ran.ok() != expect_error && missing.empty()) break;
      if (absl::Now() > deadline) break;
      absl::SleepFor(absl::Milliseconds(200));
    }
    EXPECT_TRUE(missing.empty())
        << "output lacks:\n  " << absl::StrJoin(missing, "\n  ")
        << "\nfull output:\n"
        << out;
    std::smatch m;
    if (absl::StrContains(step.command, "/CreateOrder") &&
        std::regex_search(out, m, order_id_re)) {
      last_order_id = m[1];
    }
  }
}

}  // namespace
}  // namespace sagaworks
