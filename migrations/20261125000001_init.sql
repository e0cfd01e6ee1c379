-- The whole data model of SPEC §4. Enumerations are text with check constraints so that a
-- new state is one `alter table … drop/add constraint`, not an enum-type migration.

-- Seats sort naturally ("2" before "10", "A2" before "A10") by an ICU collation, so the
-- seat map's order comes straight from an index.
create collation if not exists natural_sort (provider = icu, locale = 'und-u-kn-true');

create table users (
    id            bigint generated always as identity primary key,
    username      varchar(20)  not null,
    email         varchar(254) not null,
    password_hash text         not null,
    role          text         not null default 'USER' check (role in ('USER', 'ADMIN')),
    created_at    timestamptz  not null default now(),
    updated_at    timestamptz  not null default now(),
    deleted_at    timestamptz,
    -- emails are stored lower-cased by the application; the check keeps it that way
    constraint users_email_lowercase check (email = lower(email))
);
create unique index users_email_uk on users (email);
create unique index users_username_uk on users (username);

-- Refresh tokens rotate: each use replaces the token with a new one of the same family.
-- Presenting a token that was already used revokes the whole family (theft detection).
create table refresh_tokens (
    id          bigint generated always as identity primary key,
    user_id     bigint      not null references users (id),
    family_id   uuid        not null,
    token_hash  bytea       not null,
    expires_at  timestamptz not null,
    created_at  timestamptz not null default now(),
    used_at     timestamptz,
    revoked_at  timestamptz
);
create unique index refresh_tokens_token_hash_uk on refresh_tokens (token_hash);
create index refresh_tokens_user_id_idx on refresh_tokens (user_id);
create index refresh_tokens_family_id_idx on refresh_tokens (family_id);

create table concert (
    id            bigint generated always as identity primary key,
    title         varchar(200) not null,
    venue         varchar(200) not null,
    concert_date  timestamptz  not null,
    open_time     timestamptz  not null,
    close_time    timestamptz  not null,
    status        text         not null default 'SCHEDULED'
                  check (status in ('SCHEDULED', 'SOLD_OUT', 'COMPLETED', 'CANCELLED')),
    queue_enabled boolean      not null default false,
    created_at    timestamptz  not null default now(),
    updated_at    timestamptz  not null default now(),
    deleted_at    timestamptz,
    constraint concert_close_after_open check (open_time < close_time),
    constraint concert_date_after_close check (close_time < concert_date)
);
create index concert_concert_date_idx on concert (concert_date, id) where deleted_at is null;

create table seat (
    id          bigint generated always as identity primary key,
    concert_id  bigint        not null references concert (id),
    section     varchar(20)   not null,
    "row"       varchar(20)   not null,
    number      varchar(20)   not null,
    grade       varchar(20)   not null,
    price       numeric(12,2) not null constraint seat_price_positive check (price > 0),
    created_at  timestamptz   not null default now(),
    updated_at  timestamptz   not null default now(),
    deleted_at  timestamptz
);
create index seat_concert_id_idx on seat (concert_id);
-- One live seat per position, and the seat map's natural order, in one index.
create unique index seat_position_uk on seat (
    concert_id,
    section collate natural_sort,
    "row" collate natural_sort,
    number collate natural_sort
) where deleted_at is null;

create table reservation (
    id               bigint generated always as identity primary key,
    user_id          bigint      not null references users (id),
    concert_id       bigint      not null references concert (id),
    status           text        not null default 'IN_PROGRESS'
                     check (status in ('IN_PROGRESS', 'CONFIRMED', 'FAILED', 'CANCELED', 'EXPIRED')),
    reservation_time timestamptz not null default now(),
    expire_time      timestamptz not null,
    confirmed_at     timestamptz,
    canceled_at      timestamptz,
    cancel_reason    varchar(500),
    ticket_code      varchar(40),
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now()
);
create index reservation_user_id_idx on reservation (user_id, id desc);
create index reservation_concert_id_idx on reservation (concert_id);
create unique index reservation_ticket_code_uk on reservation (ticket_code);
-- The expiry sweeper's scan.
create index reservation_expiring_idx on reservation (expire_time) where status = 'IN_PROGRESS';

-- A seat of an active (IN_PROGRESS or CONFIRMED) reservation is `active`; the partial unique
-- index makes a second active reservation of one seat impossible, whatever the lock path did.
create table reservation_seat (
    id             bigint generated always as identity primary key,
    reservation_id bigint      not null references reservation (id),
    seat_id        bigint      not null references seat (id),
    active         boolean     not null default true,
    created_at     timestamptz not null default now()
);
create index reservation_seat_reservation_id_idx on reservation_seat (reservation_id);
create index reservation_seat_seat_id_idx on reservation_seat (seat_id);
create unique index reservation_seat_active_uk on reservation_seat (seat_id) where active;

