-- Retention (issue 15, item 8): the housekeeping worker deletes old rows in small batches by
-- these columns, and the per-user cap on Idempotency-Keys counts a user's live keys.
create index refresh_tokens_expires_at_idx on refresh_tokens (expires_at);
create index webhook_events_received_at_idx on webhook_events (received_at);
create index outbox_published_at_idx on outbox (published_at) where published_at is not null;
create index email_deliveries_sent_at_idx on email_deliveries (sent_at);
create index idempotency_keys_user_id_created_at_idx on idempotency_keys (user_id, created_at);
