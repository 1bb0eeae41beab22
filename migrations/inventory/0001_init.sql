-- Catalog and stock levels, one row per SKU. `available` is free to reserve;
-- `reserved` is held for orders. Both can only be changed by reservations.
CREATE TABLE stock (
  sku         text PRIMARY KEY,
  price_cents bigint NOT NULL CHECK (price_cents >= 0),
  available   bigint NOT NULL CHECK (available >= 0),
  reserved    bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0)
);

-- One reservation per order. A 'released' row with no items is a tombstone:
-- the release arrived first, and a late ReserveStock must be refused.
CREATE TABLE reservations (
  reservation_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  order_id       uuid NOT NULL UNIQUE,
  status         text NOT NULL CHECK (status IN ('reserved', 'released')),
  total_cents    bigint NOT NULL DEFAULT 0 CHECK (total_cents >= 0),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE reservation_items (
  reservation_id   uuid NOT NULL REFERENCES reservations ON DELETE CASCADE,
  sku              text NOT NULL REFERENCES stock,
  quantity         integer NOT NULL CHECK (quantity > 0),
  unit_price_cents bigint NOT NULL CHECK (unit_price_cents >= 0),
  PRIMARY KEY (reservation_id, sku)
);
