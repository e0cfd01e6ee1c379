//! `ticketing-bench`: load scenarios against running ticketing services, through their public
//! HTTP API only (the flash sale's audit alone reads the database).

pub mod availability;
pub mod chaos;
pub mod flash_sale;
pub mod floor;
pub mod holds;
pub mod holds_floor;
pub mod live;
pub mod proxy;
pub mod queue_stream;
pub mod report;
pub mod seat_map;
pub mod seat_stream;
pub mod smtp;
pub mod soak;
pub mod sse;

use std::time::Duration;

/// Command-line options shared by the scenarios.
#[derive(Debug, Clone)]
pub struct Options {
    pub base_url: String,
    pub admin_email: String,
    pub admin_password: String,
    pub seats: usize,
    pub readers: usize,
    pub clients: usize,
    pub streams: usize,
    pub server_pid: Option<u32>,
    pub duration: Duration,
    /// Every instance to drive (flash sale); the first is `base_url`.
    pub base_urls: Vec<String>,
    pub fans: usize,
    pub database_url: String,
    pub smtp_port: u16,
    pub decline_ratio: f64,
    pub abandon_ratio: f64,
    pub json: Option<String>,
    pub svg: Option<String>,
}
