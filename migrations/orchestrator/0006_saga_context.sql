-- What a saga's steps left for later ones (the order saga: its priced
-- total), as its definition's context message. total_cents stays for
-- listings and SQL; sagas stored before this read their context from it.
ALTER TABLE saga_instances ADD COLUMN context bytea NOT NULL DEFAULT '';
