-- The waitlist after sell-out (issue 18): one row a fan's request for seats of a concert.
-- WAITING → OFFERED → PURCHASED | EXPIRED | CANCELLED. Order of service: (created_at, id).
create table waitlist_entries (
    id          bigint generated always as identity primary key,
    concert_id  bigint      not null references concert (id),
    user_id     bigint      not null references users (id),
    quantity    integer     not null check (quantity > 0),
    grade       varchar(20),
    status      text        not null default 'WAITING'
                check (status in ('WAITING', 'OFFERED', 'PURCHASED', 'EXPIRED', 'CANCELLED')),
    offered_at  timestamptz,
    offer_expires_at timestamptz,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);
-- One active entry per fan and concert.
create unique index waitlist_entries_active_uk on waitlist_entries (concert_id, user_id)
    where status in ('WAITING', 'OFFERED');
-- The order of service, and what the release step scans (`for update skip locked`).
create index waitlist_entries_waiting_idx on waitlist_entries (concert_id, created_at, id)
    where status = 'WAITING';
create index waitlist_entries_user_idx on waitlist_entries (user_id, id desc);
