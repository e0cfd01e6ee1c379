-- The outbox relay listens on `outbox` and wakes as soon as a row commits (it also polls).
create function outbox_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('outbox', new.id::text);
    return new;
end;
$$;
create trigger outbox_notify after insert on outbox for each row execute function outbox_notify();
