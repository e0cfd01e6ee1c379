-- Who is sending a message right now (issue 20). A message can reach the queue twice (an
-- instance killed between the broker's confirm and the commit that marks its outbox row
-- published: another instance publishes it again), and the two copies can be handled at the
-- same moment, each finding no delivery record yet. A consumer claims the message before it
-- sends; a copy that finds a running claim waits and comes back (then finds the delivery
-- record). The claim lasts a lease, so a consumer killed mid-send does not block it for good.
create table email_claims (
    message_id    uuid primary key,
    claimed_until timestamptz not null
);
