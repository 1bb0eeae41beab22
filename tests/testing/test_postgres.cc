#include "tests/testing/test_postgres.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/local/subprocess.h"
#include "migrations/embedded.h"
#include "tests/testing/leftovers.h"

namespace sagaworks::testing {
namespace {

[[noreturn]] void Die(const std::string& what, const absl::Status& s) {
  std::fprintf(stderr, "test postgres: %s: %s\n", what.c_str(),
               std::string(s.message()).c_str());
  std::abort();
}

}  // namespace

TestPostgres& TestPostgres::Get() {
  // Destroyed at exit, so the server stops with the test binary.
  static TestPostgres instance;
  return instance;
}

TestPostgres::TestPostgres() {
  RemoveLeftovers("sagaworks-test-", "pgdata");
  char tmpl[] = "/tmp/sagaworks-test-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) Die("mkdtemp", absl::InternalError("failed"));
  root_ = tmpl;
  MarkOwned(root_);
  // The postgres user must reach the data directory inside.
  chmod(root_.c_str(), 0755);
  absl::StatusOr<int> port = local::FreePort();
  if (!port.ok()) Die("free port", port.status());
  local::ClusterOptions options;
  options.data_dir = root_ + "/pgdata";
  options.port = *port;
  options.durable = false;
  cluster_ = std::make_unique<local::PostgresCluster>(options);
  if (absl::Status s = cluster_->Init(); !s.ok()) Die("init", s);
  if (absl::Status s = cluster_->Start(); !s.ok()) Die("start", s);
}

TestPostgres::~TestPostgres() {
  if (cluster_ != nullptr) (void)cluster_->Stop(/*immediate=*/true);
  std::error_code ignored;
  std::filesystem::remove_all(root_, ignored);
}

std::string TestPostgres::NewDatabase() {
  const std::string name = absl::StrCat("test_", ++next_db_);
  if (absl::Status s = cluster_->CreateDatabase(name); !s.ok()) {
    Die("create database", s);
  }
  return cluster_->Url(name);
}

std::unique_ptr<db::Pool> TestPostgres::NewPool(
    const std::vector<db::SqlFile>& migrations, int size) {
  db::PoolConfig config;
  config.url = NewDatabase();
  config.size = size;
  absl::StatusOr<std::unique_ptr<db::Pool>> pool = db::Pool::Create(config);
  if (!pool.ok()) Die("pool", pool.status());
  if (absl::Status s = db::ApplyMigrations(**pool, migrations); !s.ok()) {
    Die("migrations", s);
  }
  return *std::move(pool);
}

const db::SqlFile& DemoData(const std::string& name) {
  for (const auto& file : migrations::demo()) {
    if (file.first == name) return file;
  }
  Die(name, absl::NotFoundError("no such demo data file"));
}

void Exec(db::Pool& pool, const std::string& sql) {
  absl::Status s = pool.Transact("test_exec", [&](pqxx::work& tx) {
    tx.exec(sql);
    return absl::OkStatus();
  });
  if (!s.ok()) Die(sql, s);
}

int64_t QueryInt(db::Pool& pool, const std::string& sql) {
  absl::StatusOr<int64_t> v = pool.TransactOr<int64_t>(
      "test_query", [&](pqxx::work& tx) -> absl::StatusOr<int64_t> {
        return tx.exec1(sql)[0].as<int64_t>();
      });
  if (!v.ok()) Die(sql, v.status());
  return *v;
}

}  // namespace sagaworks::testing
