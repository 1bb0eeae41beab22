#include "orchestrator/saga_store.h"

#include <unistd.h>

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/db/exec.h"
#include "common/enum_names.h"
#include "common/observability/metrics.h"
#include "common/observability/trace.h"
#include "common/page_token.h"
#include "common/uuid.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "orchestrator/order_saga.h"
#include "orchestrator/saga_statements.h"

namespace sagaworks::orchestrator {
namespace {

using google::protobuf::util::TimeUtil;

constexpr const char* kSagaType = kOrderSagaType;

// Marks the ABORTED of a commit whose saga moved on (IsLostRace).
constexpr char kLostRace[] = "type.sagaworks.dev/saga.lost_race";

constexpr char kRecordColumns[] =
    "saga_id, order_id, status, current_step, attempt, "
    "(extract(epoch FROM step_deadline) * 1000000)::bigint, failure_reason, "
    "total_cents, payload::text, version, cancel_requested, traceparent, "
    "context, failed_step, timeline_entries, call_entry";

constexpr char kSummaryColumns[] =
    "saga_id, saga_type, order_id, status, current_step, failure_reason, "
    "total_cents, (extract(epoch FROM created_at) * 1000000)::bigint, "
    "(extract(epoch FROM updated_at) * 1000000)::bigint, cancel_requested, "
    "attempt, (extract(epoch FROM call_since) * 1000000)::bigint, "
    "traceparent";

// StuckWhere is the SQL for "stuck" (v1::Saga.stuck), the threshold in
// milliseconds being parameter $`param`. An in-flight call is bounded by its
// downstream's call budget, well below the threshold, so a saga that is due
// and has not been updated for that long is not being driven.
std::string StuckWhere(int param) {
  const std::string ago =
      absl::StrCat("now() - $", param, " * interval '1 millisecond'");
  return absl::StrCat(
      "(status IN ('running', 'compensating') AND ((attempt > 1 AND "
      "call_since < ",
      ago, ") OR (next_attempt_at < ", ago, " AND updated_at < ", ago, ")))");
}

// SelectSummary selects a saga's summary columns and, last, whether it is
// stuck (the threshold being parameter $`stuck_param`).
std::string SelectSummary(int stuck_param) {
  return absl::StrCat("SELECT ", kSummaryColumns, ", ",
                      StuckWhere(stuck_param));
}

// Bytea in PostgreSQL's hex text form, which plain and array parameters
// carry as they carry text.
std::string FromBytea(const std::string& text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x') return "";
  return absl::HexStringToBytes(absl::string_view(text).substr(2));
}

// RecordFromRow reads a saga row; with `request`, its payload is that
// request (just stored) and need not be parsed back.
absl::StatusOr<SagaRecord> RecordFromRow(
    const pqxx::row& row, const v1::StartSagaRequest* request = nullptr) {
  SagaRecord r;
  r.saga_id = row[0].as<std::string>();
  r.order_id = row[1].as<std::string>();
  std::optional<SagaStatus> status = ParseSagaStatus(row[2].as<std::string>());
  if (!status.has_value()) {
    return absl::InternalError(absl::StrCat(
        "saga ", r.saga_id, " has unknown status ", row[2].as<std::string>()));
  }
  r.state.status = *status;
  r.state.current_step = row[3].as<int>();
  r.state.attempt = row[4].as<int>();
  if (!row[5].is_null()) {
    r.state.step_deadline = absl::FromUnixMicros(row[5].as<int64_t>());
  }
  r.state.failure_reason = row[6].as<std::string>();
  if (request != nullptr) {
    r.request = *request;
  } else if (!google::protobuf::util::JsonStringToMessage(
                  row[8].as<std::string>(), &r.request)
                  .ok()) {
    return absl::InternalError(
        absl::StrCat("saga ", r.saga_id, " has an unreadable payload"));
  }
  r.version = row[9].as<int64_t>();
  r.state.cancel_requested = row[10].as<bool>();
  r.traceparent = row[11].as<std::string>();
  r.state.context = FromBytea(row[12].as<std::string>());
  if (!row[13].is_null()) r.state.failed_step = row[13].as<int>();
  r.state.timeline_entries = row[14].as<int64_t>();
  r.state.call_entry = row[15].as<int64_t>();
  // Sagas stored before contexts kept the total in its own column.
  if (r.state.context.empty() && row[7].as<int64_t>() != 0) {
    r.state.context = OrderContextBytes(row[7].as<int64_t>());
  }
  return r;
}

// TraceIdOf is a stored traceparent's trace id, "" when there is none.
std::string TraceIdOf(absl::string_view traceparent) {
  const std::optional<trace::SpanContext> context =
      trace::ParseTraceparent(traceparent);
  return context.has_value() ? context->TraceIdHex() : "";
}

// SummaryFromRow reads a row of SelectSummary.
v1::Saga SummaryFromRow(const pqxx::row& row) {
  v1::Saga s;
  s.set_saga_id(row[0].as<std::string>());
  s.set_saga_type(row[1].as<std::string>());
  s.set_order_id(row[2].as<std::string>());
  s.set_status(ToProtoStatus(
      ParseSagaStatus(row[3].as<std::string>()).value_or(SagaStatus::kFailed)));
  s.set_current_step(row[4].as<int>());
  s.set_failure_reason(row[5].as<std::string>());
  s.set_total_cents(row[6].as<int64_t>());
  *s.mutable_create_time() =
      TimeUtil::MicrosecondsToTimestamp(row[7].as<int64_t>());
  *s.mutable_update_time() =
      TimeUtil::MicrosecondsToTimestamp(row[8].as<int64_t>());
  s.set_cancel_requested(row[9].as<bool>());
  s.set_attempt(row[10].as<int>());
  *s.mutable_call_since() =
      TimeUtil::MicrosecondsToTimestamp(row[11].as<int64_t>());
  s.set_trace_id(TraceIdOf(row[12].as<std::string>()));
  s.set_stuck(row[13].as<bool>());
  return s;
}

v1::StepOutcome OutcomeFromDb(const std::string& s) {
  v1::StepOutcome outcome = v1::STEP_OUTCOME_UNSPECIFIED;
  ParseShortEnumName(s, v1::StepOutcome_Parse, "STEP_OUTCOME_", &outcome);
  return outcome;
}

std::string StatusToDb(v1::SagaStatus status) {
  return ShortEnumName(status, v1::SagaStatus_Name<v1::SagaStatus>,
                       "SAGA_STATUS_");
}

}  // namespace

bool IsLostRace(const absl::Status& status) {
  return absl::IsAborted(status) && status.GetPayload(kLostRace).has_value();
}

absl::Status LostRace(const std::string& saga_id, int64_t version) {
  absl::Status lost = absl::AbortedError(
      absl::StrCat("saga ", saga_id, " moved on since version ", version,
                   " or is leased to another orchestrator"));
  lost.SetPayload(kLostRace, absl::Cord("1"));
  return lost;
}

v1::SagaStatus ToProtoStatus(SagaStatus status) {
  switch (status) {
    case SagaStatus::kRunning:
      return v1::SAGA_STATUS_RUNNING;
    case SagaStatus::kCompleted:
      return v1::SAGA_STATUS_COMPLETED;
    case SagaStatus::kCompensating:
      return v1::SAGA_STATUS_COMPENSATING;
    case SagaStatus::kCompensated:
      return v1::SAGA_STATUS_COMPENSATED;
    case SagaStatus::kFailed:
      return v1::SAGA_STATUS_FAILED;
  }
  return v1::SAGA_STATUS_UNSPECIFIED;
}

v1::Saga Summarize(const SagaRecord& record, const SagaState& state) {
  v1::Saga saga;
  saga.set_saga_id(record.saga_id);
  saga.set_saga_type(kSagaType);
  saga.set_order_id(record.order_id);
  saga.set_status(ToProtoStatus(state.status));
  saga.set_current_step(state.current_step);
  saga.set_failure_reason(state.failure_reason);
  saga.set_total_cents(OrderTotalCents(state));
  saga.set_cancel_requested(state.cancel_requested);
  saga.set_trace_id(TraceIdOf(record.traceparent));
  return saga;
}

std::string DefaultInstanceId(const std::string& listen_address) {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  const size_t colon = listen_address.rfind(':');
  return absl::StrCat(host[0] == '\0' ? "localhost" : host, ":",
                      colon == std::string::npos
                          ? listen_address
                          : listen_address.substr(colon + 1));
}

absl::Status Lease::Validate() const {
  if (owner.empty() || owner.size() > 200) {
    return absl::InvalidArgumentError(
        "--instance-id (the saga lease owner) must be 1-200 characters long");
  }
  if (duration < absl::Milliseconds(100) || duration > absl::Hours(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("lease duration ", absl::FormatDuration(duration),
                     " is outside [100ms, 1h]"));
  }
  return absl::OkStatus();
}

namespace internal {

absl::StatusOr<std::string> Payload(const v1::StartSagaRequest& request) {
  std::string payload;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(request, &payload, options)
           .ok()) {
    return absl::InternalError("cannot encode saga payload");
  }
  return payload;
}

}  // namespace internal

