-- The seats of a waitlist offer (issue 18): the fan's page checks them out from the offer.
alter table waitlist_entries add column offered_seat_ids bigint[] not null default '{}';
