#include "common/db/migrate.h"

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace sagaworks::db {
namespace {

// Arbitrary, fixed: every sagaworks migrator takes the same lock.
constexpr int64_t kMigrationLockKey = 0x5a6a7761726b73;  // "sagawrks"

// FNV-1a: stable across builds and platforms, unlike std::hash.
std::string Checksum(std::string_view text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

absl::Status ApplyMigrations(Pool& pool, const std::vector<SqlFile>& files) {
  absl::Status status =
      pool.Transact("create schema_migrations", [](pqxx::work& tx) {
        tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
        tx.exec(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "  name text PRIMARY KEY,"
            "  checksum text NOT NULL,"
            "  applied_at timestamptz NOT NULL DEFAULT now())");
        return absl::OkStatus();
      });
  if (!status.ok()) return status;

  for (const auto& file : files) {
    const absl::string_view name(file.first.data(), file.first.size());
    const auto& sql = file.second;
    const std::string sum = Checksum(sql);
    bool applied_now = false;
    status = pool.Transact("migrate", [&](pqxx::work& tx) -> absl::Status {
      tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
      pqxx::result r = tx.exec_params(
          "SELECT checksum FROM schema_migrations WHERE name = $1",
          std::string(name));
      if (!r.empty()) {
        if (r[0][0].as<std::string>() != sum) {
          return absl::FailedPreconditionError(absl::StrCat(
              "migration ", name,
              " was changed after it was applied; add a new migration "
              "instead"));
        }
        return absl::OkStatus();
      }
      tx.exec(std::string(sql));
      tx.exec_params(
          "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
          std::string(name), sum);
      applied_now = true;
      return absl::OkStatus();
    });
    if (!status.ok()) {
      return absl::Status(status.code(), absl::StrCat("migration ", name, ": ",
                                                      status.message()));
    }
    if (applied_now) LogInfo(absl::StrCat("applied migration ", name));
  }
  return absl::OkStatus();
}

absl::Status ApplySeed(Pool& pool, const SqlFile& file) {
  const absl::string_view name(file.first.data(), file.first.size());
  absl::Status status = pool.Transact("seed", [&](pqxx::work& tx) {
    tx.exec(std::string(file.second));
    return absl::OkStatus();
  });
  if (!status.ok()) {
    return absl::Status(status.code(),
                        absl::StrCat("seed ", name, ": ", status.message()));
  }
  return absl::OkStatus();
}

}  // namespace sagaworks::db
