// The connection pool and migrations against a real PostgreSQL.
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "common/db/exec.h"
#include "common/db/migrate.h"
#include "common/db/pool.h"
#include "common/local/postgres_cluster.h"
#include "common/local/subprocess.h"
#include "gtest/gtest.h"
#include "tests/testing/leftovers.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_postgres.h"

namespace sagaworks::db {
namespace {

using testing::TestPostgres;

std::unique_ptr<Pool> NewPool(int size) {
  PoolConfig config;
  config.url = TestPostgres::Get().NewDatabase();
  config.size = size;
  config.acquire_timeout = absl::Milliseconds(300);
  return *Pool::Create(config);
}

TEST(MigrateTest, AppliesEachFileOnceEvenWithConcurrentStarters) {
  std::unique_ptr<Pool> pool = NewPool(8);
  const std::vector<SqlFile> files = {
      {"0001_t.sql", "CREATE TABLE t (x int)"},
      {"0002_u.sql", "INSERT INTO t VALUES (1)"}};
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      if (!ApplyMigrations(*pool, files).ok()) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(testing::QueryInt(*pool, "SELECT count(*) FROM t"), 1);
  EXPECT_EQ(testing::QueryInt(*pool, "SELECT count(*) FROM schema_migrations"),
            2);
}

TEST(MigrateTest, RefusesAnAppliedFileThatChanged) {
  std::unique_ptr<Pool> pool = NewPool(2);
  SW_ASSERT_OK(
      ApplyMigrations(*pool, {{"0001_t.sql", "CREATE TABLE t (x int)"}}));
  absl::Status s =
      ApplyMigrations(*pool, {{"0001_t.sql", "CREATE TABLE t (y int)"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("0001_t.sql"), absl::string_view::npos);
}

TEST(MigrateTest, ABrokenFileLeavesNothingHalfApplied) {
  std::unique_ptr<Pool> pool = NewPool(2);
  absl::Status s = ApplyMigrations(
      *pool, {{"0001_bad.sql", "CREATE TABLE a (x int); SELECT nonsense"}});
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(testing::QueryInt(
                *pool, "SELECT count(*) FROM pg_tables WHERE tablename = 'a'"),
            0);
  EXPECT_EQ(testing::QueryInt(*pool, "SELECT count(*) FROM schema_migrations"),
            0);
}

// The codes follow the database's error; the messages, which callers may be
// shown, name what failed and never the database's own text (SQL, table and
// constraint names), which goes to the log.
TEST(PoolTest, MapsDatabaseErrorsToStatusCodes) {
  std::unique_ptr<Pool> pool = NewPool(2);
  testing::Exec(*pool, "CREATE TABLE k (id int PRIMARY KEY)");
  testing::Exec(*pool, "INSERT INTO k VALUES (1)");
  absl::Status dup = pool->Transact("dup", [](pqxx::work& tx) {
    tx.exec("INSERT INTO k VALUES (1)");
    return absl::OkStatus();
  });
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists);
  absl::Status bad = pool->Transact("bad", [](pqxx::work& tx) {
    tx.exec("SELECT 'x'::uuid");
    return absl::OkStatus();
  });
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  absl::Status broken = pool->Transact("broken", [](pqxx::work& tx) {
    tx.exec("SELECT no_such_column FROM k");
    return absl::OkStatus();
  });
  EXPECT_EQ(broken.code(), absl::StatusCode::kInternal);
  for (const absl::Status& s : {dup, bad, broken}) {
    EXPECT_TRUE(absl::StartsWith(s.message(), "dup") ||
                absl::StartsWith(s.message(), "bad") ||
                absl::StartsWith(s.message(), "broken"))
        << s.message();
    for (const char* inside :
         {"k_pkey", "INSERT", "SELECT", "uuid", "no_such_column", "ERROR"}) {
      EXPECT_FALSE(absl::StrContains(s.message(), inside)) << s.message();
    }
  }
}

TEST(ExecTest, ArraysGoInAndComeBackUnchanged) {
  std::unique_ptr<Pool> pool = NewPool(1);
  const std::vector<std::string> values = {
      "plain", "with space", "quote\"d", "back\\slash",
      "a,b",   "{braces}",   "NULL",     ""};
  absl::StatusOr<std::vector<std::string>> back =
      pool->TransactOr<std::vector<std::string>>(
          "arrays",
          [&](pqxx::work& tx) -> absl::StatusOr<std::vector<std::string>> {
            pqxx::result r =
                Exec(tx, "SELECT $1::text[], cardinality($1::text[])",
                     ArrayLiteral(values));
            EXPECT_EQ(r[0][1].as<size_t>(), values.size());
            return ArrayValues(r[0][0]);
          });
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, values);
}

// The server restarting while connections sit idle in the pool: the next
// transaction runs on a fresh connection instead of failing, and one dead
// connection found makes the pool drop the other idle ones.
TEST(PoolTest, ConnectionsThatDiedIdleAreReplacedNotReportedToCallers) {
  PoolConfig config;
  config.url = TestPostgres::Get().NewDatabase();
  config.size = 4;
  std::unique_ptr<Pool> pool = *Pool::Create(config);
  config.size = 1;
  std::unique_ptr<Pool> admin = *Pool::Create(config);
  testing::Exec(*pool, "CREATE TABLE k (id int)");
  // Two connections idle in the pool.
  SW_ASSERT_OK(pool->Transact("two", [&](pqxx::work&) {
    return pool->Autocommit(
        "inner", [](pqxx::nontransaction&) { return absl::OkStatus(); });
  }));
  auto kill_others = [&] {
    testing::Exec(*admin,
                  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                  "WHERE datname = current_database() "
                  "AND pid <> pg_backend_pid()");
  };
  kill_others();
  SW_EXPECT_OK(pool->Transact("after", [](pqxx::work& tx) {
    tx.exec("INSERT INTO k VALUES (1)");
    return absl::OkStatus();
  }));
  EXPECT_EQ(testing::QueryInt(*admin, "SELECT count(*) FROM k"), 1);

  // A single autocommitted statement may have run before its connection
  // died, so it is not repeated; but only one caller sees the failure.
  SW_ASSERT_OK(pool->Transact("two", [&](pqxx::work&) {
    return pool->Autocommit(
        "inner", [](pqxx::nontransaction&) { return absl::OkStatus(); });
  }));
  kill_others();
  auto select = [&] {
    return pool->Autocommit("select", [](pqxx::nontransaction& tx) {
      tx.exec("SELECT 1");
      return absl::OkStatus();
    });
  };
  EXPECT_EQ(select().code(), absl::StatusCode::kUnavailable);
  SW_EXPECT_OK(select());
}

TEST(PoolTest, AnErrorStatusRollsBackTheTransaction) {
  std::unique_ptr<Pool> pool = NewPool(2);
  testing::Exec(*pool, "CREATE TABLE k (id int)");
  absl::Status s = pool->Transact("rollback", [](pqxx::work& tx) {
    tx.exec("INSERT INTO k VALUES (1)");
    return absl::FailedPreconditionError("changed my mind");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(testing::QueryInt(*pool, "SELECT count(*) FROM k"), 0);
}

TEST(PoolTest, RetriesWhatTheDatabaseAbortsButNotWhatTheCallerDoes) {
  std::unique_ptr<Pool> pool = NewPool(2);
  // PostgreSQL reports a serialization failure on the first attempt only.
  int calls = 0;
  absl::Status s = pool->Transact("flaky", [&](pqxx::work& tx) {
    if (++calls == 1) {
      tx.exec(
          "DO $$ BEGIN RAISE EXCEPTION 'conflict' "
          "USING ERRCODE = 'serialization_failure'; END $$");
    }
    return absl::OkStatus();
  });
  SW_EXPECT_OK(s);
  EXPECT_EQ(calls, 2);
  // An ABORTED the function itself returns is its answer: no second call.
  calls = 0;
  s = pool->Transact("stale", [&](pqxx::work&) {
    ++calls;
    return absl::AbortedError("moved on");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(calls, 1);
}

TEST(PoolTest, ExhaustedPoolAnswersUnavailableInsteadOfHanging) {
  std::unique_ptr<Pool> pool = NewPool(1);
  absl::Status inner;
  absl::Status outer = pool->Transact("hold", [&](pqxx::work&) {
    inner = pool->Ping();  // needs a second connection
    return absl::OkStatus();
  });
  SW_EXPECT_OK(outer);
  EXPECT_EQ(inner.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(inner.message().find("pool exhausted"), absl::string_view::npos);
}

// A read that runs past the read timeout is cancelled and says so; the
// timeout is the read's own: a write on the same (single) connection right
// after may take longer.
TEST(PoolTest, AReadRunningPastItsTimeoutIsCancelledAndOnlyIt) {
  PoolConfig config;
  config.url = TestPostgres::Get().NewDatabase();
  config.size = 1;
  config.read_timeout = absl::Milliseconds(50);
  std::unique_ptr<Pool> pool = *Pool::Create(config);
  absl::StatusOr<int> slow =
      pool->ReadOr<int>("slow_read", [](pqxx::work& tx) -> absl::StatusOr<int> {
        tx.exec("SELECT pg_sleep(2)");
        return 1;
      });
  EXPECT_EQ(slow.status().code(), absl::StatusCode::kDeadlineExceeded)
      << slow.status();
  EXPECT_NE(slow.status().message().find("slow_read"), absl::string_view::npos);
  SW_EXPECT_OK(pool->Transact("write", [](pqxx::work& tx) {
    tx.exec("SELECT pg_sleep(0.2)");
    return absl::OkStatus();
  }));
  absl::StatusOr<int> quick = pool->ReadOr<int>(
      "quick_read", [](pqxx::work& tx) -> absl::StatusOr<int> {
        return tx.exec1("SELECT 7")[0].as<int>();
      });
  ASSERT_TRUE(quick.ok()) << quick.status();
  EXPECT_EQ(*quick, 7);
}

// The plan a prepared statement runs, as EXPLAIN shows it, on a connection
// of a pool with or without generic plans.
std::string PlanOfPrepared(bool generic_plans) {
  PoolConfig config;
  config.url = TestPostgres::Get().NewDatabase();
  config.size = 1;
  config.generic_plans = generic_plans;
  std::unique_ptr<Pool> pool = *Pool::Create(config);
  std::string plan;
  SW_EXPECT_OK(pool->Transact("explain", [&](pqxx::work& tx) {
    tx.exec("CREATE TABLE t (x int PRIMARY KEY)");
    tx.exec("PREPARE p(int) AS SELECT x FROM t WHERE x = $1");
    for (const auto& row : tx.exec("EXPLAIN EXECUTE p(7)")) {
      plan += row[0].as<std::string>() + "\n";
    }
    return absl::OkStatus();
  }));
  return plan;
}

TEST(PoolTest, GenericPlansAreUsedFromTheFirstExecutionWhenAskedFor) {
  // A generic plan keeps the parameter; a plan made for the call has the
  // value in its place.
  EXPECT_NE(PlanOfPrepared(/*generic_plans=*/true).find("$1"),
            std::string::npos);
  const std::string custom = PlanOfPrepared(/*generic_plans=*/false);
  EXPECT_EQ(custom.find("$1"), std::string::npos) << custom;
  EXPECT_NE(custom.find("7"), std::string::npos) << custom;
}

TEST(PostgresClusterTest, AStartThatFailsNamesTheReasonFromTheServerLog) {
  char tmpl[] = "/tmp/sagaworks-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  testing::MarkOwned(root);
  chmod(root.c_str(), 0755);  // the postgres user must reach the data
  local::ClusterOptions options;
  options.data_dir = root + "/pgdata";
  options.port = *local::FreePort();
  options.durable = false;
  options.settings = {"no_such_setting=1"};
  {
    local::PostgresCluster first(options);
    SW_ASSERT_OK(first.Init());
    absl::Status s = first.Start();
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find(
                  "unrecognized configuration parameter \"no_such_setting\""),
              absl::string_view::npos)
        << s.message();
  }
  // The log keeps the first start's lines: a second start that fails for
  // another reason reports its own.
  options.settings = {"max_connections=-5"};
  local::PostgresCluster second(options);
  absl::Status s = second.Start();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("for parameter \"max_connections\""),
            absl::string_view::npos)
      << s.message();
  EXPECT_EQ(s.message().find("unrecognized"), absl::string_view::npos)
      << s.message();
  std::error_code ignored;
  std::filesystem::remove_all(root, ignored);
}

TEST(PoolTest, UnreachableDatabaseFailsCreateWithTheReason) {
  PoolConfig config;
  config.url = "postgresql://nobody:secret@127.0.0.1:1/none";
  config.connect_timeout = absl::Milliseconds(300);
  absl::StatusOr<std::unique_ptr<Pool>> pool = Pool::Create(config);
  EXPECT_EQ(pool.status().code(), absl::StatusCode::kUnavailable);
  // The password never shows up in messages.
  EXPECT_EQ(pool.status().message().find("secret"), absl::string_view::npos);
}

}  // namespace
}  // namespace sagaworks::db
