#include "common/db/pool.h"

#include <algorithm>
#include <exception>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/observability/trace.h"
#include "pqxx/except"
#include "pqxx/nontransaction"

namespace sagaworks::db {
namespace {

// Hides the password, if any, when a URL shows up in an error message.
std::string RedactUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos) return url;
  const size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return absl::StrCat(url.substr(0, colon + 1), "****", url.substr(at));
}

}  // namespace

absl::Status PoolConfig::Validate() const {
  if (url.empty()) {
    return absl::InvalidArgumentError("database url is empty");
  }
  if (size < 1 || size > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("db pool size ", size, " is outside [1, 1000]"));
  }
  if (acquire_timeout <= absl::ZeroDuration() ||
      connect_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("db timeouts must be positive");
  }
  if (lock_timeout <= absl::ZeroDuration() ||
      read_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "db lock and read timeouts must be positive");
  }
  if (max_tx_attempts < 1) {
    return absl::InvalidArgumentError("max_tx_attempts must be at least 1");
  }
  return absl::OkStatus();
}

namespace {

// ConnectionLostBeforeCommit: the exception being handled says the
// connection broke before the commit went out (one lost during the commit
// is an in_doubt_error instead: nobody knows whether it committed).
bool ConnectionLostBeforeCommit() {
  try {
    throw;
  } catch (const pqxx::broken_connection&) {
    return true;
  } catch (...) {
    return false;
  }
}

// CurrentExceptionText is the text of the exception being handled.
std::string CurrentExceptionText() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

// The database's own text (SQL, constraint and table names) goes to the log;
// the status, which a caller may be shown, says only what failed and why in
// the platform's words.
absl::Status MapCurrentDbException(absl::string_view what_failed) {
  auto logged = [&](const std::exception& e, absl::string_view sqlstate,
                    absl::Status status) {
    LogWarning("database error", {{"what", std::string(what_failed)},
                                  {"sqlstate", std::string(sqlstate)},
                                  {"detail", e.what()}});
    return status;
  };
  try {
    throw;
  } catch (const pqxx::in_doubt_error& e) {
    // The connection died during COMMIT: the outcome is unknown, so the
    // caller must retry with the same idempotency key, never blindly.
    return logged(e, "",
                  absl::UnavailableError(
                      absl::StrCat(what_failed,
                                   ": connection lost during commit, outcome "
                                   "unknown")));
  } catch (const pqxx::broken_connection& e) {
    return logged(e, "",
                  absl::UnavailableError(
                      absl::StrCat(what_failed, ": database unavailable")));
  } catch (const pqxx::transaction_rollback& e) {
    return logged(e, "",
                  absl::AbortedError(
                      absl::StrCat(what_failed, ": transaction conflict")));
  } catch (const pqxx::unique_violation& e) {
    return logged(e, e.sqlstate(),
                  absl::AlreadyExistsError(
                      absl::StrCat(what_failed, ": already exists")));
  } catch (const pqxx::integrity_constraint_violation& e) {
    return logged(e, e.sqlstate(),
                  absl::FailedPreconditionError(
                      absl::StrCat(what_failed, ": constraint violated")));
  } catch (const pqxx::sql_error& e) {
    // lock_not_available: a lock_timeout ran out, typically waiting for a
    // concurrent duplicate of this request to finish.
    if (e.sqlstate() == "55P03") {
      return absl::AbortedError(
          absl::StrCat(what_failed, ": still locked by a concurrent request"));
    }
    // query_canceled: a statement_timeout ran out.
    if (e.sqlstate() == "57014") {
      return absl::DeadlineExceededError(
          absl::StrCat(what_failed, ": cancelled after its statement timeout"));
    }
    if (std::string(e.sqlstate()).rfind("22", 0) == 0) {
      return logged(e, e.sqlstate(),
                    absl::InvalidArgumentError(absl::StrCat(
                        what_failed, ": the database refused a value")));
    }
    return logged(
        e, e.sqlstate(),
        absl::InternalError(absl::StrCat(what_failed, ": database error ",
                                         e.sqlstate(), " (see the log)")));
  } catch (const std::exception& e) {
    return logged(e, "",
                  absl::InternalError(absl::StrCat(
                      what_failed, ": internal error (see the log)")));
  } catch (...) {
    return absl::InternalError(
        absl::StrCat(what_failed, ": unknown exception"));
  }
}

absl::StatusOr<std::unique_ptr<Pool>> Pool::Create(
    PoolConfig config, std::function<bool()> cancelled) {
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  std::unique_ptr<Pool> pool(new Pool(std::move(config)));
  const absl::Time deadline = absl::Now() + pool->config_.connect_timeout;
  absl::Duration backoff = absl::Milliseconds(100);
  for (int attempt = 1;; ++attempt) {
    absl::Status s = pool->Ping();
    if (s.ok()) return pool;
    if (absl::Now() + backoff > deadline) {
      // Whoever starts the process needs the database's own reason
      // (refused, no password, no such database); callers never see this.
      std::string reason;
      {
        absl::MutexLock lock(&pool->mu_);
        reason = pool->last_connect_error_;
      }
      return absl::UnavailableError(absl::StrCat(
          "cannot connect to ", RedactUrl(pool->config_.url), " after ",
          attempt, " attempts: ",
          reason.empty()
              ? std::string(s.message())
              : std::string(absl::StripTrailingAsciiWhitespace(reason))));
    }
    if (cancelled && cancelled()) {
      return absl::CancelledError("stopped while waiting for the database");
    }
    if (attempt == 1) {
      LogWarning(
          absl::StrCat("database not reachable yet, retrying: ", s.message()));
    }
    // Start-up only, before any request is served.
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(backoff));
    backoff = std::min(backoff * 2, absl::Seconds(2));
  }
}

