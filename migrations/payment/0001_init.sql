-- Customer balances; a balance can never go negative.
CREATE TABLE accounts (
  customer_id   text PRIMARY KEY,
  balance_cents bigint NOT NULL CHECK (balance_cents >= 0)
);

-- One charge per order. A 'refunded' row with amount 0 and no customer is a
-- tombstone: the refund arrived first, and a late Charge must be refused.
CREATE TABLE charges (
  charge_id    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  order_id     uuid NOT NULL UNIQUE,
  customer_id  text,
  amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
  status       text NOT NULL CHECK (status IN ('charged', 'refunded')),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX charges_by_customer ON charges (customer_id);
