// Idempotency: the one mechanism every mutating RPC goes through, so that a
// repeated request cannot repeat its effect.
//
// - The request must carry metadata `idempotency-key` (1-255 printable
//   ASCII), else INVALID_ARGUMENT.
// - Keys are scoped by (caller, method, key); the caller is the
//   authenticated principal (server::CallerKey), so one caller can neither
//   replay nor plant another's keys.
// - The key row, the handler's database work and its outcome (the response,
//   or a final error) commit in one transaction.
// - The same key with the same request gets the stored outcome, identical,
//   with response metadata `idempotent-replay: true`; with a different
//   request, INVALID_ARGUMENT.
// - The key row goes in last, with the outcome. A duplicate arriving while
//   the first is still running may do the work too, but only one key row
//   commits: the other waits for it (on the key's unique index, or on rows
//   the work locks), rolls its work back and replays the first's outcome;
//   after lock_wait it gets ABORTED. Never two effects. So a handler acts
//   outside the database only after Run returns, and only if it succeeded.
// - Transient failures (UNAVAILABLE, ABORTED, ...) store nothing, so the
//   retry runs the call again.
//
// - A call whose answer is known before it writes (ids the service draws,
//   values from the request) can first try to do all of that in one
//   autocommitted statement: its effect and its key with the answer
//   (OneStatement). Only when that statement finds something in its way
//   (the key taken, the order charged already, funds short, ...) does the
//   transaction above run, and decide. One round trip instead of four or
//   more, for the common case.
//
// Example (in a handler):
//   return idempotency_.Run(context, "Charge", *request, response,
//       [&](pqxx::work& tx) { return store_.ChargeIn(tx, ...); });
#ifndef SAGAWORKS_COMMON_IDEMPOTENCY_IDEMPOTENCY_H_
#define SAGAWORKS_COMMON_IDEMPOTENCY_IDEMPOTENCY_H_

#include <functional>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/db/exec.h"
#include "common/db/pool.h"
#include "google/protobuf/message.h"
#include "grpcpp/server_context.h"

namespace sagaworks::idempotency {

inline constexpr char kKeyHeader[] = "idempotency-key";
inline constexpr char kReplayHeader[] = "idempotent-replay";

// ValidateKey checks a key's form.
absl::Status ValidateKey(absl::string_view key);

// Fingerprint is the hex SHA-256 of the request's deterministic
// serialization.
std::string Fingerprint(const google::protobuf::Message& request);

// StoredKey: what a one-statement write stores beside its effect; the text
// KeyedStatement makes takes these as $1-$5.
struct StoredKey {
  std::string scope, method, key, fingerprint, response_hex;
};

// KeyedStatement makes a one-statement write of `effect`: one or more
// data-modifying CTEs (the text after WITH), the last one named `done`. The
// key goes in only if `done` returned a row, and the statement returns the
// number of keys it stored, 0 or 1. The effect's own parameters start at $6.
//
// The statement commits by itself, so its effect must be all or nothing:
// - its first CTE writes only FROM `fresh`, a row when the key is not stored
//   yet (a replay then writes nothing, without an error);
// - only that first CTE may find nothing to do; each later one must write
//   whenever the one before it did (it selects FROM it), and must fail
//   rather than skip (no ON CONFLICT DO NOTHING). A failure, such as a
//   racing duplicate's key, rolls the whole statement back.
std::string KeyedStatement(absl::string_view effect);

// ExecKeyed runs a KeyedStatement text with the key's parameters first;
// true when the key (and so the effect) was stored.
template <typename... Args>
bool ExecKeyed(pqxx::transaction_base& tx, const std::string& sql,
               const StoredKey& k, Args&&... args) {
  const pqxx::result r =
      db::Exec(tx, sql, k.scope, k.method, k.key, k.fingerprint, k.response_hex,
               std::forward<Args>(args)...);
  return r[0][0].template as<int>() == 1;
}

// OneStatement: the answer a call will give if its one statement (`write`,
// a KeyedStatement) stores it; `write` says whether it did. (A std::function,
// not a FunctionRef: handlers build it from a temporary lambda.)
struct OneStatement {
  const google::protobuf::Message& answer;
  std::function<bool(pqxx::transaction_base&, const StoredKey&)> write;
};

// Asked: the request a call's key is checked against. Most calls pass the
// request itself. A handler whose request carries fields that say who asks
// rather than what is asked (which a caller of another version may send or
// leave out on a retry of the same call) passes a copy without them, and
// the whole request as `former`: keys stored while those fields still
// counted are honoured too.
struct Asked {
  // Implicit: a plain request is the common case.
  Asked(const google::protobuf::Message& request)  // NOLINT
      : request(request) {}
  Asked(const google::protobuf::Message& request,
        const google::protobuf::Message& former)
      : request(request), former(&former) {}

