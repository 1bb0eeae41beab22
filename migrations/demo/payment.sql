-- Demo customers. Safe to run again: existing balances are left as they are.
INSERT INTO accounts (customer_id, balance_cents) VALUES
  ('alice', 1000000),
  ('bob', 100)
ON CONFLICT (customer_id) DO NOTHING;
