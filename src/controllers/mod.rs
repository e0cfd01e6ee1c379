//! HTTP only: extract, parse into a domain command, call one service method, map to a DTO.

pub mod admin;
pub mod availability;
pub mod cache;
pub mod challenges;
pub mod checkin;
pub mod concerts;
pub mod contract;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod payments;
pub mod queue;
pub mod reservations;
pub mod seats;
pub mod simulator;
pub mod tickets;
pub mod users;
pub mod waitlist;
pub mod web_app;
