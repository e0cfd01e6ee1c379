-- E-tickets (issue 17): one ticket per seat of a confirmed reservation, with a secret signed
-- by its concert's Ed25519 key, verifiable offline with the public key alone.

-- A concert's signing keys. The private key (the 32-byte Ed25519 seed) is stored sealed with
-- ChaCha20-Poly1305 under TICKET_KEY_ENCRYPTION_KEY: nonce (12 bytes) ‖ ciphertext ‖ tag.
-- One active key per concert; retired keys stay published so that old secrets still verify.
create table concert_signing_keys (
    id           bigint generated always as identity primary key,
    concert_id   bigint      not null references concert (id),
    -- The first 8 bytes of SHA-256(public key), in hex: what scanners match a key by.
    key_id       text        not null unique,
    public_key   bytea       not null check (length(public_key) = 32),
    sealed_seed  bytea       not null,
    created_at   timestamptz not null default now(),
    retired_at   timestamptz
);
create unique index concert_signing_keys_active_uk on concert_signing_keys (concert_id)
    where retired_at is null;

create table tickets (
    id              bigint generated always as identity primary key,
    reservation_id  bigint      not null references reservation (id),
    concert_id      bigint      not null references concert (id),
    seat_id         bigint      not null references seat (id),
    user_id         bigint      not null references users (id),
    key_id          text        not null references concert_signing_keys (key_id),
    -- base64url (no padding) of the signed v1 payload; see src/domain/ticket_secret.rs.
    secret          text        not null unique,
    status          text        not null default 'VALID' check (status in ('VALID', 'REVOKED')),
    issued_at       timestamptz not null default now(),
    revoked_at      timestamptz,
    revoke_reason   varchar(500),
    constraint tickets_revoked_consistent check ((status = 'REVOKED') = (revoked_at is not null))
);
-- One live ticket per seat: a seat sold again gets a new ticket (and a new secret) only once
-- the old one is revoked.
create unique index tickets_seat_live_uk on tickets (seat_id) where status <> 'REVOKED';
create index tickets_user_idx on tickets (user_id, id desc);
create index tickets_reservation_idx on tickets (reservation_id);

-- Every revocation, in order: scanners fetch what is new since the last `seq` they saw.
create table ticket_revocations (
    seq         bigint generated always as identity primary key,
    ticket_id   bigint      not null references tickets (id),
    concert_id  bigint      not null references concert (id),
    secret      text        not null,
    revoked_at  timestamptz not null default now()
);
create index ticket_revocations_concert_idx on ticket_revocations (concert_id, seq);

-- Revoking a ticket records it for scanners in the same statement, so no path can forget to.
create function tickets_record_revocation() returns trigger language plpgsql as $$
begin
    if new.status = 'REVOKED' and old.status <> 'REVOKED' then
        insert into ticket_revocations (ticket_id, concert_id, secret, revoked_at)
        values (new.id, new.concert_id, new.secret, new.revoked_at);
    end if;
    return new;
end $$;
create trigger tickets_record_revocation
    after update of status on tickets
    for each row execute function tickets_record_revocation();

-- A reservation that stops being CONFIRMED (cancelled, refunded) revokes its tickets in the
-- same statement.
create function reservation_revoke_tickets() returns trigger language plpgsql as $$
begin
    if old.status = 'CONFIRMED' and new.status <> 'CONFIRMED' then
        update tickets set status = 'REVOKED', revoked_at = now(),
            revoke_reason = 'reservation ' || lower(new.status)
        where reservation_id = new.id and status <> 'REVOKED';
    end if;
    return new;
end $$;
create trigger reservation_revoke_tickets
    after update of status on reservation
    for each row execute function reservation_revoke_tickets();

-- A seat removed by an admin revokes its live ticket.
create function seat_revoke_tickets() returns trigger language plpgsql as $$
begin
    if old.deleted_at is null and new.deleted_at is not null then
        update tickets set status = 'REVOKED', revoked_at = now(), revoke_reason = 'seat removed'
        where seat_id = new.id and status <> 'REVOKED';
    end if;
    return new;
end $$;
create trigger seat_revoke_tickets
    after update of deleted_at on seat
    for each row execute function seat_revoke_tickets();
