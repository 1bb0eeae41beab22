-- A reservation's items are only ever written in the statement that writes
-- the reservation, for SKUs that statement has just updated, and neither
-- reservations nor SKUs are ever deleted. The foreign keys checked that
-- again on every item, each check locking the reservation row (a WAL record
-- of its own), so they go.
ALTER TABLE reservation_items DROP CONSTRAINT reservation_items_reservation_id_fkey;
ALTER TABLE reservation_items DROP CONSTRAINT reservation_items_sku_fkey;
