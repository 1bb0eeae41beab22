-- An order whose saga could not be undone waits for an operator.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
  CHECK (status IN ('pending', 'approved', 'rejected', 'cancelled',
                    'needs_attention'));
