-- One shipment per order. A 'cancelled' row with no items is a tombstone: the
-- cancellation arrived first, and a late CreateShipment must be refused.
CREATE TABLE shipments (
  shipment_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  order_id        uuid NOT NULL UNIQUE,
  status          text NOT NULL CHECK (status IN ('created', 'cancelled')),
  name            text NOT NULL DEFAULT '',
  line1           text NOT NULL DEFAULT '',
  city            text NOT NULL DEFAULT '',
  postal_code     text NOT NULL DEFAULT '',
  country         text NOT NULL DEFAULT '',
  tracking_number text NOT NULL DEFAULT '',
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE shipment_items (
  shipment_id uuid NOT NULL REFERENCES shipments ON DELETE CASCADE,
  line        integer NOT NULL,
  sku         text NOT NULL,
  quantity    integer NOT NULL CHECK (quantity > 0),
  PRIMARY KEY (shipment_id, line)
);
