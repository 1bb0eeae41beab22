// Schema migrations: each service applies its own numbered SQL files
// (migrations/<service>/NNNN_name.sql, compiled into the binary) at start.
#ifndef SAGAWORKS_COMMON_DB_MIGRATE_H_
#define SAGAWORKS_COMMON_DB_MIGRATE_H_

#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/db/pool.h"

namespace sagaworks::db {

// A migration file: name ("0001_init.sql") and SQL text.
using SqlFile = std::pair<std::string_view, std::string_view>;

// ApplyMigrations applies, in name order, each file not yet recorded in
// schema_migrations, each in its own transaction together with its record.
// An advisory lock serialises concurrent starters (two replicas, sagactl and a
// service), so each file runs once. A recorded file whose text has changed
// since is an error: history must not be rewritten under a running database.
absl::Status ApplyMigrations(Pool& pool, const std::vector<SqlFile>& files);

// ApplySeed runs one SQL file in a transaction, for demo data; the file is
// expected to be safe to run again (ON CONFLICT DO NOTHING).
absl::Status ApplySeed(Pool& pool, const SqlFile& file);

}  // namespace sagaworks::db

#endif  // SAGAWORKS_COMMON_DB_MIGRATE_H_
