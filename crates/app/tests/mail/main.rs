//! Outbound mail end to end (SPEC §8.4): the outbox in a real database (SQLite, and PostgreSQL
//! when `ROSTER_TEST_DATABASE_URL` is set), the mail worker of `roster serve`, and a real SMTP
//! server on 127.0.0.1 (`roster_adapters_mail::testing::SmtpSink`). Messages survive a crash or a
//! stop, and are delivered once even with two workers on one database.

mod restart;
mod serve;
mod support;
mod workers;
