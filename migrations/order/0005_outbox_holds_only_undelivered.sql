-- A delivered entry is deleted instead of marked: the order's saga_id
-- records the delivery, StartSaga's key and the orchestrator's unique
-- (saga_type, order_id) refuse a second saga, and the table holds only what
-- is still to go, so it does not grow with every order ever placed. A
-- delete also writes less than an update (no new row version, no index
-- entries).
DELETE FROM outbox WHERE delivered_at IS NOT NULL;
DROP INDEX outbox_pending;
ALTER TABLE outbox DROP COLUMN delivered_at;
CREATE INDEX outbox_pending ON outbox (next_attempt_at);
