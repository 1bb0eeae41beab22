-- The W3C traceparent of the call that started the saga: every step, also
-- after an orchestrator restart, joins that one trace.
ALTER TABLE saga_instances ADD COLUMN traceparent text NOT NULL DEFAULT '';
