-- Idempotency keys of mutating calls (common/idempotency). The row, the
-- business effect and the stored outcome commit in one transaction, so a
-- committed row always holds a final outcome.
CREATE TABLE idempotency_keys (
  scope         text NOT NULL,   -- the caller: x-tenant-id, else its address
  method        text NOT NULL,   -- "/sagaworks.v1.PaymentService/Charge"
  key           text NOT NULL,
  fingerprint   text NOT NULL,   -- SHA-256 of the request's deterministic serialization
  status_code   integer NOT NULL,
  status_message text NOT NULL DEFAULT '',
  response      bytea,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, method, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
