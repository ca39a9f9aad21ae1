-- Indexes for queries that run on every turn, found by the load generator
-- (docs/BENCHMARKS.md, section "Load").

-- When a customer first wrote (lead qualification) joins the customer's
-- conversations; without this it scanned every conversation on every turn.
CREATE INDEX conversations_customer ON conversations (customer_id);

-- The availability lookup reads one branch's confirmed bookings in a window;
-- the planner picked bookings_status (every branch's confirmed bookings) before.
-- It covers the columns read, so the rows are answered from the index alone.
CREATE INDEX bookings_branch_confirmed ON bookings (branch, start_at, end_at, resource, unit, status)
    WHERE status = 'confirmed';