-- Ending a reservation frees its seats in the same statement, so no code path can forget to.
create function reservation_release_seats() returns trigger language plpgsql as $$
begin
    if new.status in ('FAILED', 'CANCELED', 'EXPIRED') and old.status is distinct from new.status then
        update reservation_seat set active = false where reservation_id = new.id and active;
    end if;
    return new;
end;
$$;
create trigger reservation_release_seats
    after update of status on reservation
    for each row execute function reservation_release_seats();

-- A seat can only be attached to a reservation that is still active.
create function reservation_seat_requires_active_reservation() returns trigger language plpgsql as $$
begin
    if new.active and not exists (
        select 1 from reservation
        where id = new.reservation_id and status in ('IN_PROGRESS', 'CONFIRMED')
    ) then
        raise exception 'reservation % is not active', new.reservation_id
            using errcode = 'check_violation', constraint = 'reservation_seat_reservation_active';
    end if;
    return new;
end;
$$;
create trigger reservation_seat_requires_active_reservation
    before insert on reservation_seat
    for each row execute function reservation_seat_requires_active_reservation();

create table payments (
    id             bigint generated always as identity primary key,
    reservation_id bigint        not null references reservation (id),
    status         text          not null default 'IN_PROGRESS'
                   check (status in ('IN_PROGRESS', 'SUCCESS', 'FAILED', 'CANCELED', 'REFUNDED')),
    method         text          not null check (method in ('CREDIT_CARD', 'BANK_TRANSFER')),
    amount         numeric(12,2) not null check (amount > 0),
    currency       char(3)       not null default 'KRW',
    transaction_id varchar(64)   not null,
    checkout_url   text,
    paid_at        timestamptz,
    refunded_at    timestamptz,
    refund_amount  numeric(12,2),
    -- why a webhook could not be applied (amount or currency mismatch); never confirmed then
    flagged_reason text,
    created_at     timestamptz   not null default now(),
    updated_at     timestamptz   not null default now()
);
create unique index payments_reservation_id_uk on payments (reservation_id);
create unique index payments_transaction_id_uk on payments (transaction_id);

-- Every webhook delivery, applied or not; event_id makes a redelivery a no-op that returns
-- the stored result.
create table webhook_events (
    id             bigint generated always as identity primary key,
    event_id       varchar(100) not null,
    transaction_id varchar(64)  not null,
    status         text         not null,
    amount         numeric(12,2),
    currency       char(3),
    occurred_at    timestamptz,
    outcome        text         not null,
    response       jsonb        not null,
    payload        jsonb        not null,
    received_at    timestamptz  not null default now()
);
create unique index webhook_events_event_id_uk on webhook_events (event_id);
create index webhook_events_transaction_id_idx on webhook_events (transaction_id);

-- Transactional outbox: written in the same transaction as the state change that owes it.
create table outbox (
    id           bigint generated always as identity primary key,
    message_id   uuid        not null,
    kind         text        not null,
    payload      jsonb       not null,
    created_at   timestamptz not null default now(),
    published_at timestamptz,
    attempts     integer     not null default 0,
    next_attempt_at timestamptz not null default now(),
    last_error   text
);
create unique index outbox_message_id_uk on outbox (message_id);
create index outbox_pending_idx on outbox (next_attempt_at, id) where published_at is null;

-- Messages the email consumer has sent, so a redelivered message is not sent twice.
create table email_deliveries (
    message_id uuid primary key,
    kind       text        not null,
    recipient  varchar(254) not null,
    sent_at    timestamptz not null default now()
);

-- Stored responses for `Idempotency-Key` requests, per user.
create table idempotency_keys (
    user_id         bigint      not null references users (id),
    idempotency_key varchar(255) not null,
    request_hash    bytea       not null,
    response_status smallint,
    response_body   bytea,
    created_at      timestamptz not null default now(),
    primary key (user_id, idempotency_key)
);
create index idempotency_keys_created_at_idx on idempotency_keys (created_at);

-- Who did what to which entity: admin changes, cancellations, refunds.
create table audit_log (
    id          bigint generated always as identity primary key,
    actor_id    bigint references users (id),
    action      text        not null,
    entity      text        not null,
    entity_id   bigint,
    detail      jsonb       not null default '{}'::jsonb,
    created_at  timestamptz not null default now()
);
create index audit_log_entity_idx on audit_log (entity, entity_id);
create index audit_log_actor_id_idx on audit_log (actor_id);
