-- Demo customers. Safe to run again: existing balances are left as they are.
-- 'gameday' is whom `sagactl gameday` orders as: enough money for any
-- number of GameDays, so their orders are refused for a fault, never for
-- funds.
INSERT INTO accounts (customer_id, balance_cents) VALUES
  ('alice', 1000000),
  ('bob', 100),
  ('gameday', 100000000000)
ON CONFLICT (customer_id) DO NOTHING;
