//! Connections to what lives outside the process: Redis, RabbitMQ.

pub mod amqp;
pub mod holds;
pub mod redis;
