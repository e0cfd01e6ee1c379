-- A refund is owed when a payment becomes REFUNDED; the gateway confirms it later. Until it
-- does, the refund worker keeps asking (so a refund request is never lost).
alter table payments add column refund_confirmed_at timestamptz;
create index payments_refund_pending_idx on payments (id)
    where status = 'REFUNDED' and refund_confirmed_at is null;
