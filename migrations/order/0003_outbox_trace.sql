-- The W3C traceparent of the CreateOrder call, so the relay's StartSaga
-- continues the order's trace across the outbox hop.
ALTER TABLE outbox ADD COLUMN traceparent text NOT NULL DEFAULT '';
