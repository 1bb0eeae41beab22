#include "common/idempotency/idempotency.h"

#include <openssl/sha.h>

#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/db/exec.h"
#include "common/log.h"
#include "common/observability/metrics.h"
#include "common/server/authorizer.h"
#include "common/status.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace sagaworks::idempotency {
namespace {

// A call's outcome, as stored with its key.
struct Outcome {
  bool replay = false;
  std::string fingerprint;
  absl::Status status;
  std::string response;  // serialized, when status is OK
};

Outcome FromRow(const pqxx::row& row) {
  Outcome o;
  o.replay = true;
  o.fingerprint = row[0].as<std::string>();
  o.status = absl::Status(static_cast<absl::StatusCode>(row[1].as<int>()),
                          row[2].as<std::string>());
  o.response = absl::HexStringToBytes(row[3].as<std::string>());
  return o;
}

constexpr char kSelect[] =
    "SELECT fingerprint, status_code, status_message, "
    "coalesce(encode(response, 'hex'), '') FROM idempotency_keys "
    "WHERE scope = $1 AND method = $2 AND key = $3";

// The key a call is stored under.
struct KeyRow {
  std::string scope, method, key;
};

// Stored finds the outcome kept under `k`, if any.
std::optional<Outcome> Stored(pqxx::transaction_base& tx, const KeyRow& k) {
  pqxx::result r = db::Exec(tx, kSelect, k.scope, k.method, k.key);
  if (r.empty()) return std::nullopt;
  return FromRow(r[0]);
}

// Store keeps `o` under `k`; false when a call with that key got there first.
bool Store(pqxx::transaction_base& tx, const KeyRow& k, const Outcome& o) {
  return !db::Exec(tx,
                   "INSERT INTO idempotency_keys (scope, method, key, "
                   "fingerprint, status_code, status_message, response) "
                   "VALUES ($1, $2, $3, $4, $5, $6, decode($7, 'hex')) "
                   "ON CONFLICT DO NOTHING RETURNING 1",
                   k.scope, k.method, k.key, o.fingerprint,
                   static_cast<int>(o.status.code()),
                   std::string(o.status.message()),
                   absl::BytesToHexString(o.response))
              .empty();
}

}  // namespace

absl::Status ValidateKey(absl::string_view key) {
  if (key.empty() || key.size() > 255) {
    return absl::InvalidArgumentError(
        absl::StrCat("metadata '", kKeyHeader,
                     "' must be 1-255 characters, not ", key.size()));
  }
  for (char c : key) {
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError(
          absl::StrCat("metadata '", kKeyHeader, "' must be printable ASCII"));
    }
  }
  return absl::OkStatus();
}

std::string Fingerprint(const google::protobuf::Message& request) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    // Deterministic: map entries in key order, so equal requests hash alike.
    coded.SetSerializationDeterministic(true);
    request.SerializeToCodedStream(&coded);
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
         digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string KeyedStatement(absl::string_view effect) {
  return absl::StrCat(
      "WITH fresh AS (SELECT WHERE NOT EXISTS (SELECT 1 FROM idempotency_keys "
      "  WHERE scope = $1 AND method = $2 AND key = $3)), ",
      effect,
      ", stored_key AS (INSERT INTO idempotency_keys (scope, method, key, "
      "fingerprint, status_code, response) "
      "SELECT $1, $2, $3, $4, 0, decode($5, 'hex') FROM done LIMIT 1 "
      "RETURNING 1) SELECT count(*)::int FROM stored_key");
}

absl::Status IdempotencyConfig::Validate() const {
  if (retention < absl::Minutes(1)) {
    return absl::InvalidArgumentError(
        "idempotency retention must be at least a minute");
  }
  if (lock_wait <= absl::ZeroDuration() ||
      purge_interval <= absl::ZeroDuration() || purge_batch < 1) {
    return absl::InvalidArgumentError(
        "idempotency lock wait, purge interval and batch must be positive");
  }
  return absl::OkStatus();
}

Idempotency::Idempotency(db::Pool& pool, std::string service,
                         IdempotencyConfig config)
    : pool_(pool), service_(std::move(service)), config_(config) {}

Idempotency::~Idempotency() { StopPurging(); }

