-- An order's items and its outbox entry are only ever written in the
-- statement that writes the order, and no order is ever deleted. Their
-- foreign keys checked that again on every row, each check locking the new
-- order row (a WAL record of its own), so they go.
ALTER TABLE order_items DROP CONSTRAINT order_items_order_id_fkey;
ALTER TABLE outbox DROP CONSTRAINT outbox_order_id_fkey;
