// Exec: runs a parameterised statement as a prepared statement of the
// transaction's connection, so PostgreSQL parses and plans each statement
// once per connection instead of on every call.
//
//   pqxx::result r = db::Exec(tx, "SELECT ... WHERE id = $1", id);
#ifndef SAGAWORKS_COMMON_DB_EXEC_H_
#define SAGAWORKS_COMMON_DB_EXEC_H_

#include <string>
#include <utility>
#include <vector>

#include "pqxx/pqxx"

namespace sagaworks::db {

// StatementName names a statement by its text (stable within a process).
std::string StatementName(const std::string& sql);

// ArrayLiteral writes values as a PostgreSQL array literal ({"a","b"}), each
// element quoted, for a parameter cast to int[] or text[].
std::string ArrayLiteral(const std::vector<std::string>& values);

// ArrayValues reads a one-dimensional array field (NULL elements as empty
// strings): related rows come back with their parent in one statement.
std::vector<std::string> ArrayValues(const pqxx::field& field);

template <typename... Args>
pqxx::result Exec(pqxx::transaction_base& tx, const std::string& sql,
                  Args&&... args) {
  const std::string name = StatementName(sql);
  // Registers the definition with the connection (a no-op once it is
  // there); libpqxx prepares it on the server at first use.
  tx.conn().prepare(name, sql);
  return tx.exec_prepared(name, std::forward<Args>(args)...);
}

}  // namespace sagaworks::db

#endif  // SAGAWORKS_COMMON_DB_EXEC_H_