grpc::Status Idempotency::RunImpl(
    grpc::ServerContext* context, const char* method, Asked request,
    google::protobuf::Message* response,
    absl::FunctionRef<absl::Status(pqxx::work&)> work,
    const absl::FunctionRef<absl::Status()>* precheck, const OneStatement* once,
    bool look_first) {
  const auto& metadata = context->client_metadata();
  auto header = metadata.find(kKeyHeader);
  if (header == metadata.end()) {
    return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
        "metadata '", kKeyHeader, "' is required for ", method,
        ": 1-255 printable ASCII characters, the same on every retry")));
  }
  const std::string key(header->second.data(), header->second.size());
  if (absl::Status s = ValidateKey(key); !s.ok()) return ToGrpcStatus(s);
  const KeyRow row{server::CallerKey(*context),
                   absl::StrCat("/", service_, "/", method), key};
  const std::string fingerprint = Fingerprint(request.request);

  auto replay = [&](const Outcome& o) -> grpc::Status {
    if (o.fingerprint != fingerprint &&
        (request.former == nullptr ||
         o.fingerprint != Fingerprint(*request.former))) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "idempotency key reused with a different request");
    }
    context->AddInitialMetadata(kReplayHeader, "true");
    static metrics::Family& replays = metrics::Registry::Default().Counter(
        "sagaworks_idempotent_replays_total",
        "Calls answered from a stored outcome (a repeated idempotency key).",
        {"rpc_method"});
    replays.With({method}).Add(1);
    if (!o.status.ok()) return ToGrpcStatus(o.status);
    if (!response->ParseFromString(o.response)) {
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          "stored response cannot be read");
    }
    return grpc::Status::OK;
  };

  auto lookup = [&]() {
    return pool_.AutocommitOr<std::optional<Outcome>>(
        "idempotency_lookup",
        [&](pqxx::nontransaction& tx)
            -> absl::StatusOr<std::optional<Outcome>> {
          return Stored(tx, row);
        });
  };
  if (look_first) {
    // The precheck acts: a stored outcome answers before it can act again.
    absl::StatusOr<std::optional<Outcome>> found = lookup();
    if (!found.ok()) return ToGrpcStatus(found.status());
    if (found->has_value()) return replay(**found);
  }
  if (precheck != nullptr) {
    // A replay must not be refused by the precheck's look-ups: when the
    // precheck refuses, a committed key is looked for first. (Looking first
    // would cost every first call a round trip; a replay is rare.)
    if (absl::Status s = (*precheck)(); !s.ok()) {
      absl::StatusOr<std::optional<Outcome>> found = lookup();
      if (found.ok() && found->has_value()) return replay(**found);
      return ToGrpcStatus(s);
    }
  }

  // The one statement has no transaction to set the lock wait in, so it runs
  // only where the pool's is this one's.
  if (once != nullptr && config_.lock_wait == pool_.config().lock_timeout) {
    const StoredKey k{row.scope, row.method, row.key, fingerprint,
                      absl::BytesToHexString(once->answer.SerializeAsString())};
    // Whatever went wrong (a unique index, a lost connection that may have
    // committed it) the transaction below sorts out: it finds the key, or
    // the effect, or neither.
    absl::StatusOr<bool> stored = pool_.AutocommitOr<bool>(
        absl::StrCat("idempotent_", method, "_once"),
        [&](pqxx::nontransaction& tx) -> absl::StatusOr<bool> {
          return once->write(tx, k);
        });
    const bool done = stored.ok() && *stored;
    static metrics::Family& once_total = metrics::Registry::Default().Counter(
        "sagaworks_idempotent_one_statement_total",
        "Calls that tried to do their work and store their key in one "
        "statement: stored, or left to the full transaction (fallback).",
        {"rpc_method", "result"});
    once_total.With({method, done ? "stored" : "fallback"}).Add(1);
    if (done) {
      response->CopyFrom(once->answer);
      return grpc::Status::OK;
    }
  }

  // The handler's work runs first and the key row goes in last, with the
  // outcome: one statement for the key instead of a claim and an update.
  // Two calls with one key may then both do the work, but only one key row
  // can commit; the other's insert waits for it, finds it, and rolls its
  // own work back. A refusal (a final error) is an answer too, but the
  // handler's writes must not stay: it is stored after the rollback.
  std::optional<absl::Status> refused;
  bool duplicate = false;
  absl::StatusOr<Outcome> outcome = pool_.TransactOr<Outcome>(
      absl::StrCat("idempotent_", method),
      [&](pqxx::work& tx) -> absl::StatusOr<Outcome> {
        refused.reset();
        duplicate = false;
        // Every pooled connection already has the pool's lock timeout; set
        // it here only where this wait differs (a round trip saved per call).
        if (config_.lock_wait != pool_.config().lock_timeout) {
          tx.exec(absl::StrCat("SET LOCAL lock_timeout = ",
                               absl::ToInt64Milliseconds(config_.lock_wait)));
        }
        Outcome out;
        out.fingerprint = fingerprint;
        out.status = work(tx);
        if (!out.status.ok()) {
          // Either way this transaction rolls back; a final error is kept
          // below, a transient one is not remembered.
          if (IsFinalError(out.status)) refused = out.status;
          return out.status;
        }
        response->SerializeToString(&out.response);
        if (!Store(tx, row, out)) {
          duplicate = true;
          return absl::AbortedError("idempotency key already used");
        }
        return out;
      });
  if (duplicate || refused.has_value()) {
    // The stored outcome of the call that got the key is the answer; with
    // none, this call's refusal becomes it.
    outcome = pool_.AutocommitOr<Outcome>(
        absl::StrCat("idempotent_", method, "_outcome"),
        [&](pqxx::nontransaction& tx) -> absl::StatusOr<Outcome> {
          if (refused.has_value()) {
            Outcome out;
            out.fingerprint = fingerprint;
            out.status = *refused;
            if (Store(tx, row, out)) return out;
          }
          std::optional<Outcome> stored = Stored(tx, row);
          if (!stored.has_value()) {
            // Purged between the two statements: the caller retries.
            return absl::AbortedError("idempotency key vanished");
          }
          return *std::move(stored);
        });
  }
  if (!outcome.ok() && absl::IsAlreadyExists(outcome.status())) {
    // The work collided with a row already there: the one statement above
    // may have committed it (its connection lost before the answer, as in a
    // database failover), or a concurrent call with this key did. Its key
    // says what was answered; the caller never sees the collision.
    absl::StatusOr<std::optional<Outcome>> found = lookup();
    if (found.ok() && found->has_value()) return replay(**found);
    return grpc::Status(
        grpc::StatusCode::ABORTED,
        "a request with this idempotency key collided with another; retry");
  }
  if (!outcome.ok()) {
    if (absl::IsAborted(outcome.status())) {
      return grpc::Status(
          grpc::StatusCode::ABORTED,
          "a request with this idempotency key is still in progress; retry");
    }
    return ToGrpcStatus(outcome.status());
  }
  if (outcome->replay) return replay(*outcome);
  return ToGrpcStatus(outcome->status);
}

