-- Door check-in (issue 17): check-in lists per concert, every scan, and the rule that a ticket
-- enters once per list, enforced here rather than by a read before the write.

-- A list staff scan against: which grades it admits and whether a ticket may come back in.
-- Lists are not edited (delete and create another); a deleted list keeps its scans.
create table checkin_lists (
    id                      bigint generated always as identity primary key,
    concert_id              bigint       not null references concert (id),
    name                    varchar(100) not null,
    -- The seat grades admitted; null admits every grade.
    grades                  text[],
    allow_multiple_entries  boolean      not null,
    allow_entry_after_exit  boolean      not null,
    created_by              bigint       not null references users (id),
    created_at              timestamptz  not null default now(),
    deleted_at              timestamptz,
    constraint checkin_lists_grades_not_empty check (grades is null or cardinality(grades) > 0)
);
create index checkin_lists_concert_idx on checkin_lists (concert_id, id) where deleted_at is null;

create table checkins (
    id            bigint generated always as identity primary key,
    list_id       bigint      not null references checkin_lists (id),
    ticket_id     bigint      not null references tickets (id),
    type          text        not null check (type in ('entry', 'exit')),
    -- The list admits one entry per ticket (no multiple entries, no entry after an exit):
    -- copied from the list (which never changes) so that the unique index below can say so.
    single_entry  boolean     not null,
    -- When the scanner saw the ticket (an offline scan is uploaded later).
    scanned_at    timestamptz not null,
    created_at    timestamptz not null default now(),
    staff_id      bigint      not null references users (id),
    -- Uploaded with `force` (an offline scan the scanner already let through).
    forced        boolean     not null default false,
    -- Why the scan would have been refused online (a forced upload only): the reason's name.
    conflict      text,
    undone_at     timestamptz,
    undone_by     bigint      references users (id),
    constraint checkins_undone_consistent check ((undone_at is null) = (undone_by is null)),
    constraint checkins_conflict_only_forced check (conflict is null or forced)
);
-- Exactly once: on a single-entry list a ticket has at most one entry that counts (not undone,
-- not a flagged conflict). 50 simultaneous scans cannot make two.
create unique index checkins_single_entry_uk on checkins (list_id, ticket_id)
    where type = 'entry' and single_entry and conflict is null and undone_at is null;
create index checkins_list_ticket_idx on checkins (list_id, ticket_id, scanned_at);
-- A ticket's status is `USED` once it has an entry not undone.
create index checkins_ticket_entry_idx on checkins (ticket_id) where type = 'entry' and undone_at is null;

-- One row per (list, ticket) once scanned: the row lock that puts every scan of one ticket on
-- one list in order, and what they leave behind (entries not undone; inside = the latest scan
-- not undone is an entry). Recomputed from `checkins` by each scan and each undo.
create table checkin_presence (
    list_id    bigint  not null references checkin_lists (id),
    ticket_id  bigint  not null references tickets (id),
    entries    integer not null default 0,
    inside     boolean not null default false,
    primary key (list_id, ticket_id)
);
create index checkin_presence_inside_idx on checkin_presence (list_id) where inside;

-- A scanner's nonce per list, with the first answer it got: a repeat gets that answer again
-- and changes nothing.
create table checkin_nonces (
    list_id           bigint      not null references checkin_lists (id),
    nonce             varchar(64) not null,
    staff_id          bigint      not null references users (id),
    secret            text        not null,
    type              text        not null check (type in ('entry', 'exit')),
    -- `ok` or the refusal's reason; set in the transaction that claimed the nonce.
    outcome           text,
    checkin_id        bigint      references checkins (id),
    ticket_id         bigint      references tickets (id),
    redeemed_at       timestamptz,
    created_at        timestamptz not null default now(),
    primary key (list_id, nonce)
);
