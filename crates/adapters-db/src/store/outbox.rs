//! [`Outbox`]: outgoing mail queued in the transaction of its cause (SPEC §8.4, ADR 0007).
//!
//! A message's [`DeliveryState`] maps to the columns as follows (the schema's `CHECK`s hold
//! for each): `Pending` → `state = 'pending'`, `attempts`, `next_attempt_at`, `last_error`,
//! `settled_at` NULL; `Sent` → `state = 'sent'`, `attempts`, `settled_at = at`, the rest NULL;
//! `Failed` → `state = 'failed'`, `attempts`, `settled_at = at`, `last_error = error`,
//! `next_attempt_at` NULL.

use async_trait::async_trait;
use roster_domain::ids::{MailId, OrgId};
use roster_domain::mail::{DeliveryState, MailKind, OutgoingMail, QueuedMail};
use roster_domain::ports::{Outbox, StoreError};
use sea_orm::{QueryResult, Value};

use super::SeaOrmTx;
use super::batch::Batch;
use super::convert::{
    corrupt, count, get, get_id, get_json, get_opt_time, get_parsed, get_time, get_unsigned, id, json, opt_time, text,
    time,
};
use super::errors;
use crate::Engine;

type R<T> = Result<T, StoreError>;

const MAIL_COLUMNS: &str =
    "id, org_id, recipient, message, created_at, state, attempts, next_attempt_at, last_error, settled_at";

impl SeaOrmTx {
    fn queued_from_row(&self, row: &QueryResult) -> R<QueuedMail> {
        let mail = OutgoingMail {
            id: get_id(row, "id", MailId::from_uuid)?,
            org_id: get_id(row, "org_id", OrgId::from_uuid)?,
            to: get_parsed(row, "recipient")?,
            kind: get_json(self.engine, row, "message")?,
            created_at: get_time(self.engine, row, "created_at")?,
        };
        let attempts = get_unsigned(row, "attempts")?;
        let settled = || get_opt_time(self.engine, row, "settled_at")?.ok_or_else(|| corrupt("settled_at", "NULL"));
        let delivery = match get::<String>(row, "state")?.as_str() {
            "pending" => DeliveryState::Pending {
                attempts,
                next_attempt_at: get_opt_time(self.engine, row, "next_attempt_at")?
                    .ok_or_else(|| corrupt("next_attempt_at", "NULL"))?,
                last_error: get(row, "last_error")?,
            },
            "sent" => DeliveryState::Sent { at: settled()?, attempts },
            "failed" => DeliveryState::Failed {
                at: settled()?,
                attempts,
                error: get::<Option<String>>(row, "last_error")?.ok_or_else(|| corrupt("last_error", "NULL"))?,
            },
            other => return Err(corrupt("state", format!("unknown state `{other}`"))),
        };
        Ok(QueuedMail { mail, delivery })
    }
}

#[async_trait]
impl Outbox for SeaOrmTx {
    async fn enqueue_mail(&mut self, mail: &OutgoingMail) -> R<()> {
        self.enqueue_mails(std::slice::from_ref(mail)).await
    }

    async fn enqueue_mails(&mut self, mails: &[OutgoingMail]) -> R<()> {
        let mut values = Vec::with_capacity(mails.len() * 6);
        for mail in mails {
            let created_at = time(self.engine, mail.created_at)?;
            values.extend([
                id(mail.id.as_uuid()),
                id(mail.org_id.as_uuid()),
                text(&mail.to),
                json(self.engine, &mail.kind)?,
                created_at.clone(),
                created_at,
            ]);
        }
        let mut batch = Batch::default();
        let columns = "id, org_id, recipient, message, created_at, state, attempts, next_attempt_at";
        self.push_rows(&mut batch, "outbox", columns, "(?, ?, ?, ?, ?, 'pending', 0, ?)", values);
        self.run_batch(batch).await.map_err(|e| errors::write_error(e, "organization"))
    }

    async fn due_mail(&mut self, now: time::OffsetDateTime, limit: u32) -> R<Vec<QueuedMail>> {
        let lock = match self.engine {
            Engine::Postgres => " FOR UPDATE SKIP LOCKED",
            Engine::Sqlite => "",
        };
        let sql = format!(
            "SELECT {MAIL_COLUMNS} FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? \
             ORDER BY created_at, id LIMIT ?{lock}"
        );
        let values = vec![time(self.engine, now)?, count(limit)?];
        self.query_all(&sql, values).await?.iter().map(|row| self.queued_from_row(row)).collect()
    }

    async fn set_delivery(&mut self, mail: MailId, state: &DeliveryState) -> R<()> {
        let engine = self.engine;
        let no_text = || Value::String(None);
        let (name, attempts, next_attempt_at, last_error, settled_at) = match state {
            DeliveryState::Pending { attempts, next_attempt_at, last_error } => (
                "pending",
                *attempts,
                Some(*next_attempt_at),
                last_error.clone().map_or_else(no_text, Value::from),
                None,
            ),
            DeliveryState::Sent { at, attempts } => ("sent", *attempts, None, no_text(), Some(*at)),
            DeliveryState::Failed { at, attempts, error } => {
                ("failed", *attempts, None, Value::from(error.clone()), Some(*at))
            }
        };
        let mut values = vec![
            name.into(),
            count(attempts)?,
            opt_time(engine, next_attempt_at)?,
            last_error,
            opt_time(engine, settled_at)?,
        ];
        let mut set = String::from("state = ?, attempts = ?, next_attempt_at = ?, last_error = ?, settled_at = ?");
        if state.is_settled() {
            // A settled message is never sent again: its token goes (the port's rule). The
            // message is read and written back in Rust, so the JSON shape is the domain's alone.
            let sql = "SELECT message FROM outbox WHERE id = ?";
            let Some(row) = self.query_one(sql, vec![id(mail.as_uuid())]).await? else {
                return Err(StoreError::Missing { kind: "mail" });
            };
            let kind: MailKind = get_json(engine, &row, "message")?;
            if kind.holds_secret() {
                set.push_str(", message = ?");
                values.push(json(engine, &kind.without_secrets())?);
            }
        }
        values.push(id(mail.as_uuid()));
        let done = self.exec(&format!("UPDATE outbox SET {set} WHERE id = ?"), values).await?;
        if done.rows_affected() == 0 { Err(StoreError::Missing { kind: "mail" }) } else { Ok(()) }
    }

    async fn mail(&mut self, mail: MailId) -> R<Option<QueuedMail>> {
        let sql = format!("SELECT {MAIL_COLUMNS} FROM outbox WHERE id = ?");
        self.query_one(&sql, vec![id(mail.as_uuid())]).await?.map(|row| self.queued_from_row(&row)).transpose()
    }
}
