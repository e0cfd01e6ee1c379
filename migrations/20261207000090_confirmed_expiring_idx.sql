-- The expiry sweeper also looks at confirmed reservations as their time to pay runs out (issue
-- 20): an instance that died between committing a confirmation and telling Redis left the seats
-- marked as reserved there; at that moment they are marked sold.
create index reservation_confirmed_expiring_idx on reservation (expire_time) where status = 'CONFIRMED';
