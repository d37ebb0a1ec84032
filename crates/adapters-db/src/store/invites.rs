//! [`InviteRepository`]: member invites and sign-up verifications, found by id or by the hash
//! of their current token. The reserved products and the groups the invite was made for are JSON
//! arrays read back with the invite.

use async_trait::async_trait;
use roster_domain::ids::{InviteId, OrgId, UserId};
use roster_domain::invites::{Invite, InvitePurpose};
use roster_domain::ports::{InviteRepository, StoreError};
use sea_orm::{QueryResult, Value};
use uuid::Uuid;

use super::SeaOrmTx;
use super::batch::Batch;
use super::convert::{corrupt, get, get_id, get_json, get_opt_time, get_time, id, json, opt_time, time};
use super::errors;

type R<T> = Result<T, StoreError>;

const INVITE_COLUMNS: &str =
    "org_id, id, user_id, purpose, products, group_ids, token_hash, expires_at, created_by, created_at, accepted_at";

const MISSING_INVITE: StoreError = StoreError::Missing { kind: "invite" };

fn purpose_text(purpose: InvitePurpose) -> &'static str {
    match purpose {
        InvitePurpose::Member => "member",
        InvitePurpose::SignupVerification => "signup_verification",
    }
}

fn purpose_of(row: &QueryResult) -> R<InvitePurpose> {
    match get::<String>(row, "purpose")?.as_str() {
        "member" => Ok(InvitePurpose::Member),
        "signup_verification" => Ok(InvitePurpose::SignupVerification),
        other => Err(corrupt("purpose", format!("unknown purpose `{other}`"))),
    }
}

impl SeaOrmTx {
    fn invite_from_row(&self, row: &QueryResult) -> R<Invite> {
        Ok(Invite {
            id: get_id(row, "id", InviteId::from_uuid)?,
            org_id: get_id(row, "org_id", OrgId::from_uuid)?,
            user_id: get_id(row, "user_id", UserId::from_uuid)?,
            purpose: purpose_of(row)?,
            products: get_json(self.engine, row, "products")?,
            group_ids: get_json(self.engine, row, "group_ids")?,
            token_hash: get(row, "token_hash")?,
            expires_at: get_time(self.engine, row, "expires_at")?,
            created_by: get::<Option<Uuid>>(row, "created_by")?.map(UserId::from_uuid),
            created_at: get_time(self.engine, row, "created_at")?,
            accepted_at: get_opt_time(self.engine, row, "accepted_at")?,
        })
    }

    async fn select_invites(&self, filter: &str, values: Vec<Value>) -> R<Vec<Invite>> {
        let sql = format!("SELECT {INVITE_COLUMNS} FROM invites {filter}");
        self.query_all(&sql, values).await?.iter().map(|row| self.invite_from_row(row)).collect()
    }

    /// The columns every write of an invite sets, in [`INVITE_COLUMNS`] order after `org_id, id`.
    fn invite_values(&self, invite: &Invite) -> R<Vec<Value>> {
        Ok(vec![
            id(invite.user_id.as_uuid()),
            purpose_text(invite.purpose).into(),
            json(self.engine, &invite.products)?,
            json(self.engine, &invite.group_ids)?,
            invite.token_hash.clone().into(),
            time(self.engine, invite.expires_at)?,
            invite.created_by.as_ref().map(UserId::as_uuid).into(),
            time(self.engine, invite.created_at)?,
            opt_time(self.engine, invite.accepted_at)?,
        ])
    }
}

#[async_trait]
impl InviteRepository for SeaOrmTx {
    async fn insert_invite(&mut self, invite: &Invite) -> R<()> {
        let mut values = vec![id(invite.org_id.as_uuid()), id(invite.id.as_uuid())];
        values.extend(self.invite_values(invite)?);
        let sql = format!("INSERT INTO invites ({INVITE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        // The one foreign key is the invited user, in the same organization (`created_by` is
        // not one).
        self.exec_guarded(&sql, values).await.map_err(|e| errors::write_error(e, "user"))?;
        Ok(())
    }

    async fn insert_invites(&mut self, invites: &[Invite]) -> R<()> {
        let mut values = Vec::with_capacity(invites.len() * 11);
        for invite in invites {
            values.extend([id(invite.org_id.as_uuid()), id(invite.id.as_uuid())]);
            values.extend(self.invite_values(invite)?);
        }
        let mut batch = Batch::default();
        self.push_rows(&mut batch, "invites", INVITE_COLUMNS, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values);
        self.run_batch(batch).await.map_err(|e| errors::write_error(e, "user"))
    }

    async fn invite(&mut self, org: OrgId, invite: InviteId) -> R<Option<Invite>> {
        Ok(self
            .select_invites("WHERE org_id = ? AND id = ?", vec![id(org.as_uuid()), id(invite.as_uuid())])
            .await?
            .pop())
    }

    async fn invite_by_token_hash(&mut self, hash: &str) -> R<Option<Invite>> {
        // Any organization, accepted invites included (token hashes are unique).
        Ok(self.select_invites("WHERE token_hash = ?", vec![hash.to_owned().into()]).await?.pop())
    }

    async fn pending_invites(&mut self, org: OrgId) -> R<Vec<Invite>> {
        self.select_invites("WHERE org_id = ? AND accepted_at IS NULL ORDER BY id", vec![id(org.as_uuid())]).await
    }

    async fn update_invite(&mut self, invite: &Invite) -> R<()> {
        let mut values = self.invite_values(invite)?;
        values.extend([id(invite.org_id.as_uuid()), id(invite.id.as_uuid())]);
        let sql = "UPDATE invites SET user_id = ?, purpose = ?, products = ?, group_ids = ?, token_hash = ?, \
                   expires_at = ?, created_by = ?, created_at = ?, accepted_at = ? WHERE org_id = ? AND id = ?";
        // A missing invite matches no row; an existing one moved to an unknown user breaks the
        // foreign key.
        let done = self.exec_guarded(sql, values).await.map_err(|e| errors::write_error(e, "user"))?;
        if done.rows_affected() == 0 {
            return Err(MISSING_INVITE);
        }
        Ok(())
    }

    async fn delete_invite(&mut self, org: OrgId, invite: InviteId) -> R<()> {
        let values = vec![id(org.as_uuid()), id(invite.as_uuid())];
        // Reservations first: they refer to the invite (the cascade would do it, but only with
        // foreign keys enforced). An unknown invite has none, so a refusal changes nothing.
        self.exec("DELETE FROM seat_reservations WHERE org_id = ? AND invite_id = ?", values.clone()).await?;
        let done = self.exec("DELETE FROM invites WHERE org_id = ? AND id = ?", values).await?;
        if done.rows_affected() == 0 {
            return Err(MISSING_INVITE);
        }
        Ok(())
    }
}