SagaRecord SagaStore::PlannedSaga(const v1::StartSagaRequest& request,
                                  const Decision& first) const {
  SagaRecord r;
  r.saga_id = NewUuid();
  r.order_id = request.order_id();
  r.state = first.state;
  r.request = request;
  r.version = 0;
  r.traceparent = trace::CurrentTraceparent();
  return r;
}

absl::StatusOr<SagaRecord> SagaStore::CreateIn(
    pqxx::work& tx, const v1::StartSagaRequest& request, bool* created,
    const Decision& first) {
  absl::StatusOr<std::string> payload = internal::Payload(request);
  if (!payload.ok()) return payload.status();
  const SagaState& state = first.state;
  const bool has_deadline = state.step_deadline.has_value();
  const StepLogEntry none;
  const StepLogEntry& entry = first.log.empty() ? none : first.log.front();
  pqxx::result inserted = db::Exec(
      tx,
      absl::StrCat(
          "WITH s AS ("
          "  INSERT INTO saga_instances "
          "  (saga_type, order_id, status, current_step, attempt, "
          "   step_deadline, payload, lease_owner, lease_expires_at, "
          "   traceparent, context, timeline_entries, call_entry) "
          "  VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN "
          "'epoch'::timestamptz "
          "    + $7 * interval '1 microsecond' END, $8::jsonb, $9, "
          "    now() + $10 * interval '1 millisecond', $11, $18::bytea, $19, "
          "    $20) "
          "  ON CONFLICT (saga_type, order_id) DO NOTHING RETURNING ",
          kRecordColumns,
          "), log AS ("
          "  INSERT INTO saga_steps (saga_id, id, step, name, kind, attempt, "
          "  outcome) SELECT saga_id, $21, $13, $14, $15, $16, $17 FROM s "
          "  WHERE $12"
          ") SELECT * FROM s"),
      kSagaType, request.order_id(), std::string(SagaStatusName(state.status)),
      state.current_step, state.attempt, has_deadline,
      has_deadline ? absl::ToUnixMicros(*state.step_deadline) : 0, *payload,
      lease_.owner, absl::ToInt64Milliseconds(lease_.duration),
      trace::CurrentTraceparent(), !first.log.empty(), entry.step, entry.name,
      std::string(CallKindName(entry.kind)), entry.attempt, entry.outcome,
      internal::ByteaParam(state.context), state.timeline_entries,
      state.call_entry, entry.id);
  *created = !inserted.empty();
  if (*created) return RecordFromRow(inserted[0], &request);
  pqxx::result r =
      db::Exec(tx,
               absl::StrCat("SELECT ", kRecordColumns,
                            " FROM saga_instances "
                            "WHERE saga_type = $1 AND order_id = $2"),
               kSagaType, request.order_id());
  return RecordFromRow(r[0]);
}

