-- One row per call a saga makes, however often it is attempted: `attempt`
-- counts the attempts, `first_at` and `at` are the first and the latest,
-- `error` is the latest failure. Rows written before this keep one row per
-- attempt and have no first_at.
ALTER TABLE saga_steps ADD COLUMN first_at timestamptz;
ALTER TABLE saga_steps ALTER COLUMN first_at SET DEFAULT now();
-- An operator's action (retry, resolve): who took it and the note they left.
ALTER TABLE saga_steps ADD COLUMN actor text NOT NULL DEFAULT '';
ALTER TABLE saga_steps ADD COLUMN note text NOT NULL DEFAULT '';
ALTER TABLE saga_steps DROP CONSTRAINT saga_steps_kind_check;
ALTER TABLE saga_steps ADD CONSTRAINT saga_steps_kind_check
  CHECK (kind IN ('action', 'compensation', 'operator'));
