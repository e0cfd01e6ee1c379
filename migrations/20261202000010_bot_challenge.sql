-- Proof-of-work before joining the waiting room, per concert: the leading zero bits a solution
-- needs (0 = off). The bound keeps a browser's work reasonable (each bit doubles it).
alter table concert add column challenge_difficulty int not null default 0;
alter table concert add constraint concert_challenge_difficulty_range
    check (challenge_difficulty between 0 and 28);