absl::StatusOr<SagaRecord> SagaStore::Load(const std::string& saga_id) {
  return pool_.AutocommitOr<SagaRecord>(
      "load_saga", [&](pqxx::nontransaction& tx) -> absl::StatusOr<SagaRecord> {
        pqxx::result r =
            db::Exec(tx,
                     absl::StrCat("SELECT ", kRecordColumns,
                                  " FROM saga_instances WHERE saga_id = $1"),
                     saga_id);
        if (r.empty()) {
          return absl::NotFoundError(absl::StrCat("no saga ", saga_id));
        }
        return RecordFromRow(r[0]);
      });
}

namespace {

// Collapse folds the entries of one commit that write the same timeline
// entry (an attempt's outcome and the next attempt's start) into one, since
// one statement cannot write a row twice.
std::vector<StepLogEntry> Collapse(const std::vector<StepLogEntry>& entries) {
  std::vector<StepLogEntry> out;
  for (const StepLogEntry& e : entries) {
    if (!out.empty() && out.back().id == e.id) {
      StepLogEntry& same = out.back();
      same.attempt = e.attempt;
      same.outcome = e.outcome;
      if (!e.error.empty()) same.error = e.error;
      continue;
    }
    out.push_back(e);
  }
  return out;
}

// MoveStatement: the commit of saga moves in one statement, the moves
// coming from `moves` (a query with one row per saga: the columns the
// update needs, $1-$12, $22-$23, $27-$28). The states move and the log
// ($15-$21, $24-$26) grows
// together, or neither (a saga whose row did not match gets no log rows:
// ABORTED). The lease check ($13, renewed for $14 ms) matters even though
// the version is checked too: another orchestrator may have claimed the
// saga and not yet committed anything.
std::string MoveStatement(absl::string_view moves) {
  return absl::StrCat(
      "WITH i AS (", moves,
      "), "
      "moved AS ("
      "  UPDATE saga_instances s SET status = i.status, "
      "  current_step = i.current_step, attempt = i.attempt, "
      "  step_deadline = CASE WHEN i.has_deadline THEN 'epoch'::timestamptz "
      "    + i.deadline * interval '1 microsecond' END, "
      "  failure_reason = i.failure_reason, total_cents = i.total_cents, "
      "  context = i.context, failed_step = nullif(i.failed_step, -1), "
      "  timeline_entries = i.timeline_entries, call_entry = i.call_entry, "
      // A call's first attempt starts its time; retries keep it.
      "  call_since = CASE WHEN i.attempt <= 1 THEN now() "
      "    ELSE s.call_since END, "
      "  cancel_requested = i.cancel_requested, "
      // A due saga's next attempt stays as stored while it is still due
      // (both times are past): the row then changes no indexed column and
      // the update stays on its page (see migration 0005).
      "  next_attempt_at = CASE WHEN s.next_attempt_at <= i.next_at "
      "    AND i.next_at <= now() THEN s.next_attempt_at ELSE i.next_at END, "
      "  lease_owner = $13, "
      "  lease_expires_at = now() + $14 * interval '1 millisecond', "
      "  version = s.version + 1, updated_at = now() "
      "  FROM i "
      "  WHERE s.saga_id = i.saga_id AND s.version = i.version "
      "    AND (i.take_over OR s.lease_owner IS NULL "
      "         OR s.lease_owner = $13 OR s.lease_expires_at < now()) "
      "  RETURNING s.saga_id, s.version), "
      // A call's later attempts and its outcome update its entry (the same
      // id): the timeline grows by calls, not by attempts.
      "logged AS ("
      "  INSERT INTO saga_steps "
      "    (saga_id, id, step, name, kind, attempt, outcome, error, actor, "
      "     note) "
      "  SELECT e.saga_id, e.id, e.step, e.name, e.kind, e.attempt, "
      "         e.outcome, e.error, e.actor, e.note "
      "  FROM unnest($15::uuid[], $24::bigint[], $16::int[], $17::text[], "
      "              $18::text[], $19::int[], $20::text[], $21::text[], "
      "              $25::text[], $26::text[]) "
      "    AS e(saga_id, id, step, name, kind, attempt, outcome, error, "
      "         actor, note) "
      "  JOIN moved m ON m.saga_id = e.saga_id "
      "  ON CONFLICT (saga_id, id) DO UPDATE SET "
      "    attempt = excluded.attempt, outcome = excluded.outcome, "
      "    error = CASE WHEN excluded.error = '' THEN saga_steps.error "
      "      ELSE excluded.error END, at = now()) "
      "SELECT saga_id::text, version FROM moved");
}

}  // namespace

