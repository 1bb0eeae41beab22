-- CancelSaga was accepted: compensations end in a cancelled order, not a
-- rejected one.
ALTER TABLE saga_instances ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false;