absl::StatusOr<int64_t> Idempotency::Purge() {
  int64_t total = 0;
  while (true) {
    absl::StatusOr<int64_t> deleted = pool_.TransactOr<int64_t>(
        "idempotency_purge", [&](pqxx::work& tx) -> absl::StatusOr<int64_t> {
          pqxx::result r = db::Exec(
              tx,
              "DELETE FROM idempotency_keys WHERE ctid IN ("
              "  SELECT ctid FROM idempotency_keys WHERE created_at < "
              "  now() - $1 * interval '1 second' LIMIT $2)",
              absl::ToInt64Seconds(config_.retention), config_.purge_batch);
          return static_cast<int64_t>(r.affected_rows());
        });
    if (!deleted.ok()) return deleted.status();
    total += *deleted;
    if (*deleted < config_.purge_batch) return total;
  }
}

void Idempotency::StartPurging() {
  purger_ = std::thread([this] {
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stop_;
        };
        if (mu_.AwaitWithTimeout(absl::Condition(&stopping),
                                 config_.purge_interval)) {
          return;
        }
      }
      absl::StatusOr<int64_t> purged = Purge();
      if (!purged.ok()) {
        LogWarning(
            absl::StrCat("idempotency purge: ", purged.status().message()));
      } else if (*purged > 0) {
        LogInfo(absl::StrCat("idempotency purge: ", *purged, " keys expired"));
      }
    }
  });
}

void Idempotency::StopPurging() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (purger_.joinable()) purger_.join();
}

}  // namespace sagaworks::idempotency