std::vector<absl::StatusOr<int64_t>> SagaStore::CommitAllIn(
    pqxx::transaction_base& tx, absl::Span<const Move> moves) {
  // Column arrays, one element per saga and one per log entry.
  std::vector<std::string> ids, versions, statuses, current_steps, attempts,
      has_deadlines, deadlines, reasons, totals, next_ats, cancels, take_overs,
      contexts, failed_steps, timeline_entries, call_entries;
  std::vector<std::string> e_ids, e_steps, e_names, e_kinds, e_attempts,
      e_outcomes, e_errors, e_entry_ids, e_actors, e_notes;
  for (const Move& m : moves) {
    const SagaState& next = *m.next;
    ids.push_back(m.record->saga_id);
    versions.push_back(absl::StrCat(m.record->version));
    statuses.emplace_back(SagaStatusName(next.status));
    current_steps.push_back(absl::StrCat(next.current_step));
    attempts.push_back(absl::StrCat(next.attempt));
    has_deadlines.push_back(next.step_deadline.has_value() ? "t" : "f");
    deadlines.push_back(absl::StrCat(
        next.step_deadline ? absl::ToUnixMicros(*next.step_deadline) : 0));
    reasons.push_back(next.failure_reason);
    totals.push_back(absl::StrCat(OrderTotalCents(next)));
    contexts.push_back(internal::ByteaParam(next.context));
    failed_steps.push_back(absl::StrCat(next.failed_step.value_or(-1)));
    timeline_entries.push_back(absl::StrCat(next.timeline_entries));
    call_entries.push_back(absl::StrCat(next.call_entry));
    next_ats.push_back(absl::StrCat(absl::ToUnixMicros(m.next_attempt_at)));
    cancels.push_back(next.cancel_requested ? "t" : "f");
    take_overs.push_back(m.take_over ? "t" : "f");
    for (const StepLogEntry& e : Collapse(*m.entries)) {
      e_ids.push_back(m.record->saga_id);
      e_steps.push_back(absl::StrCat(e.step));
      e_names.push_back(e.name);
      e_kinds.emplace_back(e.actor.empty() ? CallKindName(e.kind) : "operator");
      e_attempts.push_back(absl::StrCat(e.attempt));
      e_outcomes.push_back(e.outcome);
      e_errors.push_back(e.error);
      e_entry_ids.push_back(absl::StrCat(e.id));
      e_actors.push_back(e.actor);
      e_notes.push_back(e.note);
    }
  }
  // One statement (MoveStatement).
  pqxx::result r;
  if (moves.size() == 1) {
    // Alone (most moves below saturation) the saga's columns go as plain
    // parameters rather than one-element arrays, which PostgreSQL parses and
    // executes in less time.
    const Move& m = moves[0];
    const SagaState& next = *m.next;
    static const std::string sql = MoveStatement(
        "SELECT $1::uuid AS saga_id, $2::bigint AS version, "
        "  $3::text AS status, $4::int AS current_step, $5::int AS attempt, "
        "  $6::bool AS has_deadline, $7::bigint AS deadline, "
        "  $8::text AS failure_reason, $9::bigint AS total_cents, "
        "  'epoch'::timestamptz + $10::bigint * interval '1 microsecond' "
        "    AS next_at, "
        "  $11::bool AS cancel_requested, $12::bool AS take_over, "
        "  $22::bytea AS context, $23::int AS failed_step, "
        "  $27::bigint AS timeline_entries, $28::bigint AS call_entry");
    r = db::Exec(
        tx, sql, m.record->saga_id, m.record->version,
        std::string(SagaStatusName(next.status)), next.current_step,
        next.attempt, next.step_deadline.has_value(),
        next.step_deadline ? absl::ToUnixMicros(*next.step_deadline) : 0,
        next.failure_reason, OrderTotalCents(next),
        absl::ToUnixMicros(m.next_attempt_at), next.cancel_requested,
        m.take_over, lease_.owner, absl::ToInt64Milliseconds(lease_.duration),
        db::ArrayLiteral(e_ids), db::ArrayLiteral(e_steps),
        db::ArrayLiteral(e_names), db::ArrayLiteral(e_kinds),
        db::ArrayLiteral(e_attempts), db::ArrayLiteral(e_outcomes),
        db::ArrayLiteral(e_errors), contexts[0], next.failed_step.value_or(-1),
        db::ArrayLiteral(e_entry_ids), db::ArrayLiteral(e_actors),
        db::ArrayLiteral(e_notes), next.timeline_entries, next.call_entry);
  } else {
    static const std::string sql = MoveStatement(
        "SELECT u.saga_id, u.version, u.status, u.current_step, u.attempt, "
        "  u.has_deadline, u.deadline, u.failure_reason, u.total_cents, "
        "  'epoch'::timestamptz + u.next_at_us * interval '1 microsecond' "
        "    AS next_at, "
        "  u.cancel_requested, u.take_over, u.context, u.failed_step, "
        "  u.timeline_entries, u.call_entry "
        "FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::int[], "
        "  $5::int[], $6::bool[], $7::bigint[], $8::text[], $9::bigint[], "
        "  $10::bigint[], $11::bool[], $12::bool[], $22::bytea[], $23::int[], "
        "  $27::bigint[], $28::bigint[]) "
        "AS u(saga_id, version, status, current_step, attempt, has_deadline, "
        "     deadline, failure_reason, total_cents, next_at_us, "
        "     cancel_requested, take_over, context, failed_step, "
        "     timeline_entries, call_entry)");
    r = db::Exec(tx, sql, db::ArrayLiteral(ids), db::ArrayLiteral(versions),
                 db::ArrayLiteral(statuses), db::ArrayLiteral(current_steps),
                 db::ArrayLiteral(attempts), db::ArrayLiteral(has_deadlines),
                 db::ArrayLiteral(deadlines), db::ArrayLiteral(reasons),
                 db::ArrayLiteral(totals), db::ArrayLiteral(next_ats),
                 db::ArrayLiteral(cancels), db::ArrayLiteral(take_overs),
                 lease_.owner, absl::ToInt64Milliseconds(lease_.duration),
                 db::ArrayLiteral(e_ids), db::ArrayLiteral(e_steps),
                 db::ArrayLiteral(e_names), db::ArrayLiteral(e_kinds),
                 db::ArrayLiteral(e_attempts), db::ArrayLiteral(e_outcomes),
                 db::ArrayLiteral(e_errors), db::ArrayLiteral(contexts),
                 db::ArrayLiteral(failed_steps), db::ArrayLiteral(e_entry_ids),
                 db::ArrayLiteral(e_actors), db::ArrayLiteral(e_notes),
                 db::ArrayLiteral(timeline_entries),
                 db::ArrayLiteral(call_entries));
  }
  absl::flat_hash_map<std::string, int64_t> moved;
  for (const auto& row : r) {
    moved[row[0].as<std::string>()] = row[1].as<int64_t>();
  }
  std::vector<absl::StatusOr<int64_t>> out;
  out.reserve(moves.size());
  for (const Move& m : moves) {
    auto it = moved.find(m.record->saga_id);
    if (it != moved.end()) {
      out.emplace_back(it->second);
    } else {
      out.emplace_back(LostRace(m.record->saga_id, m.record->version));
    }
  }
  return out;
}