Pool::~Pool() { Close(); }

absl::StatusOr<std::unique_ptr<pqxx::connection>> Pool::Acquire() {
  {
    absl::MutexLock lock(&mu_);
    auto can_proceed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return closed_ || !idle_.empty() || open_ < config_.size;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&can_proceed),
                              config_.acquire_timeout)) {
      return absl::UnavailableError(
          absl::StrCat("database connection pool exhausted (", config_.size,
                       " connections busy)"));
    }
    if (closed_) return absl::UnavailableError("database pool is closed");
    if (!idle_.empty()) {
      std::unique_ptr<pqxx::connection> conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    ++open_;  // reserve a slot; connect outside the lock
  }
  // A database that refuses connections for a moment (restarting, or
  // failing over: no node read-write yet) is waited for, within the time a
  // caller waits for a connection anyway, rather than failing every call
  // made meanwhile.
  const absl::Time give_up = absl::Now() + config_.acquire_timeout;
  absl::Duration backoff = absl::Milliseconds(50);
  while (true) {
    absl::Status failed;
    try {
      auto conn = std::make_unique<pqxx::connection>(config_.url);
      // No statement waits on a lock for ever: past this it fails with
      // lock_not_available, which maps to ABORTED (try again).
      pqxx::nontransaction(*conn).exec(absl::StrCat(
          "SET lock_timeout = ",
          absl::ToInt64Milliseconds(config_.lock_timeout),
          config_.generic_plans ? "; SET plan_cache_mode = force_generic_plan"
                                : ""));
      return conn;
    } catch (...) {
      failed = MapCurrentDbException("connect");
      absl::MutexLock lock(&mu_);
      last_connect_error_ = CurrentExceptionText();
    }
    bool closed;
    {
      absl::MutexLock lock(&mu_);
      closed = closed_;
    }
    if (!absl::IsUnavailable(failed) || closed ||
        absl::Now() + backoff > give_up) {
      absl::MutexLock lock(&mu_);
      --open_;
      return failed;
    }
    absl::SleepFor(backoff);
    backoff = std::min(2 * backoff, absl::Milliseconds(500));
  }
}

void Pool::Release(std::unique_ptr<pqxx::connection> conn) {
  absl::MutexLock lock(&mu_);
  if (closed_ || conn == nullptr || !conn->is_open()) {
    --open_;
    return;  // conn closes as it goes out of scope
  }
  idle_.push_back(std::move(conn));
}

