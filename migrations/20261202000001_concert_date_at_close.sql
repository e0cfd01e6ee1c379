-- The sale may close at the moment the show starts: openTime < closeTime <= concertDate.
alter table concert drop constraint concert_date_after_close;
alter table concert add constraint concert_date_after_close check (close_time <= concert_date);
