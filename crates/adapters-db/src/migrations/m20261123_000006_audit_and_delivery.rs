//! The audit log numbered as the event feed, the mail outbox, webhook endpoints and their
//! delivery log (SPEC §8.4, §9, §9.1).

use sea_orm_migration::prelude::*;

use super::ddl;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

/// In creation order; `down` drops them in reverse.
const TABLES: &[&str] = &["event_counters", "audit_events", "outbox", "webhooks", "webhook_deliveries"];

const UP: &[&str] = &[
    // The last event position handed out per organization (§9.1, `AuditLog::events_after`).
    // Appending an event runs `UPDATE event_counters SET last_position = last_position + 1
    // WHERE org_id = ? RETURNING last_position` in the appending transaction (inserting the row
    // with 0 first for an organization's first event): the row lock serializes appends per
    // organization until commit, so positions follow commit order with no gaps, which a
    // sequence would not guarantee (numbers taken at insert, lost on rollback).
    r#"CREATE TABLE event_counters (
        org_id        {uuid} NOT NULL PRIMARY KEY,
        last_position bigint NOT NULL DEFAULT 0,
        CONSTRAINT event_counters_last_position_not_negative CHECK (last_position >= 0)
    )"#,
    // Append-only audit events (§9): no update or delete is ever issued. `source` and
    // `target_kind` are the domain's snake_case names; they are not CHECKed against a list
    // because new kinds appear as features do, and this table is the one too large to rebuild
    // (SQLite cannot alter a CHECK in place). `details` is the before/after JSON object. The
    // actor columns are history, not references: no foreign keys.
    r#"CREATE TABLE audit_events (
        org_id          {uuid} NOT NULL,
        id              {uuid} NOT NULL,
        position        bigint NOT NULL,
        at              {time} NOT NULL,
        actor_id        {uuid},
        impersonator_id {uuid},
        source          text NOT NULL,
        action          text NOT NULL,
        target_kind     text NOT NULL,
        target_id       text NOT NULL,
        target_label    text NOT NULL,
        details         {json} NOT NULL,
        PRIMARY KEY (org_id, id),
        CONSTRAINT audit_events_position_positive CHECK (position >= 1)
    )"#,
    // The event feed: `WHERE org_id = ? AND position > ? ORDER BY position LIMIT ?`; a webhook
    // endpoint's next event. Unique: no number ever names two events.
    "CREATE UNIQUE INDEX audit_events_position_uq ON audit_events (org_id, position)",
    // `GET /audit` (§9) lists newest first, `(at, id)` descending with the keyset
    // `(at, id) < (?, ?)`; one index per filter keeps each filtered page a range: none or a time
    // range, by actor, by target (also the per-account login throttle), by action.
    "CREATE INDEX audit_events_newest ON audit_events (org_id, at, id)",
    "CREATE INDEX audit_events_by_actor ON audit_events (org_id, actor_id, at, id) WHERE actor_id IS NOT NULL",
    "CREATE INDEX audit_events_by_target ON audit_events (org_id, target_id, at, id)",
    "CREATE INDEX audit_events_by_action ON audit_events (org_id, action, at, id)",
    // Outgoing mail (§8.4), written in the transaction of its cause and delivered afterwards by
    // a worker with retries (ADR 0007). `seq` is the enqueue order the worker follows; `message`
    // is the JSON of the domain's `MailKind` (what to send, not how). `next_attempt_at` is also
    // the end of a worker's lease while it sends.
    r#"CREATE TABLE outbox (
        seq             {serial} PRIMARY KEY,
        id              {uuid} NOT NULL,
        org_id          {uuid} NOT NULL,
        recipient       text NOT NULL,
        message         {json} NOT NULL,
        created_at      {time} NOT NULL,
        state           text NOT NULL DEFAULT 'pending',
        attempts        bigint NOT NULL DEFAULT 0,
        next_attempt_at {time},
        last_error      text,
        settled_at      {time},
        CONSTRAINT outbox_state_known CHECK (state IN ('pending', 'sent', 'failed')),
        CONSTRAINT outbox_attempts_not_negative CHECK (attempts >= 0),
        CONSTRAINT outbox_due_iff_pending CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL)),
        CONSTRAINT outbox_settled_iff_done CHECK ((state = 'pending') = (settled_at IS NULL))
    )"#,
    // A message by its id (recording a delivery attempt).
    "CREATE UNIQUE INDEX outbox_id_uq ON outbox (id)",
    // The worker's tick: pending messages due now, in enqueue order (`FOR UPDATE SKIP LOCKED`
    // on PostgreSQL). Sent and failed messages leave the index.
    "CREATE INDEX outbox_due ON outbox (next_attempt_at, seq) WHERE state = 'pending'",
    // Webhook endpoints (§9.1, ADR 0008). `position` is the endpoint's cursor in its
    // organization's event feed. The signing secret must be kept (HMAC needs it): it is stored as
    // is, like a password for an outgoing connection. `event_types` is a JSON array of patterns.
    // Endpoints are disabled, never deleted, so their delivery log stays.
    r#"CREATE TABLE webhooks (
        org_id      {uuid} NOT NULL,
        id          {uuid} NOT NULL,
        url         text NOT NULL,
        event_types {json} NOT NULL DEFAULT '[]',
        secret      text NOT NULL,
        created_at  {time} NOT NULL,
        disabled_at {time},
        position    bigint NOT NULL DEFAULT 0,
        created_by  {uuid} NOT NULL,
        version     bigint NOT NULL DEFAULT 1,
        PRIMARY KEY (org_id, id),
        CONSTRAINT webhooks_position_not_negative CHECK (position >= 0),
        CONSTRAINT webhooks_version_positive CHECK (version >= 1)
    )"#,
    // An organization's endpoints, oldest first (`GET /webhooks`).
    "CREATE INDEX webhooks_by_org ON webhooks (org_id, created_at, id)",
    // The worker's search for endpoints behind the feed: active ones with their cursor, compared
    // to `event_counters.last_position`.
    "CREATE INDEX webhooks_active ON webhooks (org_id, position) WHERE disabled_at IS NULL",
    // One row per event handed to an endpoint: the delivery log and the worker's unit of work.
    r#"CREATE TABLE webhook_deliveries (
        org_id          {uuid} NOT NULL,
        id              {uuid} NOT NULL,
        endpoint_id     {uuid} NOT NULL,
        event_position  bigint NOT NULL,
        event_id        {uuid} NOT NULL,
        attempts        bigint NOT NULL DEFAULT 0,
        state           text NOT NULL,
        response_status integer,
        last_error      text,
        next_attempt_at {time},
        created_at      {time} NOT NULL,
        last_attempt_at {time},
        version         bigint NOT NULL DEFAULT 1,
        PRIMARY KEY (org_id, id),
        CONSTRAINT webhook_deliveries_endpoint_fk FOREIGN KEY (org_id, endpoint_id) REFERENCES webhooks (org_id, id),
        CONSTRAINT webhook_deliveries_state_known CHECK (state IN ('pending', 'sent', 'failed')),
        CONSTRAINT webhook_deliveries_attempts_not_negative CHECK (attempts >= 0),
        CONSTRAINT webhook_deliveries_version_positive CHECK (version >= 1)
    )"#,
    // At most one pending delivery per endpoint, so an endpoint never gets event N+1 before N is
    // delivered or given up (ADR 0008).
    "CREATE UNIQUE INDEX webhook_deliveries_one_pending_uq ON webhook_deliveries (endpoint_id) WHERE state = 'pending'",
    // An endpoint's delivery log, newest first.
    "CREATE INDEX webhook_deliveries_log ON webhook_deliveries (org_id, endpoint_id, created_at, id)",
    // The worker's tick: pending deliveries whose retry time or lease has come, earliest first.
    "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE state = 'pending'",
];

ddl::migration!(UP, TABLES);