absl::Status Pool::Traced(absl::string_view name,
                          absl::FunctionRef<absl::Status()> run) {
  // A span only inside a traced operation: background polls (outbox, leases,
  // purges) would otherwise each start a trace of one span.
  std::unique_ptr<trace::Span> span;
  if (trace::CurrentContext().valid()) {
    span = trace::Tracer::Get().StartSpan(absl::StrCat(name, " ", db_name_),
                                          trace::SpanKind::kClient);
    if (span->recording()) {
      span->SetAttribute("db.system", std::string("postgresql"));
      span->SetAttribute("db.name", db_name_);
      span->SetAttribute("db.operation", std::string(name));
    }
  }
  absl::Status status = run();
  if (span != nullptr && span->recording()) {
    if (status.ok()) {
      span->SetOk();
    } else {
      span->SetAttribute("sagaworks.status_code",
                         std::string(absl::StatusCodeToString(status.code())));
      span->SetError(status.message());
    }
  }
  return status;
}

absl::Status Pool::Transact(absl::string_view name,
                            absl::FunctionRef<absl::Status(pqxx::work&)> fn) {
  return Traced(name, [&] { return TransactAttempts(name, fn); });
}

void Pool::LimitStatements(pqxx::work& tx) const {
  tx.exec(absl::StrCat("SET LOCAL statement_timeout = ",
                       absl::ToInt64Milliseconds(config_.read_timeout)));
}

absl::Status Pool::Autocommit(
    absl::string_view name,
    absl::FunctionRef<absl::Status(pqxx::nontransaction&)> fn) {
  return Traced(name, [&]() -> absl::Status {
    absl::StatusOr<std::unique_ptr<pqxx::connection>> conn = Acquire();
    if (!conn.ok()) return conn.status();
    absl::Status status;
    try {
      pqxx::nontransaction tx(**conn, std::string(name));
      status = fn(tx);
    } catch (...) {
      status = MapCurrentDbException(name);
    }
    // A single statement is not run again: it may have committed before the
    // connection died. The idle connections go, so the next callers do not
    // find them dead too.
    const bool lost = absl::IsUnavailable(status);
    if (lost) (*conn)->disconnect();
    Release(*std::move(conn));
    if (lost) DropIdle();
    return status;
  });
}

absl::Status Pool::TransactAttempts(
    absl::string_view name, absl::FunctionRef<absl::Status(pqxx::work&)> fn) {
  absl::Status status;
  for (int attempt = 1; attempt <= config_.max_tx_attempts; ++attempt) {
    absl::StatusOr<std::unique_ptr<pqxx::connection>> conn = Acquire();
    if (!conn.ok()) return conn.status();
    // Only the database's own verdict (serialization failure, deadlock, lock
    // timeout) is worth another try; an ABORTED that `fn` decided on (say, a
    // stale version) would come out the same again.
    bool from_database = false;
    // The connection died before COMMIT went out: nothing was committed,
    // so the transaction may run again on a fresh connection.
    bool lost_uncommitted = false;
    try {
      pqxx::work tx(**conn, std::string(name));
      status = fn(tx);
      if (status.ok()) {
        tx.commit();
      } else {
        tx.abort();
      }
    } catch (...) {
      status = MapCurrentDbException(name);
      from_database = true;
      lost_uncommitted = ConnectionLostBeforeCommit();
    }
    if (absl::IsUnavailable(status)) {
      (*conn)
          ->disconnect();  // do not hand a dead connection to the next caller
    }
    Release(*std::move(conn));
    if (lost_uncommitted) {
      DropIdle();
      continue;
    }
    if (!absl::IsAborted(status) || !from_database) return status;
  }
  return status;
}

std::string DatabaseName(const std::string& url) {
  const size_t slash = url.rfind('/');
  std::string name = slash == std::string::npos ? url : url.substr(slash + 1);
  return name.substr(0, name.find('?'));
}

absl::Status Pool::Ping() {
  absl::StatusOr<std::unique_ptr<pqxx::connection>> conn = Acquire();
  if (!conn.ok()) return conn.status();
  absl::Status status;
  try {
    pqxx::nontransaction tx(**conn);
    tx.exec("SELECT 1");
  } catch (...) {
    status = MapCurrentDbException("ping");
    (*conn)->disconnect();
  }
  Release(*std::move(conn));
  return status;
}

void Pool::DropIdle() {
  std::vector<std::unique_ptr<pqxx::connection>> idle;
  {
    absl::MutexLock lock(&mu_);
    open_ -= static_cast<int>(idle_.size());
    idle.swap(idle_);
  }
  // Closed as `idle` goes out of scope, outside the lock.
}

void Pool::Close() {
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  DropIdle();
}

}  // namespace sagaworks::db
