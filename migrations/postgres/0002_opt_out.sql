-- When a customer asked not to be contacted (NULL = not opted out).
ALTER TABLE customers ADD COLUMN opted_out_at BIGINT;
