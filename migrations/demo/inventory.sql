-- Demo catalog. Safe to run again: existing stock is left as it is.
-- 'bolt' is what `sagactl gameday` orders: stock for any number of GameDays.
INSERT INTO stock (sku, price_cents, available) VALUES
  ('widget', 1999, 1000000),
  ('gadget', 4999, 10),
  ('gizmo', 999, 0),
  ('bolt', 100, 1000000000)
ON CONFLICT (sku) DO NOTHING;