absl::StatusOr<int64_t> SagaStore::CommitIn(
    pqxx::transaction_base& tx, const SagaRecord& record, const SagaState& next,
    const std::vector<StepLogEntry>& entries, absl::Time next_attempt_at,
    bool take_over) {
  const Move move{&record, &next, &entries, next_attempt_at, take_over};
  return std::move(CommitAllIn(tx, absl::MakeConstSpan(&move, 1))[0]);
}

SagaStore::~SagaStore() {
  std::thread committer;
  {
    absl::MutexLock lock(&commit_mu_);
    closing_ = true;
    committer = std::move(committer_);
  }
  if (committer.joinable()) committer.join();
}

absl::StatusOr<int64_t> SagaStore::Commit(
    const SagaRecord& record, const SagaState& next,
    const std::vector<StepLogEntry>& entries, absl::Time next_attempt_at) {
  absl::Notification committed;
  absl::StatusOr<int64_t> result;
  CommitAsync(record, next, entries, next_attempt_at, /*may_wait=*/true,
              [&](absl::StatusOr<int64_t> r) {
                result = std::move(r);
                committed.Notify();
              });
  committed.WaitForNotification();
  return result;
}

void SagaStore::CommitAsync(const SagaRecord& record, const SagaState& next,
                            const std::vector<StepLogEntry>& entries,
                            absl::Time next_attempt_at, bool may_wait,
                            Committed done) {
  auto waiting = std::make_unique<Waiting>();
  waiting->move = Move{&record, &next, &entries, next_attempt_at};
  waiting->done = std::move(done);
  // The shared statement's own span lands in the trace of the first saga of
  // its group; this one keeps every saga's commit (its wait included) in
  // its own trace.
  if (trace::CurrentContext().valid()) {
    waiting->span = trace::Tracer::Get().StartSpan("commit saga",
                                                   trace::SpanKind::kInternal);
  }
  {
    absl::MutexLock lock(&commit_mu_);
    // With nothing else waiting or being committed, a caller that may wait
    // commits its move itself, sparing two hand-overs between threads.
    if (!may_wait || flushing_ || !waiting_.empty()) {
      waiting_.push_back(std::move(waiting));
      if (!committer_.joinable()) {
        committer_ = std::thread([this] { CommitLoop(); });
      }
      return;
    }
    flushing_ = true;
  }
  std::vector<std::unique_ptr<Waiting>> group;
  group.push_back(std::move(waiting));
  Flush(std::move(group));
}

