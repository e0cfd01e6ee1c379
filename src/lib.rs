//! Concert seat reservations: catalogue, accounts, holds, payments, waiting room, email.

pub mod clients;
pub mod config;
pub mod controllers;
pub mod domain;
pub mod error;
pub mod repositories;
pub mod router;
pub mod services;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod workers;
