//! Connections to what lives outside the process: Redis, RabbitMQ.

pub mod amqp;
pub mod challenges;
pub mod gateway;
pub mod holds;
pub mod mailer;
pub mod queue;
pub mod redis;