void SagaStore::CommitLoop() {
  absl::MutexLock lock(&commit_mu_);
  while (true) {
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_) {
      return !flushing_ && (closing_ || !waiting_.empty());
    };
    commit_mu_.Await(absl::Condition(&ready));
    if (waiting_.empty()) return;  // closing
    if (group_wait_ > absl::ZeroDuration() && expected_ != nullptr) {
      const size_t target = std::min<size_t>(
          waiting_.size() + static_cast<size_t>(std::max(expected_(), 0)),
          static_cast<size_t>(max_batch_));
      auto joined = [this, target]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_) {
        return closing_ || waiting_.size() >= target;
      };
      commit_mu_.AwaitWithTimeout(absl::Condition(&joined), group_wait_);
    }
    // Oldest first. A saga is in one group at most (the second move of a
    // saga must see the first's version): later ones wait for the next.
    std::vector<std::unique_ptr<Waiting>> group, later;
    absl::flat_hash_set<absl::string_view> sagas;
    for (std::unique_ptr<Waiting>& w : waiting_) {
      if (static_cast<int>(group.size()) < max_batch_ &&
          sagas.insert(w->move.record->saga_id).second) {
        group.push_back(std::move(w));
      } else {
        later.push_back(std::move(w));
      }
    }
    waiting_ = std::move(later);
    flushing_ = true;
    commit_mu_.Unlock();
    Flush(std::move(group));
    commit_mu_.Lock();
  }
}

void SagaStore::Flush(std::vector<std::unique_ptr<Waiting>> group) {
  std::vector<Waiting*> moves;
  moves.reserve(group.size());
  for (const std::unique_ptr<Waiting>& w : group) moves.push_back(w.get());
  {
    const trace::SpanContext lead = group.front()->span != nullptr
                                        ? group.front()->span->context()
                                        : trace::SpanContext{};
    trace::ScopedContext in_trace(lead);
    CommitGroup(std::move(moves));
  }
  {
    // The next group may go while these callers carry on.
    absl::MutexLock lock(&commit_mu_);
    flushing_ = false;
  }
  for (std::unique_ptr<Waiting>& w : group) {
    if (w->span != nullptr && w->span->recording()) {
      w->span->SetAttribute("sagaworks.saga.commit_group",
                            static_cast<int64_t>(group.size()));
      if (w->result.ok()) {
        w->span->SetOk();
      } else {
        w->span->SetError(w->result.status().message());
      }
    }
    w->span.reset();
    Committed done = std::move(w->done);
    done(std::move(w->result));
  }
}

void SagaStore::CommitGroup(std::vector<Waiting*> group) {
  // Rows are locked in saga id order, whoever commits: two groups that
  // share sagas (another orchestrator taking some over) wait for each other
  // rather than deadlock.
  std::sort(group.begin(), group.end(), [](const Waiting* a, const Waiting* b) {
    return a->move.record->saga_id < b->move.record->saga_id;
  });
  static metrics::Family& sizes = metrics::Registry::Default().Histogram(
      "sagaworks_saga_commit_group_size",
      "Saga moves committed together in one statement.", {},
      {1, 2, 4, 8, 16, 32, 64});
  sizes.Histogram({}).Observe(static_cast<double>(group.size()));
  std::vector<Move> moves;
  moves.reserve(group.size());
  for (const Waiting* w : group) moves.push_back(w->move);
  std::vector<absl::StatusOr<int64_t>> results;
  // A single statement needs no transaction around it: one round trip.
  absl::Status s = pool_.Autocommit(
      "commit_sagas", [&](pqxx::nontransaction& tx) -> absl::Status {
        results = CommitAllIn(tx, moves);
        return absl::OkStatus();
      });
  if (s.ok()) {
    for (size_t i = 0; i < group.size(); ++i) {
      group[i]->result = std::move(results[i]);
    }
    return;
  }
  if (group.size() == 1 || absl::IsUnavailable(s)) {
    for (Waiting* w : group) w->result = s;
    return;
  }
  for (Waiting* w : group) {
    w->result = pool_.AutocommitOr<int64_t>(
        "commit_saga", [&](pqxx::nontransaction& tx) {
          return CommitIn(tx, *w->move.record, *w->move.next, *w->move.entries,
                          w->move.next_attempt_at);
        });
  }
}

absl::StatusOr<SagaRecord> SagaStore::LockIn(pqxx::work& tx,
                                             const std::string& saga_id) {
  pqxx::result r = db::Exec(tx,
                            absl::StrCat("SELECT ", kRecordColumns,
                                         " FROM saga_instances WHERE "
                                         "saga_id = $1 FOR UPDATE"),
                            saga_id);
  if (r.empty()) return absl::NotFoundError(absl::StrCat("no saga ", saga_id));
  return RecordFromRow(r[0]);
}