  const google::protobuf::Message& request;
  const google::protobuf::Message* former = nullptr;
};

struct IdempotencyConfig {
  // Keys older than this are forgotten.
  absl::Duration retention = absl::Hours(24);
  // How long a duplicate waits for the first request before ABORTED.
  absl::Duration lock_wait = absl::Seconds(5);
  // How often the purge runs, and how many rows one delete takes, so a purge
  // never holds locks for long.
  absl::Duration purge_interval = absl::Minutes(1);
  int purge_batch = 500;

  absl::Status Validate() const;
};

class Idempotency {
 public:
  // `service` is the full service name ("sagaworks.v1.PaymentService").
  Idempotency(db::Pool& pool, std::string service, IdempotencyConfig config);
  ~Idempotency();

  // Run handles one mutating call. `work` runs inside the transaction that
  // stores the key and fills `response`; a repeated call may run it again,
  // rolled back.
  template <typename Response>
  grpc::Status Run(
      grpc::ServerContext* context, const char* method, Asked request,
      Response* response,
      absl::FunctionRef<absl::StatusOr<Response>(pqxx::work&)> work) {
    return RunImpl(context, method, request, response, Fill(response, work),
                   nullptr);
  }

  // What a precheck does: looks things up in other services, or acts in
  // one (CancelOrder asking the saga to stop).
  enum class Precheck { kLooksUp, kActs };

  // The same with a `precheck` that runs first, outside any transaction.
  // When it refuses, a stored outcome for the key is still the answer: a
  // replay is never refused by it. One that acts has the key looked up
  // before it, so a replay, or the key reused with another request, is
  // answered without acting again.
  template <typename Response>
  grpc::Status Run(
      grpc::ServerContext* context, const char* method, Asked request,
      Response* response,
      absl::FunctionRef<absl::StatusOr<Response>(pqxx::work&)> work,
      absl::FunctionRef<absl::Status()> precheck,
      Precheck kind = Precheck::kLooksUp) {
    return RunImpl(context, method, request, response, Fill(response, work),
                   &precheck, nullptr, kind == Precheck::kActs);
  }

  // The same, trying `once` first (see OneStatement); `work` runs only when
  // `once` did not store the key. `once->answer` must be a Response; a null
  // `once` is no fast path (the handler found none to try).
  template <typename Response>
  grpc::Status Run(
      grpc::ServerContext* context, const char* method, Asked request,
      Response* response, const OneStatement* once,
      absl::FunctionRef<absl::StatusOr<Response>(pqxx::work&)> work) {
    return RunImpl(context, method, request, response, Fill(response, work),
                   nullptr, once);
  }
  template <typename Response>
  grpc::Status Run(
      grpc::ServerContext* context, const char* method, Asked request,
      Response* response, const OneStatement* once,
      absl::FunctionRef<absl::StatusOr<Response>(pqxx::work&)> work,
      absl::FunctionRef<absl::Status()> precheck) {
    return RunImpl(context, method, request, response, Fill(response, work),
                   &precheck, once);
  }

  // Purge deletes keys older than the retention, in batches; returns how
  // many.
  absl::StatusOr<int64_t> Purge();
  // StartPurging purges every purge_interval on a thread of its own, until
  // StopPurging().
  void StartPurging();
  void StopPurging();

 private:
  // Fill adapts a handler's work to one that fills `response`.
  template <typename Response>
  static auto Fill(
      Response* response,
      absl::FunctionRef<absl::StatusOr<Response>(pqxx::work&)> work) {
    return [response, work](pqxx::work& tx) -> absl::Status {
      absl::StatusOr<Response> r = work(tx);
      if (!r.ok()) return r.status();
      *response = *std::move(r);
      return absl::OkStatus();
    };
  }

  grpc::Status RunImpl(grpc::ServerContext* context, const char* method,
                       Asked request, google::protobuf::Message* response,
                       absl::FunctionRef<absl::Status(pqxx::work&)> work,
                       const absl::FunctionRef<absl::Status()>* precheck,
                       const OneStatement* once = nullptr,
                       bool look_first = false);

  db::Pool& pool_;
  const std::string service_;
  const IdempotencyConfig config_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread purger_;
};

}  // namespace sagaworks::idempotency

#endif  // SAGAWORKS_COMMON_IDEMPOTENCY_IDEMPOTENCY_H_
