//! Integration tests: the real app on port 0 against real Postgres, Redis and RabbitMQ.
//! Each test gets its own database (a copy of a migrated template), Redis key prefix and AMQP
//! name prefix, so tests run in parallel.

mod abuse;
mod authz;
mod availability;
mod challenge;
mod checkin;
mod cli;
mod client_limits;
mod concerts;
mod concurrency;
mod docs;
mod email_queues;
mod emails;
mod errors;
mod faults;
mod health;
mod helpers;
mod holds;
mod hygiene;
mod idempotency;
mod mail;
mod mutations;
mod outages;
mod password_hashing;
mod payments;
mod prod;
mod queue;
mod reservations;
mod retention;
mod rules;
mod seats;
mod simulator;
mod streams;
mod tickets;
mod users;
mod waitlist;
mod web;
mod webhooks;