absl::StatusOr<SagaRecord> SagaStore::LockByOrderIn(
    pqxx::work& tx, const std::string& order_id) {
  pqxx::result r =
      db::Exec(tx,
               absl::StrCat("SELECT ", kRecordColumns,
                            " FROM saga_instances WHERE saga_type = $1 AND "
                            "order_id = $2 FOR UPDATE"),
               kSagaType, order_id);
  if (r.empty()) {
    return absl::NotFoundError(absl::StrCat("no saga for order ", order_id));
  }
  return RecordFromRow(r[0]);
}

absl::StatusOr<SagaStore::DueSagas> SagaStore::Claim(int limit,
                                                     bool include_own) {
  return pool_.TransactOr<DueSagas>(
      "claim_sagas", [&](pqxx::work& tx) -> absl::StatusOr<DueSagas> {
        pqxx::result r = db::Exec(
            tx,
            // A step's deadline bounds how long its participant may keep
            // failing; the time since the last holder last renewed (it
            // died, or restarts) saw no attempt, so the step gets it back.
            "UPDATE saga_instances s SET lease_owner = $1, "
            "lease_expires_at = now() + $2 * interval '1 millisecond', "
            "step_deadline = s.step_deadline + CASE WHEN s.lease_owner IS "
            "  NULL THEN interval '0' ELSE GREATEST(interval '0', now() - "
            "  (s.lease_expires_at - $2 * interval '1 millisecond')) END "
            "FROM (SELECT saga_id FROM saga_instances "
            "      WHERE status IN ('running', 'compensating') "
            "        AND (lease_owner IS NULL OR lease_expires_at < now() "
            "             OR ($3 AND lease_owner = $1)) "
            "      ORDER BY next_attempt_at LIMIT $4 "
            "      FOR UPDATE SKIP LOCKED) claimed "
            "WHERE s.saga_id = claimed.saga_id "
            "RETURNING s.saga_id, "
            "(extract(epoch FROM s.next_attempt_at) * 1000000)::bigint",
            lease_.owner, absl::ToInt64Milliseconds(lease_.duration),
            include_own, limit);
        DueSagas out;
        for (const auto& row : r) {
          out.emplace_back(row[0].as<std::string>(),
                           absl::FromUnixMicros(row[1].as<int64_t>()));
        }
        return out;
      });
}

absl::StatusOr<int64_t> SagaStore::RenewLeases(
    const std::vector<std::string>& held) {
  // In chunks, each a statement of its own: a chunk keeps its rows locked
  // only until it commits, so a commit that needs one of them waits for a
  // chunk, not for every lease this orchestrator holds (tens of thousands
  // under a backlog).
  int64_t total = 0;
  for (size_t from = 0; from < held.size();
       from += static_cast<size_t>(renew_chunk_)) {
    const size_t to =
        std::min(held.size(), from + static_cast<size_t>(renew_chunk_));
    const std::vector<std::string> chunk(held.begin() + from,
                                         held.begin() + to);
    absl::StatusOr<int64_t> renewed = pool_.AutocommitOr<int64_t>(
        "renew_leases", [&](pqxx::nontransaction& tx) {
          pqxx::result r = db::Exec(
              tx,
              // Rows locked right now are being committed (a commit renews
              // the lease too) or cancelled: skipped rather than waited for,
              // so renewing never stalls commits nor deadlocks with a group.
              "UPDATE saga_instances "
              "SET lease_expires_at = now() + $2 * interval '1 millisecond' "
              "WHERE saga_id IN (SELECT saga_id FROM saga_instances "
              "  WHERE saga_id = ANY($3::uuid[]) AND lease_owner = $1 "
              "    AND status IN ('running', 'compensating') "
              "  FOR UPDATE SKIP LOCKED)",
              lease_.owner, absl::ToInt64Milliseconds(lease_.duration),
              db::ArrayLiteral(chunk));
          return static_cast<int64_t>(r.affected_rows());
        });
    if (!renewed.ok()) return renewed.status();
    total += *renewed;
  }
  return total;
}

