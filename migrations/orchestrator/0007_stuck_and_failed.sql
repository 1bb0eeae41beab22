-- When the current call's first attempt was begun: a saga whose call has
-- been retrying for long is stuck (sagaworks_sagas_stuck, ListSagas stuck).
ALTER TABLE saga_instances ADD COLUMN call_since timestamptz NOT NULL DEFAULT now();
-- The step whose compensation was refused: the saga reports its failure
-- (the order is put on hold), then waits as FAILED for an operator.
ALTER TABLE saga_instances ADD COLUMN failed_step integer;
