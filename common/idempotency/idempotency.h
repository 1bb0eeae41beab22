// Idempotency: the one mechanism every mutating RPC goes through, so that a
// repeated request cannot repeat its effect.
//
// - The request must carry metadata `idempotency-key` (1-255 printable
//   ASCII), else INVALID_ARGUMENT.
// - Keys are scoped by (caller, method, key); the caller is x-tenant-id, else
//   the caller's address.
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
// Example (in a handler):
//   return idempotency_.Run(context, "Charge", *request, response,
//       [&](pqxx::work& tx) { return store_.ChargeIn(tx, ...); });
#ifndef SAGAWORKS_COMMON_IDEMPOTENCY_IDEMPOTENCY_H_
#define SAGAWORKS_COMMON_IDEMPOTENCY_IDEMPOTENCY_H_

#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
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
      grpc::ServerContext* context, const char* method,
      const google::protobuf::Message& request, Response* response,
      absl::FunctionRef<absl::StatusOr<Response>(pqxx::work&)> work) {
    return RunImpl(context, method, request, response, Fill(response, work),
                   nullptr);
  }

  // The same with a `precheck` that runs first, outside any transaction
  // (look-ups in other services). When it refuses, a stored outcome for the
  // key is still the answer: a replay is never refused by it.
  template <typename Response>
  grpc::Status Run(
      grpc::ServerContext* context, const char* method,
      const google::protobuf::Message& request, Response* response,
      absl::FunctionRef<absl::StatusOr<Response>(pqxx::work&)> work,
      absl::FunctionRef<absl::Status()> precheck) {
    return RunImpl(context, method, request, response, Fill(response, work),
                   &precheck);
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
                       const google::protobuf::Message& request,
                       google::protobuf::Message* response,
                       absl::FunctionRef<absl::Status(pqxx::work&)> work,
                       const absl::FunctionRef<absl::Status()>* precheck);

  db::Pool& pool_;
  const std::string service_;
  const IdempotencyConfig config_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread purger_;
};

}  // namespace sagaworks::idempotency

#endif  // SAGAWORKS_COMMON_IDEMPOTENCY_IDEMPOTENCY_H_
