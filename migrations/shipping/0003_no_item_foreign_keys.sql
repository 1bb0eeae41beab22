-- A shipment's items are only ever written in the statement that writes the
-- shipment, and no shipment is ever deleted. The foreign key checked that
-- again on every item, each check locking the shipment row (a WAL record of
-- its own), so it goes.
ALTER TABLE shipment_items DROP CONSTRAINT shipment_items_shipment_id_fkey;
