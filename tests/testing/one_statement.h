// Helpers for testing a store's one-statement writes
// (idempotency::OneStatement) on their own, outside a handler.
#ifndef SAGAWORKS_TESTS_TESTING_ONE_STATEMENT_H_
#define SAGAWORKS_TESTS_TESTING_ONE_STATEMENT_H_

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "common/db/pool.h"
#include "common/idempotency/idempotency.h"
#include "common/uuid.h"
#include "gtest/gtest.h"

namespace sagaworks::testing {

// TestKey: a key of a made-up caller and method, with an empty answer.
inline idempotency::StoredKey TestKey(const std::string& key) {
  return idempotency::StoredKey{"test-caller", "/test/Method", key,
                                "fingerprint", ""};
}

// WriteOnce runs `write` as a handler would: one autocommitted statement.
// An error (a unique index) comes back as its status.
inline absl::StatusOr<bool> WriteOnce(
    db::Pool& pool, absl::FunctionRef<bool(pqxx::transaction_base&)> write) {
  return pool.AutocommitOr<bool>(
      "write_once", [&](pqxx::nontransaction& tx) -> absl::StatusOr<bool> {
        return write(tx);
      });
}

// StoredOnce is WriteOnce for a write that must not fail (a failure fails
// the test): whether it stored its key.
inline bool StoredOnce(db::Pool& pool,
                       absl::FunctionRef<bool(pqxx::transaction_base&)> write) {
  absl::StatusOr<bool> stored = WriteOnce(pool, write);
  EXPECT_TRUE(stored.ok()) << stored.status();
  return stored.ok() && *stored;
}

// WritePath: how a store test makes a write that has a one-statement form,
// so that every such test runs against both and proves them equal.
enum class WritePath {
  // The transactional implementation alone (XIn).
  kTransaction,
  // As a handler does: the one statement (XOnce) under a fresh key first,
  // and the transaction when it stored nothing or failed.
  kOneStatementFirst,
};

inline std::string WritePathName(
    const ::testing::TestParamInfo<WritePath>& info) {
  return info.param == WritePath::kTransaction ? "Transaction"
                                               : "OneStatementFirst";
}

// HandlerWrite makes a write by `path`: `planned` when the one statement
// (`once`, under a fresh key) stored it, otherwise what `plain` answers in a
// transaction.
template <typename T>
absl::StatusOr<T> HandlerWrite(
    db::Pool& pool, WritePath path, const T& planned,
    absl::FunctionRef<bool(pqxx::transaction_base&,
                           const idempotency::StoredKey&)>
        once,
    absl::FunctionRef<absl::StatusOr<T>(pqxx::work&)> plain) {
  if (path == WritePath::kOneStatementFirst) {
    // A caller of its own, so tests that count their keys see only theirs.
    const idempotency::StoredKey k{"test-handler", "/test/Method", NewUuid(),
                                   "fingerprint", ""};
    absl::StatusOr<bool> stored = WriteOnce(
        pool, [&](pqxx::transaction_base& tx) { return once(tx, k); });
    if (stored.ok() && *stored) return planned;
  }
  return pool.TransactOr<T>("plain", plain);
}

}  // namespace sagaworks::testing

#endif  // SAGAWORKS_TESTS_TESTING_ONE_STATEMENT_H_
