-- One row per saga: where it stands. Every transition is committed here before
-- the call it leads to goes out; `version` guards against lost updates.
CREATE TABLE saga_instances (
  saga_id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  saga_type        text NOT NULL,
  order_id         uuid NOT NULL,
  status           text NOT NULL
                   CHECK (status IN ('running', 'completed', 'compensating',
                                     'compensated', 'failed')),
  -- Running: the next step (1-4). Compensating: the step being undone, 0 for
  -- rejecting the order.
  current_step     integer NOT NULL,
  -- Attempts made so far at the current call.
  attempt          integer NOT NULL DEFAULT 0,
  -- When the current forward step stops retrying and compensates.
  step_deadline    timestamptz,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  failure_reason   text NOT NULL DEFAULT '',
  total_cents      bigint NOT NULL DEFAULT 0,
  -- The StartSaga request as JSON: what the saga needs to make its calls.
  payload          jsonb NOT NULL,
  version          bigint NOT NULL DEFAULT 0,
  lease_owner      text,
  lease_expires_at timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (saga_type, order_id)
);
CREATE INDEX saga_instances_unfinished ON saga_instances (next_attempt_at)
  WHERE status IN ('running', 'compensating');
CREATE INDEX saga_instances_by_time ON saga_instances (created_at DESC, saga_id DESC);

-- Append-only: each call a saga makes, before it goes out and after it
-- returns.
CREATE TABLE saga_steps (
  id       bigserial PRIMARY KEY,
  saga_id  uuid NOT NULL REFERENCES saga_instances,
  step     integer NOT NULL,
  name     text NOT NULL,
  kind     text NOT NULL CHECK (kind IN ('action', 'compensation')),
  attempt  integer NOT NULL,
  outcome  text NOT NULL CHECK (outcome IN ('started', 'succeeded', 'failed', 'retrying')),
  error    text NOT NULL DEFAULT '',
  at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX saga_steps_by_saga ON saga_steps (saga_id, id);
