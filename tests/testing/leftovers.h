// Leftovers: what an earlier test run left behind when it died before its
// destructors ran (an abort, a kill). Each test directory names the process
// that owns it; a directory whose owner is gone has its services and its
// PostgreSQL cluster stopped and is removed before a new one is made, so
// aborted runs do not pile up servers on the machine.
#ifndef SAGAWORKS_TESTS_TESTING_LEFTOVERS_H_
#define SAGAWORKS_TESTS_TESTING_LEFTOVERS_H_

#include <string>

namespace sagaworks::testing {

// MarkOwned records this process as the owner of `dir`.
void MarkOwned(const std::string& dir);

// RemoveLeftovers stops the cluster at `<dir>/<data_dir>` (and the services
// whose pid files are in the run/ folder beside it) and removes `dir`, for
// every /tmp/<prefix>* directory whose owner is no longer running.
// Directories without an owner are left alone (they may be being made).
void RemoveLeftovers(const std::string& prefix, const std::string& data_dir);

}  // namespace sagaworks::testing

#endif  // SAGAWORKS_TESTS_TESTING_LEFTOVERS_H_
