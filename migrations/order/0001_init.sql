CREATE TABLE orders (
  order_id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id         text NOT NULL,
  status              text NOT NULL
                      CHECK (status IN ('pending', 'approved', 'rejected', 'cancelled')),
  total_cents         bigint NOT NULL DEFAULT 0 CHECK (total_cents >= 0),
  saga_id             uuid,
  failure_reason      text NOT NULL DEFAULT '',
  ship_name           text NOT NULL,
  ship_line1          text NOT NULL,
  ship_city           text NOT NULL,
  ship_postal_code    text NOT NULL,
  ship_country        text NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
-- ListOrders pages newest first, optionally for one customer.
CREATE INDEX orders_by_time ON orders (created_at DESC, order_id DESC);
CREATE INDEX orders_by_customer ON orders (customer_id, created_at DESC, order_id DESC);

CREATE TABLE order_items (
  order_id uuid NOT NULL REFERENCES orders ON DELETE CASCADE,
  line     integer NOT NULL,
  sku      text NOT NULL,
  quantity integer NOT NULL CHECK (quantity > 0),
  PRIMARY KEY (order_id, line)
);

-- Transactional outbox: written in the same transaction as the order, so an
-- order never exists without the request to start its saga. The relay sets
-- delivered_at once the orchestrator has accepted it.
CREATE TABLE outbox (
  id              bigserial PRIMARY KEY,
  order_id        uuid NOT NULL UNIQUE REFERENCES orders,
  created_at      timestamptz NOT NULL DEFAULT now(),
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  attempts        integer NOT NULL DEFAULT 0,
  last_error      text NOT NULL DEFAULT '',
  delivered_at    timestamptz
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE delivered_at IS NULL;
