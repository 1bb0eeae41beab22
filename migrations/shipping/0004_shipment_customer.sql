-- The customer a shipment is for, so that customers read only their own
-- shipments. Shipments made before this column read as '' and only operators
-- see them.
ALTER TABLE shipments ADD COLUMN customer_id text NOT NULL DEFAULT '';
