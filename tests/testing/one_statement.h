// Helpers for testing a store's one-statement writes
// (idempotency::OneStatement) on their own, outside a handler.
#ifndef SAGAWORKS_TESTS_TESTING_ONE_STATEMENT_H_
#define SAGAWORKS_TESTS_TESTING_ONE_STATEMENT_H_

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "common/db/pool.h"
#include "common/idempotency/idempotency.h"
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

}  // namespace sagaworks::testing

#endif  // SAGAWORKS_TESTS_TESTING_ONE_STATEMENT_H_
