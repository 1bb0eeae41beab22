// TestPostgres: a real PostgreSQL server for integration tests, made with
// initdb in a temp directory and started on a free loopback port, once per
// test binary, and removed when the binary exits. Each test asks for its own
// fresh database.
#ifndef SAGAWORKS_TESTS_TESTING_TEST_POSTGRES_H_
#define SAGAWORKS_TESTS_TESTING_TEST_POSTGRES_H_

#include <memory>
#include <string>
#include <vector>

#include "common/db/migrate.h"
#include "common/db/pool.h"
#include "common/local/postgres_cluster.h"

namespace sagaworks::testing {

class TestPostgres {
 public:
  // Get starts the cluster on first use; a failure aborts the test binary
  // with the reason.
  static TestPostgres& Get();

  // NewDatabase creates an empty database and returns its URL.
  std::string NewDatabase();

  // NewPool creates a database, applies `migrations`, and returns a pool on it.
  std::unique_ptr<db::Pool> NewPool(const std::vector<db::SqlFile>& migrations,
                                    int size = 4);

  local::PostgresCluster& cluster() { return *cluster_; }
  const std::string& root() const { return root_; }

  ~TestPostgres();

 private:
  TestPostgres();
  std::string root_;
  std::unique_ptr<local::PostgresCluster> cluster_;
  int next_db_ = 0;
};

// DemoData returns the demo-data file of that name ("payment.sql").
const db::SqlFile& DemoData(const std::string& name);

// Exec runs one SQL statement (test set-up and checks only).
void Exec(db::Pool& pool, const std::string& sql);
// QueryInt runs a query returning one integer.
int64_t QueryInt(db::Pool& pool, const std::string& sql);

}  // namespace sagaworks::testing

#endif  // SAGAWORKS_TESTS_TESTING_TEST_POSTGRES_H_