absl::Status SagaStore::ReleaseLeases() {
  return pool_.Transact("release_leases", [&](pqxx::work& tx) {
    db::Exec(tx,
             "UPDATE saga_instances SET lease_expires_at = now() "
             "WHERE lease_owner = $1 AND status IN ('running', 'compensating')",
             lease_.owner);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Saga> SagaStore::Describe(const v1::GetSagaRequest& request,
                                             int steps_page_size) {
  const std::string& saga_id = request.saga_id();
  const std::string& order_id = request.order_id();
  // A timeline token is the saga's id and the last entry sent.
  int64_t after = 0;
  std::string token_saga;
  if (!request.steps_page_token().empty()) {
    absl::StatusOr<PageCursor> cursor =
        DecodePageToken(request.steps_page_token());
    if (!cursor.ok()) {
      return absl::InvalidArgumentError("steps_page_token is not valid");
    }
    after = cursor->created_at_micros;
    token_saga = cursor->id;
    if (!saga_id.empty() && token_saga != saga_id) {
      return absl::InvalidArgumentError(
          "steps_page_token belongs to another saga");
    }
  }
  return pool_.ReadOr<v1::Saga>(
      "describe_saga", [&](pqxx::work& tx) -> absl::StatusOr<v1::Saga> {
        pqxx::result r =
            saga_id.empty()
                ? db::Exec(tx,
                           absl::StrCat(SelectSummary(3),
                                        " FROM saga_instances WHERE "
                                        "saga_type = $1 AND order_id = $2"),
                           kSagaType, order_id,
                           absl::ToInt64Milliseconds(stuck_after_))
                : db::Exec(tx,
                           absl::StrCat(SelectSummary(2),
                                        " FROM saga_instances "
                                        "WHERE saga_id = $1"),
                           saga_id, absl::ToInt64Milliseconds(stuck_after_));
        if (r.empty()) {
          return absl::NotFoundError(
              saga_id.empty() ? absl::StrCat("no saga for order ", order_id)
                              : absl::StrCat("no saga ", saga_id));
        }
        v1::Saga saga = SummaryFromRow(r[0]);
        if (!token_saga.empty() && token_saga != saga.saga_id()) {
          return absl::InvalidArgumentError(
              "steps_page_token belongs to another saga");
        }
        pqxx::result steps = db::Exec(
            tx,
            "SELECT id, step, name, kind, attempt, outcome, error, "
            "(extract(epoch FROM at) * 1000000)::bigint, "
            "(extract(epoch FROM coalesce(first_at, at)) * 1000000)::bigint, "
            "actor, note "
            "FROM saga_steps WHERE saga_id = $1 AND id > $2 ORDER BY id "
            "LIMIT $3",
            saga.saga_id(), after, steps_page_size + 1);
        for (int i = 0;
             i < static_cast<int>(steps.size()) && i < steps_page_size; ++i) {
          const auto& row = steps[i];
          v1::SagaStepEvent* e = saga.add_steps();
          e->set_step(row[1].as<int>());
          e->set_name(row[2].as<std::string>());
          const std::string kind = row[3].as<std::string>();
          e->set_kind(kind == "action"         ? v1::STEP_KIND_ACTION
                      : kind == "compensation" ? v1::STEP_KIND_COMPENSATION
                                               : v1::STEP_KIND_OPERATOR);
          e->set_attempt(row[4].as<int>());
          e->set_outcome(OutcomeFromDb(row[5].as<std::string>()));
          e->set_error(row[6].as<std::string>());
          *e->mutable_time() =
              TimeUtil::MicrosecondsToTimestamp(row[7].as<int64_t>());
          *e->mutable_first_time() =
              TimeUtil::MicrosecondsToTimestamp(row[8].as<int64_t>());
          e->set_actor(row[9].as<std::string>());
          e->set_note(row[10].as<std::string>());
          if (i == steps_page_size - 1 &&
              static_cast<int>(steps.size()) > steps_page_size) {
            saga.set_next_steps_page_token(
                EncodePageToken({row[0].as<int64_t>(), saga.saga_id()}));
          }
        }
        return saga;
      });
}

absl::StatusOr<int64_t> SagaStore::CountStuck(absl::Duration after) {
  return pool_.ReadOr<int64_t>(
      "count_stuck_sagas", [&](pqxx::work& tx) -> absl::StatusOr<int64_t> {
        return db::Exec(tx,
                        absl::StrCat("SELECT count(*) FROM saga_instances "
                                     "WHERE ",
                                     StuckWhere(1)),
                        absl::ToInt64Milliseconds(after))[0][0]
            .as<int64_t>();
      });
}

absl::StatusOr<v1::ListSagasResponse> SagaStore::List(
    const v1::ListSagasRequest& request, int page_size) {
  PageCursor cursor{0, "00000000-0000-0000-0000-000000000000"};
  bool has_cursor = false;
  if (!request.page_token().empty()) {
    absl::StatusOr<PageCursor> decoded = DecodePageToken(request.page_token());
    if (!decoded.ok()) return decoded.status();
    cursor = *decoded;
    has_cursor = true;
  }
  return pool_.ReadOr<v1::ListSagasResponse>(
      "list_sagas",
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListSagasResponse> {
        pqxx::result r = db::Exec(
            tx,
            absl::StrCat(
                SelectSummary(7),
                " FROM saga_instances WHERE ($1 = '' OR status = $1) "
                "AND (NOT $6 OR ",
                StuckWhere(7),
                ") "
                "AND (NOT $2 OR (created_at, saga_id) < "
                "('epoch'::timestamptz + $3 * interval '1 microsecond', "
                "$4::uuid)) "
                "ORDER BY created_at DESC, saga_id DESC LIMIT $5"),
            StatusToDb(request.status()), has_cursor, cursor.created_at_micros,
            cursor.id, page_size + 1, request.stuck(),
            absl::ToInt64Milliseconds(stuck_after_));
        v1::ListSagasResponse response;
        for (int i = 0; i < static_cast<int>(r.size()) && i < page_size; ++i) {
          *response.add_sagas() = SummaryFromRow(r[i]);
        }
        if (static_cast<int>(r.size()) > page_size) {
          const v1::Saga& last = response.sagas(page_size - 1);
          response.set_next_page_token(EncodePageToken(
              {TimeUtil::TimestampToMicroseconds(last.create_time()),
               last.saga_id()}));
        }
        return response;
      });
}

}  // namespace sagaworks::orchestrator
