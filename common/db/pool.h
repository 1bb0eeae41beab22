// Pool: a bounded set of PostgreSQL connections (libpqxx), and Transact(), the
// one way sagaworks code runs SQL. libpqxx exceptions stop here and become
// absl::Status codes a caller can act on.
#ifndef SAGAWORKS_COMMON_DB_POOL_H_
#define SAGAWORKS_COMMON_DB_POOL_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "pqxx/pqxx"

namespace sagaworks::db {

// PoolConfig sizes the pool and bounds how long callers wait.
struct PoolConfig {
  // libpq connection URI, "postgresql://user@host:port/dbname".
  std::string url;
  int size = 8;
  // How long a caller waits for a free connection before UNAVAILABLE.
  absl::Duration acquire_timeout = absl::Seconds(5);
  // How long Create() keeps trying to reach the database at start-up.
  absl::Duration connect_timeout = absl::Seconds(30);
  // Serialization failures and deadlocks are retried this many times in all,
  // and so is a transaction whose connection turned out dead before it
  // committed (the database restarted while it sat idle in the pool).
  int max_tx_attempts = 3;
  // How long any statement waits for a row lock before failing (ABORTED).
  absl::Duration lock_timeout = absl::Seconds(5);
  // How long a statement of Read() may run before it is cancelled
  // (DEADLINE_EXCEEDED): a slow listing gives up its connection and its
  // snapshot instead of holding them from the writes.
  absl::Duration read_timeout = absl::Seconds(5);
  // Every prepared statement runs its generic plan instead of being planned
  // again for its parameters. PostgreSQL keeps planning a statement whose
  // plans for the parameters it has seen cost less than the generic one:
  // for the orchestrator's commit of a group of saga moves, that is every
  // call at moderate load, where planning would dominate its time.
  bool generic_plans = false;

  absl::Status Validate() const;
};

// MapDbException converts the exception in flight (call inside a catch block)
// into a Status: broken connection -> UNAVAILABLE, serialization failure or
// deadlock -> ABORTED, unique violation -> ALREADY_EXISTS.
absl::Status MapCurrentDbException(absl::string_view what_failed);

// DatabaseName is the database a connection URI names ("orders").
std::string DatabaseName(const std::string& url);

class Pool {
 public:
  // Create connects once to prove the database answers, retrying until
  // config.connect_timeout, or until `cancelled` (when given) returns true.
  static absl::StatusOr<std::unique_ptr<Pool>> Create(
      PoolConfig config, std::function<bool()> cancelled = nullptr);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Transact runs `fn` in one READ COMMITTED transaction and commits it when
  // `fn` returns OK; otherwise, or on any exception, rolls back. `fn` may run
  // again when the database reports a serialization failure or deadlock, so it
  // must not have effects outside the transaction.
  absl::Status Transact(absl::string_view name,
                        absl::FunctionRef<absl::Status(pqxx::work&)> fn);

  // Transact variant that returns a value produced inside the transaction.
  template <typename T>
  absl::StatusOr<T> TransactOr(
      absl::string_view name,
      absl::FunctionRef<absl::StatusOr<T>(pqxx::work&)> fn) {
    return Capture<T, pqxx::work>(
        fn, [&](absl::FunctionRef<absl::Status(pqxx::work&)> run) {
          return Transact(name, run);
        });
  }

  // Read runs `fn`, which only reads, in a transaction whose statements are
  // each cancelled after config().read_timeout (DEADLINE_EXCEEDED).
  template <typename T>
  absl::StatusOr<T> ReadOr(
      absl::string_view name,
      absl::FunctionRef<absl::StatusOr<T>(pqxx::work&)> fn) {
    return TransactOr<T>(name, [&](pqxx::work& tx) -> absl::StatusOr<T> {
      LimitStatements(tx);
      return fn(tx);
    });
  }

  // Autocommit runs `fn` on a connection outside an explicit transaction:
  // each statement commits by itself. For a single statement that is one
  // round trip instead of three (BEGIN, statement, COMMIT). Not retried.
  absl::Status Autocommit(
      absl::string_view name,
      absl::FunctionRef<absl::Status(pqxx::nontransaction&)> fn);

  template <typename T>
  absl::StatusOr<T> AutocommitOr(
      absl::string_view name,
      absl::FunctionRef<absl::StatusOr<T>(pqxx::nontransaction&)> fn) {
    return Capture<T, pqxx::nontransaction>(
        fn, [&](absl::FunctionRef<absl::Status(pqxx::nontransaction&)> run) {
          return Autocommit(name, run);
        });
  }

  // Ping answers OK when the database accepts a query.
  absl::Status Ping();

  // Close drops idle connections and makes further calls fail; connections in
  // use close when returned.
  void Close();

  const PoolConfig& config() const { return config_; }

 private:
  // LimitStatements sets the read timeout for the rest of `tx`.
  void LimitStatements(pqxx::work& tx) const;

  // Capture runs `fn` through `runner` (Transact or Autocommit) and hands
  // back the value it produced.
  template <typename T, typename Tx, typename Runner>
  static absl::StatusOr<T> Capture(absl::FunctionRef<absl::StatusOr<T>(Tx&)> fn,
                                   Runner runner) {
    std::optional<T> value;
    absl::Status status = runner([&](Tx& tx) -> absl::Status {
      absl::StatusOr<T> result = fn(tx);
      if (!result.ok()) return result.status();
      value = *std::move(result);
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return *std::move(value);
  }

  // Traced runs `run` inside a database span when a trace is current.
  absl::Status Traced(absl::string_view name,
                      absl::FunctionRef<absl::Status()> run);
  absl::Status TransactAttempts(
      absl::string_view name, absl::FunctionRef<absl::Status(pqxx::work&)> fn);

  explicit Pool(PoolConfig config)
      : config_(std::move(config)), db_name_(DatabaseName(config_.url)) {}
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Acquire();
  void Release(std::unique_ptr<pqxx::connection> conn);
  // DropIdle closes the idle connections: after one was found dead, the
  // rest most likely are too (the server restarted).
  void DropIdle();

  const PoolConfig config_;
  const std::string db_name_;  // for spans
  absl::Mutex mu_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // idle + in use
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Why the last connection attempt failed, in the database's words.
  std::string last_connect_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sagaworks::db

#endif  // SAGAWORKS_COMMON_DB_POOL_H_
