-- One timeline entry per call a saga makes, however often it is attempted:
-- `attempt` counts the attempts, `first_at` and `at` are the first and the
-- latest, `error` is the latest failure. The engine numbers a saga's
-- entries (saga_steps.id, unique per saga with the primary key) and keeps
-- the count and the current call's entry with the saga, so a later attempt
-- updates its entry in place. Rows written before this keep one row per
-- attempt and have no first_at.
ALTER TABLE saga_steps ADD COLUMN first_at timestamptz;
ALTER TABLE saga_steps ALTER COLUMN first_at SET DEFAULT now();
-- An operator's action (retry, resolve): who took it and the note they left.
ALTER TABLE saga_steps ADD COLUMN actor text NOT NULL DEFAULT '';
ALTER TABLE saga_steps ADD COLUMN note text NOT NULL DEFAULT '';
ALTER TABLE saga_steps DROP CONSTRAINT saga_steps_kind_check;
ALTER TABLE saga_steps ADD CONSTRAINT saga_steps_kind_check
  CHECK (kind IN ('action', 'compensation', 'operator'));

ALTER TABLE saga_instances ADD COLUMN timeline_entries bigint NOT NULL DEFAULT 0;
ALTER TABLE saga_instances ADD COLUMN call_entry bigint NOT NULL DEFAULT 0;
-- A saga that may still write continues after its last row (an ended one
-- writes nothing more).
UPDATE saga_instances s SET timeline_entries = x.last, call_entry = x.last
  FROM (SELECT saga_id, max(id) AS last FROM saga_steps GROUP BY saga_id) x
  WHERE x.saga_id = s.saga_id
    AND s.status IN ('running', 'compensating', 'failed');
