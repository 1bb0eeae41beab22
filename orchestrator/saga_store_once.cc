// SagaStore's one-statement write (idempotency::OneStatement): the fast path
// of CreateIn, which StartSaga tries before its transaction.
// saga_store_test runs its creation tests through both.
#include "common/idempotency/idempotency.h"
#include "orchestrator/order_saga.h"
#include "orchestrator/saga_statements.h"
#include "orchestrator/saga_store.h"

namespace sagaworks::orchestrator {

bool SagaStore::CreateOnce(pqxx::transaction_base& tx,
                           const idempotency::StoredKey& k,
                           const SagaRecord& planned, const Decision& first) {
  // The full path reports an unencodable request.
  absl::StatusOr<std::string> payload = internal::Payload(planned.request);
  if (!payload.ok()) return false;
  // Only the saga may find nothing to do: the order has a saga already, and
  // the full path answers with that one.
  static const std::string sql = idempotency::KeyedStatement(
      "s AS (INSERT INTO saga_instances "
      "  (saga_id, saga_type, order_id, status, current_step, attempt, "
      "   step_deadline, payload, lease_owner, lease_expires_at, traceparent, "
      "   context, timeline_entries, call_entry) "
      "  SELECT $6::uuid, $7, $8::uuid, $9, $10, $11, CASE WHEN $12 THEN "
      "    'epoch'::timestamptz + $13 * interval '1 microsecond' END, "
      "    $14::jsonb, $15, now() + $16 * interval '1 millisecond', $17, "
      "    $23::bytea, $24, $25 "
      "  FROM fresh WHERE NOT EXISTS (SELECT 1 FROM saga_instances "
      "    WHERE saga_type = $7 AND order_id = $8::uuid) "
      "  RETURNING saga_id), "
      "done AS (INSERT INTO saga_steps (saga_id, id, step, name, kind, "
      "  attempt, outcome) SELECT saga_id, $26, $18, $19, $20, $21, $22 FROM s "
      "  RETURNING 1)");
  const SagaState& state = planned.state;
  const StepLogEntry& entry = first.log.front();
  return idempotency::ExecKeyed(
      tx, sql, k, planned.saga_id, kOrderSagaType, planned.order_id,
      std::string(SagaStatusName(state.status)), state.current_step,
      state.attempt, state.step_deadline.has_value(),
      state.step_deadline.has_value() ? absl::ToUnixMicros(*state.step_deadline)
                                      : 0,
      *payload, lease_.owner, absl::ToInt64Milliseconds(lease_.duration),
      planned.traceparent, entry.step, entry.name,
      std::string(CallKindName(entry.kind)), entry.attempt, entry.outcome,
      internal::ByteaParam(state.context), state.timeline_entries,
      state.call_entry, entry.id);
}

}  // namespace sagaworks::orchestrator
