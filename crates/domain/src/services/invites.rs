//! Bringing people in (§8): member invites with seat reservations, bulk paste, accepting an
//! invite, self sign-up with email verification, and import/sync from the CRM directory.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use time::OffsetDateTime;

use crate::actor::Actor;
use crate::audit::{AuditEvent, AuditTarget, Changes, Source, TargetKind};
use crate::catalog::Catalog;
use crate::error::{ErrorCode, FieldError, ServiceError, ServiceResult};
use crate::groups::GroupTree;
use crate::ids::{GroupId, InviteId, UserId};
use crate::invites::{
    Invite, InvitePurpose, NewMember, TOKEN_LIFETIME, hash_token, name_from_email, parse_pasted, split_name,
};
use crate::mail::{MailKind, OutgoingMail};
use crate::ports::{CrmDirectory, CrmUser, StoreError, Tx};
use crate::roles::{Permission, RoleGrant};
use crate::seats::{LicenseAssignment, SeatCount, SeatPool, SeatReservation};
use crate::user::{InactiveReason, User};
use crate::values::{CrmId, Email, Key, Password, PersonName, Slug};

use super::Services;
use super::support::{load_catalog, load_org, load_user};
use super::users::{RoleAssignment, RolesInput, resolve_grants};

/// One row of `POST /invites`: every field mandatory (§8.1).
#[derive(Debug, Clone)]
pub struct InviteRow {
    /// The invitee's full name, split at its last space into first and last name.
    pub name: PersonName,
    /// The address the invitation goes to; it must be free in the organization.
    pub email: Email,
    /// Keys of the roles the invitee gets (org-wide); at least one.
    pub roles: Vec<Key>,
    /// Products whose seats the invite reserves; at least one.
    pub products: BTreeSet<Key>,
    /// Groups (depth 2 or 3) the invitee joins, each one the inviter manages (§6:
    /// `manage_groups`); empty leaves them ungrouped. Checked for every row before any row is
    /// written: a bad group refuses the whole request.
    pub group_ids: Vec<GroupId>,
}

/// What became of one invite row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InviteOutcome {
    /// The row's address.
    pub email: Email,
    /// `created` or an error code.
    pub status: InviteStatus,
    /// The new invite, when the row was created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_id: Option<InviteId>,
    /// Why the row was refused, in words; `None` when created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For a row refused for seats (`seat_limit_reached`): the product whose pool is full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<Key>,
}

/// The outcome of one row: created, or refused with the error's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum InviteStatus {
    /// The invite was made (or would be, in a dry run).
    Created,
    /// The row was refused; the other rows went on.
    Refused(ErrorCode),
}

impl InviteStatus {
    /// The status on the wire: `created` or the refusal's code.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Refused(c) => c.as_str(),
        }
    }
}

/// What `POST /invites` answers: per row, and seats per product before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvitesResult {
    /// One outcome per row, in request order.
    pub results: Vec<InviteOutcome>,
    /// Every seat pool before the invites.
    pub seats_before: Vec<SeatCount>,
    /// Every seat pool after the invites (as they would be, for a dry run).
    pub seats_after: Vec<SeatCount>,
    /// Whether the invites were written (false for a dry run).
    pub applied: bool,
}

/// What became of one pasted entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PasteStatus {
    /// The entry became an invite (or would, in a dry run).
    Created,
    /// Listed twice in the paste, or the address belongs to a member already.
    Duplicate,
    /// Not an address (or `Name <address>`) that parses; the message says why.
    Invalid,
    /// Refused by a rule (`seat_limit_reached`, …); `code` names it.
    Refused,
}

/// The outcome of one pasted entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BulkPasteOutcome {
    /// The entry as pasted, trimmed.
    pub entry: String,
    /// What became of it.
    pub status: PasteStatus,
    /// For `refused` (and `duplicate` of a member): the code that refused the entry
    /// (`seat_limit_reached`, `conflict`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<ErrorCode>,
    /// The new invite, when the entry was created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_id: Option<InviteId>,
    /// Why the entry was not created, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What a bulk paste answers: per entry, and seats per product before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PasteResult {
    /// One outcome per non-blank entry, in paste order.
    pub results: Vec<BulkPasteOutcome>,
    /// Every seat pool before the invites.
    pub seats_before: Vec<SeatCount>,
    /// Every seat pool after the invites (as they would be, for a dry run).
    pub seats_after: Vec<SeatCount>,
    /// Whether the invites were written (false for a dry run).
    pub applied: bool,
}

/// A pending member invite with the person it invites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingInvite {
    /// The pending invite: its products, token hash and expiry.
    pub invite: Invite,
    /// The invited address.
    pub email: Email,
    /// The invitee's given name.
    pub first_name: PersonName,
    /// The invitee's family name.
    pub last_name: PersonName,
}

/// What accepting an invite did: the member who joined and the licenses they now hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcceptedInvite {
    /// The member who joined; no longer `invited`.
    pub user_id: UserId,
    /// The organization joined, by slug: what signing in asks, with [`Self::email`].
    pub org: Slug,
    /// The member's login address.
    pub email: Email,
    /// The products whose reserved seats became assignments.
    pub products: BTreeSet<Key>,
}

/// `POST /signup`.
#[derive(Debug, Clone)]
pub struct SignupRequest {
    /// The organization to join, by slug; its auto sign-up must be on.
    pub org: Slug,
    /// The address to verify; its domain must be allowed (§8.2).
    pub email: Email,
    /// The given name.
    pub first_name: PersonName,
    /// The family name.
    pub last_name: PersonName,
    /// The password chosen; stored hashed at once, usable once the address is verified.
    pub password: Password,
}

/// `POST /crm/import`.
#[derive(Debug, Clone)]
pub struct CrmImportRequest {
    /// The CRM users to import, by their CRM ids.
    pub crm_ids: Vec<CrmId>,
    /// Products assigned to each imported user, taking seats.
    pub products: BTreeSet<Key>,
    /// Keys of the roles each imported user gets (org-wide); `standard` when empty.
    pub roles: Vec<Key>,
    /// Whether each imported user is sent an invitation to set their password.
    pub send_welcome_email: bool,
    /// Report what would happen, write nothing.
    pub dry_run: bool,
}

/// What became of one CRM id in an import (§8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CrmImportStatus {
    /// A user was created (or would be, in a dry run), `invited` until they accept.
    Created,
    /// A member already has this CRM id or email (named in `user_id`), or this phone.
    AlreadyMember,
    /// The CRM directory has no user with this id.
    NotFound,
    /// No seat was free for the products.
    SeatRefused,
    /// Refused for another reason; the message says why.
    Invalid,
}

/// The outcome of one CRM id of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrmImportOutcome {
    /// The CRM id imported.
    pub crm_id: CrmId,
    /// What became of it.
    pub status: CrmImportStatus,
    /// The member created, or the member who already has the CRM id or email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// Why the id was not imported, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What an invited user is created from.
struct Invitee {
    email: Email,
    first_name: PersonName,
    last_name: PersonName,
    phone: Option<crate::values::Phone>,
    crm_id: Option<CrmId>,
    grants: BTreeSet<RoleGrant>,
    /// The groups the invitee joins with the invite, checked by the caller.
    groups: BTreeSet<GroupId>,
}

impl Invitee {
    fn new(person: NewMember, grants: BTreeSet<RoleGrant>) -> Self {
        Self {
            email: person.email,
            first_name: person.first_name,
            last_name: person.last_name,
            phone: person.phone,
            crm_id: person.crm_id,
            grants,
            groups: BTreeSet::new(),
        }
    }
}

/// Every row that makes one invited member: the user, the invite, the seats reserved for it, the
/// invitation mail when one is sent, and the audit event. Each way of inviting (one by one,
/// pasted, imported from the CRM) builds it with [`Services::assemble_invitation`] and only
/// chooses how to write it.
struct Invitation {
    user: User,
    invite: Invite,
    reservations: Vec<SeatReservation>,
    mail: Option<OutgoingMail>,
    event: AuditEvent,
}

impl Services {
    /// Invites members (§8.1): each row creates an `invited` user who joins the row's groups at
    /// once, reserves seats for its products and queues an invitation email, or is refused on
    /// its own.
    ///
    /// # Errors
    /// `auto_signup_enabled` while auto sign-up is on; `forbidden` (also for a row's group the
    /// inviter does not manage); `validation_failed` when a row lacks roles or products or names
    /// a group that is not a live group below the root (`invites[i].group_ids[j]`). These
    /// refuse the whole request; per-row refusals (seats, duplicates, roles) are outcomes.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn invite_members(
        &self,
        actor: &Actor,
        rows: Vec<InviteRow>,
        dry_run: bool,
    ) -> ServiceResult<InvitesResult> {
        self.invite_rows(actor, rows, dry_run, GroupsField::PerRow).await
    }

    /// [`Services::invite_members`], naming a bad group as `field` says.
    async fn invite_rows(
        &self,
        actor: &Actor,
        rows: Vec<InviteRow>,
        dry_run: bool,
        field: GroupsField,
    ) -> ServiceResult<InvitesResult> {
        actor.require_org_wide(Permission::ManageUsers)?;
        // Every invite reserves seats (products are mandatory).
        actor.require_org_wide(Permission::ManageLicenses)?;
        let mut errors = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            if row.roles.is_empty() {
                errors.push(FieldError::required(format!("invites[{i}].roles")));
            }
            if row.products.is_empty() {
                errors.push(FieldError::required(format!("invites[{i}].products")));
            }
        }
        if rows.is_empty() {
            errors.push(FieldError::required("invites"));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let mut tx = self.begin().await?;
        let org = load_org(&mut *tx, actor.org_id()).await?;
        org.settings.ensure_invites_allowed()?;
        let seats_before: Vec<SeatCount> = tx.seat_pools(org.id).await?.iter().map(SeatCount::from).collect();
        let catalog = load_catalog(&mut *tx, org.id).await?;
        let roles = tx.roles(org.id).await?;
        let tree = super::support::load_tree(&mut *tx, org.id).await?;
        let groups = check_invite_groups(actor, &tree, rows.iter().map(|r| r.group_ids.as_slice()), field)?;
        let invited_by = invited_by(&mut *tx, actor, &org).await?;
        let mut results = Vec::with_capacity(rows.len());
        for (row, groups) in rows.into_iter().zip(groups) {
            let (first_name, last_name) = split_name(&row.name);
            let outcome = async {
                let assignments: Vec<RoleAssignment> =
                    row.roles.iter().cloned().map(RoleAssignment::org_wide).collect();
                let grants = resolve_grants(actor, &roles, &assignments, &tree, RolesInput::Keys, &BTreeSet::new())?;
                let invitee = Invitee {
                    email: row.email.clone(),
                    first_name,
                    last_name,
                    phone: None,
                    crm_id: None,
                    grants,
                    groups,
                };
                self.create_invitee(&mut *tx, actor, &catalog, &tree, &org, invitee, &row.products, &invited_by).await
            }
            .await;
            results.push(match outcome {
                Ok((invite, _)) => InviteOutcome {
                    email: row.email,
                    status: InviteStatus::Created,
                    invite_id: Some(invite),
                    message: None,
                    product: None,
                },
                Err(e) if e.code() == ErrorCode::Internal => return Err(e),
                Err(e) => InviteOutcome {
                    email: row.email,
                    status: InviteStatus::Refused(e.code()),
                    invite_id: None,
                    message: Some(e.to_string()),
                    product: match &e {
                        ServiceError::SeatLimitReached { product, .. } => Some(product.clone()),
                        _ => None,
                    },
                },
            });
        }
        let seats_after: Vec<SeatCount> = tx.seat_pools(org.id).await?.iter().map(SeatCount::from).collect();
        if !dry_run {
            tx.commit().await?;
        }
        Ok(InvitesResult { results, seats_before, seats_after, applied: !dry_run })
    }

    /// Invites every address of a pasted list with the same roles, products and groups (§8.1);
    /// each entry is reported (created, duplicate, invalid, or refused with its code), and valid
    /// ones are invited even when others are invalid. All entries go through one transaction, as
    /// [`Services::invite_members`] does; a dry run reports without writing.
    ///
    /// # Errors
    /// `forbidden` (also for a group the inviter does not manage); `validation_failed` when
    /// `text` holds no entry, `roles` or `products` is empty, or a group is not a live group
    /// below the root (`group_ids[j]`); `auto_signup_enabled` — all before any entry is looked
    /// at.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn invite_pasted(
        &self,
        actor: &Actor,
        text: &str,
        roles: Vec<Key>,
        products: BTreeSet<Key>,
        group_ids: Vec<GroupId>,
        dry_run: bool,
    ) -> ServiceResult<PasteResult> {
        actor.require_org_wide(Permission::ManageUsers)?;
        actor.require_org_wide(Permission::ManageLicenses)?;
        let entries = parse_pasted(text);
        let mut errors = Vec::new();
        if entries.is_empty() {
            errors.push(FieldError::required("text"));
        }
        if roles.is_empty() {
            errors.push(FieldError::required("roles"));
        }
        if products.is_empty() {
            errors.push(FieldError::required("products"));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let mut out: Vec<Option<BulkPasteOutcome>> = vec![None; entries.len()];
        let mut rows = Vec::new();
        let mut row_entry = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, entry) in entries.iter().enumerate() {
            let skipped = |status, message: String| BulkPasteOutcome {
                entry: entry.raw.clone(),
                status,
                code: None,
                invite_id: None,
                message: Some(message),
            };
            match &entry.parsed {
                Err(e) => out[i] = Some(skipped(PasteStatus::Invalid, e.to_string())),
                Ok((_, email)) if !seen.insert(email.clone()) => {
                    out[i] = Some(skipped(PasteStatus::Duplicate, "listed twice".into()));
                }
                Ok((name, email)) => {
                    let name = name.clone().unwrap_or_else(|| name_from_email(email));
                    rows.push(InviteRow {
                        name,
                        email: email.clone(),
                        roles: roles.clone(),
                        products: products.clone(),
                        group_ids: group_ids.clone(),
                    });
                    row_entry.push(i);
                }
            }
        }
        let result = if rows.is_empty() {
            // Nothing to invite; the request is still judged as an invite would be.
            let mut tx = self.begin_read().await?;
            let org = load_org(&mut *tx, actor.org_id()).await?;
            org.settings.ensure_invites_allowed()?;
            let tree = super::support::load_tree(&mut *tx, org.id).await?;
            check_invite_groups(actor, &tree, [group_ids.as_slice()], GroupsField::Shared)?;
            let seats: Vec<SeatCount> = tx.seat_pools(org.id).await?.iter().map(SeatCount::from).collect();
            InvitesResult { results: Vec::new(), seats_before: seats.clone(), seats_after: seats, applied: !dry_run }
        } else {
            self.invite_rows(actor, rows, dry_run, GroupsField::Shared).await?
        };
        for (outcome, i) in result.results.into_iter().zip(row_entry) {
            let (status, code) = match outcome.status {
                InviteStatus::Created => (PasteStatus::Created, None),
                InviteStatus::Refused(code @ ErrorCode::Conflict) => (PasteStatus::Duplicate, Some(code)),
                InviteStatus::Refused(code) => (PasteStatus::Refused, Some(code)),
            };
            out[i] = Some(BulkPasteOutcome {
                entry: entries[i].raw.clone(),
                status,
                code,
                invite_id: outcome.invite_id,
                message: outcome.message,
            });
        }
        Ok(PasteResult {
            results: out.into_iter().flatten().collect(),
            seats_before: result.seats_before,
            seats_after: result.seats_after,
            applied: result.applied,
        })
    }

    /// Creates an invited user, makes them a member of the invitee's groups, reserves seats,
    /// records the invite and queues the invitation from `invited_by`. On a refusal it gives back
    /// what it took, so the surrounding transaction can go on.
    #[allow(clippy::too_many_arguments)]
    async fn create_invitee(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        catalog: &Catalog,
        tree: &GroupTree,
        org: &crate::org::Organization,
        invitee: Invitee,
        products: &BTreeSet<Key>,
        invited_by: &str,
    ) -> ServiceResult<(InviteId, UserId)> {
        let plan = catalog.plan(&BTreeSet::new(), products)?;
        super::users::check_unique(
            tx,
            org.id,
            None,
            &invitee.email,
            invitee.phone.as_ref(),
            None,
            invitee.crm_id.as_ref(),
        )
        .await?;
        let mut taken: Vec<&Key> = Vec::new();
        for product in &plan.assign {
            if let Err(e) = tx.take_seats(org.id, product, 1).await {
                for t in taken {
                    tx.return_seats(org.id, t, 1).await?;
                }
                return Err(e.into());
            }
            taken.push(product);
        }
        let rows = self.assemble_invitation(actor, org, invitee, &plan.assign, Some(invited_by), self.now());
        tx.insert_user(&rows.user).await?;
        tx.insert_invite(&rows.invite).await?;
        for reservation in &rows.reservations {
            tx.insert_reservation(reservation).await?;
        }
        if let Some(mail) = &rows.mail {
            tx.enqueue_mail(mail).await?;
        }
        tx.append_audit(&rows.event).await?;
        self.join_new_member(tx, actor, tree, &rows.user, &rows.invite.group_ids).await?;
        Ok((rows.invite.id, rows.user.id))
    }

    /// The rows of one invited member (see [`Invitation`]): an `invited` user holding `grants`,
    /// a member invite for `products` with a new token, one seat reservation per product, the
    /// invitation mail carrying the token when `invited_by` names who sends it, and the
    /// `invite.created` event. Pure: nothing is written.
    fn assemble_invitation(
        &self,
        actor: &Actor,
        org: &crate::org::Organization,
        invitee: Invitee,
        products: &BTreeSet<Key>,
        invited_by: Option<&str>,
        now: OffsetDateTime,
    ) -> Invitation {
        let mut user =
            User::new(self.new_id(), org.id, invitee.email, invitee.first_name, invitee.last_name, invitee.grants, now);
        let group_ids = invitee.groups;
        user.phone = invitee.phone;
        user.crm_id = invitee.crm_id;
        user.lifecycle.invited = true;
        let token = self.ids.secret();
        let invite = Invite {
            id: self.new_id(),
            org_id: org.id,
            user_id: user.id,
            purpose: InvitePurpose::Member,
            products: products.clone(),
            group_ids,
            token_hash: hash_token(&token),
            expires_at: now + TOKEN_LIFETIME,
            created_by: actor.user_id(),
            created_at: now,
            accepted_at: None,
        };
        let reservations = products
            .iter()
            .map(|p| SeatReservation { org_id: org.id, invite_id: invite.id, product: p.clone() })
            .collect();
        let mail = invited_by.map(|by| self.invitation_mail(org, &user, &invite, token, by, now));
        let event = AuditEvent::record(
            self.new_id(),
            now,
            actor,
            "invite.created",
            AuditTarget::new(TargetKind::Invite, invite.id, user.label()),
            Changes::new()
                .note("products", &invite.products)
                .note("email", &user.email)
                .note("group_ids", &invite.group_ids),
        );
        Invitation { user, invite, reservations, mail, event }
    }

    /// The invitation to `user` for `invite`, carrying its `token`: sent when a member is
    /// invited and when the invite is sent again.
    fn invitation_mail(
        &self,
        org: &crate::org::Organization,
        user: &User,
        invite: &Invite,
        token: String,
        invited_by: &str,
        now: OffsetDateTime,
    ) -> OutgoingMail {
        OutgoingMail {
            id: self.new_id(),
            org_id: org.id,
            to: user.email.clone(),
            kind: MailKind::Invitation {
                invite_id: invite.id,
                token,
                org_name: org.name.to_string(),
                invited_by: invited_by.to_owned(),
                expires_at: invite.expires_at,
            },
            created_at: now,
        }
    }

    /// Accepts an invite with its token (no session): sets the password, the user leaves
    /// `invited`, reserved seats become assignments — all in one transaction. The token dies.
    ///
    /// # Errors
    /// `invalid_token` (unknown, used, expired, or a sign-up token).
    #[tracing::instrument(skip_all)]
    pub async fn accept_invite(&self, token: &str, password: &Password) -> ServiceResult<AcceptedInvite> {
        let hash = self.hasher.hash(password).await?;
        let mut tx = self.begin().await?;
        let mut invite = tx.invite_by_token_hash(&hash_token(token)).await?.ok_or(ServiceError::InvalidToken)?;
        let now = self.now();
        if !invite.is_pending() || invite.expires_at <= now || invite.purpose != InvitePurpose::Member {
            return Err(ServiceError::InvalidToken);
        }
        let org = invite.org_id;
        let mut user = load_user(&mut *tx, org, invite.user_id).await.map_err(|_| ServiceError::InvalidToken)?;
        // A deactivated user can no longer log in nor hold licenses (§3.1, §4.3): accepting
        // would turn the reserved seats into licenses of a deactivated user.
        if user.is_deactivated() {
            return Err(ServiceError::InvalidToken);
        }
        let actor = Actor::system(org, Source::Console);
        let reservations = tx.reservations_of(org, invite.id).await?;
        tx.delete_reservations(org, invite.id).await?;
        let held = super::support::held_products(&mut *tx, org, user.id).await?;
        let mut products = BTreeSet::new();
        for r in reservations {
            if held.contains(&r.product) {
                // Assigned directly while the invite was pending: the reserved seat is not
                // needed any more, and a second assignment of the product would conflict.
                tx.return_seats(org, &r.product, 1).await?;
            } else {
                tx.insert_license(&LicenseAssignment {
                    org_id: org,
                    user_id: user.id,
                    product: r.product.clone(),
                    assigned_at: now,
                })
                .await?;
            }
            products.insert(r.product);
        }
        tx.set_password_hash(org, user.id, &hash).await?;
        user.has_password = true;
        user.lifecycle.invited = false;
        if products.contains(&Catalog::core_key()) {
            user.lifecycle.ever_held_core = true;
        }
        user.touch(now);
        tx.update_user(&user).await?;
        invite.accepted_at = Some(now);
        invite.token_hash = hash_token(&format!("used:{}", invite.id));
        tx.update_invite(&invite).await?;
        let slug = tx.org(org).await?.ok_or(ServiceError::InvalidToken)?.slug;
        let actor = actor_as(&actor, user.id);
        self.audit(
            &mut *tx,
            &actor,
            "invite.accepted",
            AuditTarget::new(TargetKind::Invite, invite.id, user.label()),
            Changes::new().field("products", &BTreeSet::<Key>::new(), &products),
        )
        .await?;
        tx.commit().await?;
        Ok(AcceptedInvite { user_id: user.id, org: slug, email: user.email.clone(), products })
    }

    /// Sends an invite again with a new token and a fresh expiry; the old token stops working.
    /// Answers the invite as it now is.
    ///
    /// # Errors
    /// `forbidden`, `not_found` (unknown, accepted, or a sign-up's verification).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn resend_invite(&self, actor: &Actor, id: InviteId) -> ServiceResult<PendingInvite> {
        // Invites hold seats of the organization's pools: only org-wide user managers handle
        // them (§5), whatever groups the invitee joined.
        actor.require_org_wide(Permission::ManageUsers)?;
        let mut tx = self.begin().await?;
        let org = load_org(&mut *tx, actor.org_id()).await?;
        let mut invite =
            tx.invite(org.id, id).await?.filter(is_pending_member).ok_or(ServiceError::not_found("invite"))?;
        let user = load_user(&mut *tx, org.id, invite.user_id).await?;
        self.require_manages(&mut *tx, actor, &user).await?;
        let token = self.ids.secret();
        invite.token_hash = hash_token(&token);
        invite.expires_at = self.now() + TOKEN_LIFETIME;
        tx.update_invite(&invite).await?;
        let from = invited_by(&mut *tx, actor, &org).await?;
        tx.enqueue_mail(&self.invitation_mail(&org, &user, &invite, token, &from, self.now())).await?;
        self.audit(
            &mut *tx,
            actor,
            "invite.resent",
            AuditTarget::new(TargetKind::Invite, invite.id, user.label()),
            Changes::new(),
        )
        .await?;
        tx.commit().await?;
        Ok(PendingInvite { invite, email: user.email, first_name: user.first_name, last_name: user.last_name })
    }

    /// Revokes a pending invite: its seats are released and the invited user removed.
    ///
    /// # Errors
    /// `forbidden`, `not_found`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn revoke_invite(&self, actor: &Actor, id: InviteId) -> ServiceResult<()> {
        // Invites hold seats of the organization's pools: only org-wide user managers handle
        // them (§5), whatever groups the invitee joined.
        actor.require_org_wide(Permission::ManageUsers)?;
        let mut tx = self.begin().await?;
        let org = actor.org_id();
        let invite = tx.invite(org, id).await?.filter(is_pending_member).ok_or(ServiceError::not_found("invite"))?;
        let mut user = load_user(&mut *tx, org, invite.user_id).await?;
        self.require_manages(&mut *tx, actor, &user).await?;
        self.withdraw_reservations(&mut *tx, &invite).await?;
        // Licenses assigned directly while the invite was pending go with the user; purging
        // the rows does not give their seats back.
        self.release_all(&mut *tx, actor, &mut user, "invite revoked").await?;
        tx.delete_invite(org, invite.id).await?;
        tx.purge_user(org, user.id).await?;
        self.audit(
            &mut *tx,
            actor,
            "invite.revoked",
            AuditTarget::new(TargetKind::Invite, invite.id, user.label()),
            Changes::new().note("released", &invite.products),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The pending member invites of the organization (sign-ups waiting for their address to be
    /// verified are not invites an admin handles), in id order, each with the invited person.
    ///
    /// # Errors
    /// `forbidden` without `manage_users` org-wide.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn list_invites(&self, actor: &Actor) -> ServiceResult<Vec<PendingInvite>> {
        actor.require_org_wide(Permission::ManageUsers)?;
        let mut tx = self.begin_read().await?;
        let org = actor.org_id();
        let invites: Vec<Invite> = tx.pending_invites(org).await?.into_iter().filter(is_pending_member).collect();
        let ids: Vec<UserId> = invites.iter().map(|i| i.user_id).collect();
        let users: BTreeMap<UserId, User> = tx.users_by_ids(org, &ids).await?.into_iter().map(|u| (u.id, u)).collect();
        Ok(invites
            .into_iter()
            .filter_map(|invite| {
                let user = users.get(&invite.user_id)?;
                Some(PendingInvite {
                    email: user.email.clone(),
                    first_name: user.first_name.clone(),
                    last_name: user.last_name.clone(),
                    invite,
                })
            })
            .collect())
    }

    /// Gives back the seats an invite reserved.
    pub(crate) async fn withdraw_reservations(&self, tx: &mut dyn Tx, invite: &Invite) -> ServiceResult<()> {
        for r in tx.reservations_of(invite.org_id, invite.id).await? {
            tx.return_seats(invite.org_id, &r.product, 1).await?;
        }
        tx.delete_reservations(invite.org_id, invite.id).await?;
        Ok(())
    }

    /// Self sign-up (§8.2): allowed while auto sign-up is on for addresses of the allowed
    /// domains. The account waits (`invited`) until the emailed token is verified.
    ///
    /// # Errors
    /// `not_found` (organization), `forbidden` (sign-up off or domain not allowed), `conflict`
    /// on `email`.
    #[tracing::instrument(skip_all)]
    pub async fn sign_up(&self, request: SignupRequest) -> ServiceResult<UserId> {
        let hash = self.hasher.hash(&request.password).await?;
        let mut tx = self.begin().await?;
        let org = tx.org_by_slug(&request.org).await?.ok_or(ServiceError::not_found("organization"))?;
        org.settings.ensure_sign_up_open(&request.email)?;
        super::users::check_unique(&mut *tx, org.id, None, &request.email, None, None, None).await?;
        let roles = tx.roles(org.id).await?;
        let standard =
            roles.iter().find(|r| r.key.as_str() == "standard").ok_or(ServiceError::not_found("standard role"))?;
        let now = self.now();
        let standard = BTreeSet::from([RoleGrant::org_wide(standard.id)]);
        let mut user =
            User::new(self.new_id(), org.id, request.email, request.first_name, request.last_name, standard, now);
        user.lifecycle.invited = true;
        user.has_password = true;
        tx.insert_user(&user).await?;
        tx.set_password_hash(org.id, user.id, &hash).await?;
        let token = self.ids.secret();
        let invite = Invite {
            id: self.new_id(),
            org_id: org.id,
            user_id: user.id,
            purpose: InvitePurpose::SignupVerification,
            products: BTreeSet::new(),
            group_ids: BTreeSet::new(),
            token_hash: hash_token(&token),
            expires_at: now + TOKEN_LIFETIME,
            created_by: None,
            created_at: now,
            accepted_at: None,
        };
        tx.insert_invite(&invite).await?;
        tx.enqueue_mail(&OutgoingMail {
            id: self.new_id(),
            org_id: org.id,
            to: user.email.clone(),
            kind: MailKind::SignupVerification { token, org_name: org.name.to_string() },
            created_at: now,
        })
        .await?;
        let actor = actor_as(&Actor::system(org.id, Source::Api), user.id);
        self.audit(
            &mut *tx,
            &actor,
            "user.signed_up",
            AuditTarget::new(TargetKind::User, user.id, user.label()),
            Changes::new(),
        )
        .await?;
        tx.commit().await?;
        Ok(user.id)
    }

    /// Verifies a sign-up token: the account becomes a member with the `standard` role and no
    /// license.
    ///
    /// # Errors
    /// `invalid_token`.
    #[tracing::instrument(skip_all)]
    pub async fn verify_sign_up(&self, token: &str) -> ServiceResult<UserId> {
        let mut tx = self.begin().await?;
        let mut invite = tx.invite_by_token_hash(&hash_token(token)).await?.ok_or(ServiceError::InvalidToken)?;
        let now = self.now();
        if !invite.is_pending() || invite.expires_at <= now || invite.purpose != InvitePurpose::SignupVerification {
            return Err(ServiceError::InvalidToken);
        }
        let mut user =
            load_user(&mut *tx, invite.org_id, invite.user_id).await.map_err(|_| ServiceError::InvalidToken)?;
        user.lifecycle.invited = false;
        user.touch(now);
        tx.update_user(&user).await?;
        invite.accepted_at = Some(now);
        invite.token_hash = hash_token(&format!("used:{}", invite.id));
        tx.update_invite(&invite).await?;
        let actor = actor_as(&Actor::system(invite.org_id, Source::Api), user.id);
        self.audit(
            &mut *tx,
            &actor,
            "user.signup_verified",
            AuditTarget::new(TargetKind::User, user.id, user.label()),
            Changes::new(),
        )
        .await?;
        tx.commit().await?;
        Ok(user.id)
    }

    /// Searches the CRM directory (§8.3).
    ///
    /// # Errors
    /// `forbidden`; CRM failures.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn search_crm(&self, actor: &Actor, query: &str, page: u32) -> ServiceResult<crate::ports::CrmPage> {
        actor.require_org_wide(Permission::ManageUsers)?;
        Ok(self.crm()?.search(query, page).await?)
    }

    /// Imports users from the CRM (§8.3): per id created (as an invite with reserved seats and,
    /// if asked, a welcome email carrying the link to set a password), already a member (by CRM
    /// id or email), not found, or seat refused. Runs in chunks of [`CRM_IMPORT_CHUNK`] ids, one
    /// transaction each (see [`Services::import_from_crm_in_chunks`]).
    ///
    /// # Errors
    /// `forbidden`, `validation_failed` (roles, products), CRM failures, store failures.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn import_from_crm(
        &self,
        actor: &Actor,
        request: CrmImportRequest,
    ) -> ServiceResult<Vec<CrmImportOutcome>> {
        self.import_from_crm_in_chunks(actor, request, CRM_IMPORT_CHUNK).await
    }

    /// [`Services::import_from_crm`] with `chunk` CRM ids per transaction
    /// (`docs/decisions/0010-batched-crm-import.md`). The directory is read once; each chunk
    /// then locks the organization, looks its ids' existing members up in one batched query,
    /// plans its seats in memory from the pools as they are under the lock (rows past the free
    /// seats are `seat_refused`, in id order, as one row at a time would be), and writes its
    /// users, invites, reservations, mails and audit events with the port's batch writes and one
    /// `take_seats(n)` per product. Chunks commit one by one: when chunk k fails, chunks before it
    /// stay imported and the error is returned; importing the same ids again reports those as
    /// `already_member`. A dry run runs every chunk in one transaction that is dropped, so it
    /// reports what a real run would and changes nothing.
    ///
    /// A `chunk` of 0 counts as 1.
    ///
    /// # Errors
    /// As [`Services::import_from_crm`].
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn import_from_crm_in_chunks(
        &self,
        actor: &Actor,
        request: CrmImportRequest,
        chunk: usize,
    ) -> ServiceResult<Vec<CrmImportOutcome>> {
        actor.require_org_wide(Permission::ManageUsers)?;
        if !request.products.is_empty() {
            actor.require_org_wide(Permission::ManageLicenses)?;
        }
        let chunk = chunk.max(1);
        // Each id once, in the order asked (a repeated id is not reported twice).
        let mut seen = BTreeSet::new();
        let ids: Vec<CrmId> = request.crm_ids.iter().filter(|id| seen.insert(*id)).cloned().collect();
        let directory: BTreeMap<CrmId, CrmUser> =
            self.crm()?.get(&ids).await?.into_iter().map(|u| (u.crm_id.clone(), u)).collect();
        let mut tx = self.begin().await?;
        let plan =
            self.plan_import(&mut *tx, actor, &request.products, &request.roles, request.send_welcome_email).await?;
        let mut out = Vec::with_capacity(ids.len());
        if request.dry_run {
            for part in ids.chunks(chunk) {
                out.extend(self.import_chunk(&mut *tx, &plan, part, &directory).await?);
            }
            // Dropped: nothing of the dry run is kept.
            return Ok(out);
        }
        drop(tx);
        for part in ids.chunks(chunk) {
            let mut tx = self.begin().await?;
            let outcomes = self.import_chunk(&mut *tx, &plan, part, &directory).await?;
            tx.commit().await?;
            out.extend(outcomes);
        }
        Ok(out)
    }

    /// What every chunk of an import shares, checked once before the first: the organization,
    /// the grants (`roles`, `standard` when empty) and `products` (with prerequisites) each
    /// created user gets, and the inviter's name for the welcome emails when `send_email`.
    ///
    /// # Errors
    /// `validation_failed` for an unknown role or product, `forbidden` for a role the actor may
    /// not hand out.
    pub(crate) async fn plan_import(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        products: &BTreeSet<Key>,
        roles: &[Key],
        send_email: bool,
    ) -> ServiceResult<ImportPlan> {
        let org = load_org(tx, actor.org_id()).await?;
        let catalog = load_catalog(tx, org.id).await?;
        let products = catalog.plan(&BTreeSet::new(), products)?.assign;
        let keys = if roles.is_empty() { vec![Key::parse("standard").expect("valid key")] } else { roles.to_vec() };
        let roles = tx.roles(org.id).await?;
        let tree = super::support::load_tree(tx, org.id).await?;
        let assignments: Vec<RoleAssignment> = keys.into_iter().map(RoleAssignment::org_wide).collect();
        let grants = resolve_grants(actor, &roles, &assignments, &tree, RolesInput::Keys, &BTreeSet::new())?;
        let invited_by = invited_by(tx, actor, &org).await?;
        Ok(ImportPlan { org, actor: import_actor(actor), grants, products, invited_by, send_email })
    }

    /// One chunk of a CRM import inside `tx` (see [`Services::import_from_crm_in_chunks`]): the
    /// ids the directory does not list are `not_found`, the others go through
    /// [`Services::create_members_chunk`].
    async fn import_chunk(
        &self,
        tx: &mut dyn Tx,
        plan: &ImportPlan,
        ids: &[CrmId],
        directory: &BTreeMap<CrmId, CrmUser>,
    ) -> ServiceResult<Vec<CrmImportOutcome>> {
        let people: Vec<NewMember> = ids.iter().filter_map(|id| directory.get(id)).map(NewMember::from).collect();
        let mut created = self.create_members_chunk(tx, plan, &people).await?.into_iter();
        let mut out = Vec::with_capacity(ids.len());
        for crm_id in ids {
            let outcome = |status, user_id, message: Option<String>| CrmImportOutcome {
                crm_id: crm_id.clone(),
                status,
                user_id,
                message,
            };
            if !directory.contains_key(crm_id) {
                out.push(outcome(CrmImportStatus::NotFound, None, None));
                continue;
            }
            let Some(member) = created.next() else {
                return Err(StoreError::unavailable(ChunkMismatch).into());
            };
            out.push(match member {
                MemberOutcome::Created(id) => outcome(CrmImportStatus::Created, Some(id), None),
                MemberOutcome::AlreadyMember(id) => outcome(CrmImportStatus::AlreadyMember, Some(id), None),
                MemberOutcome::PhoneTaken(e) => outcome(CrmImportStatus::AlreadyMember, None, Some(e.to_string())),
                MemberOutcome::SeatRefused(e) => outcome(CrmImportStatus::SeatRefused, None, Some(e.to_string())),
                MemberOutcome::NoPool(e) => outcome(CrmImportStatus::Invalid, None, Some(e.to_string())),
            });
        }
        Ok(out)
    }

    /// Creates the members of one chunk of an import inside `tx`, whatever the import reads
    /// (CRM ids, the rows of a file): locks the organization, looks the people's existing
    /// members up in one batched query, plans the seats in memory from the pools as they are
    /// under the lock, and writes the users, invites, reservations, mails and audit events with
    /// the port's batch writes and one `take_seats(n)` per product. Answers one outcome per
    /// person, in order, decided by the rules of the one-row path: a member with the CRM id,
    /// then with the email, is the same person (`AlreadyMember`); a phone another member holds
    /// refuses the person; then each product's seat, all or none. People created earlier in the
    /// chunk count as members for later ones.
    pub(crate) async fn create_members_chunk(
        &self,
        tx: &mut dyn Tx,
        plan: &ImportPlan,
        people: &[NewMember],
    ) -> ServiceResult<Vec<MemberOutcome>> {
        let org = plan.org.id;
        tx.lock_org(org).await?;
        let emails: Vec<Email> = people.iter().map(|p| p.email.clone()).collect();
        let phones: Vec<crate::values::Phone> = people.iter().filter_map(|p| p.phone.clone()).collect();
        let crm_ids: Vec<CrmId> = people.iter().filter_map(|p| p.crm_id.clone()).collect();
        let mut taken = TakenValues::default();
        for user in tx.users_matching(org, &emails, &phones, &crm_ids).await? {
            taken.add(&user);
        }
        let mut seats = SeatPlanner::new(tx.seat_pools(org).await?, &plan.products);
        let now = self.now();
        let mut writes = ImportWrites::default();
        let mut out = Vec::with_capacity(people.len());
        for person in people {
            // The order of the one-row rules: by CRM id, by email, then the other unique values.
            let by_crm_id = person.crm_id.as_ref().and_then(|id| taken.by_crm_id.get(id));
            if let Some(id) = by_crm_id.or_else(|| taken.by_email.get(&person.email)) {
                out.push(MemberOutcome::AlreadyMember(*id));
                continue;
            }
            if person.phone.as_ref().is_some_and(|p| taken.phones.contains(p)) {
                out.push(MemberOutcome::PhoneTaken(ServiceError::Conflict {
                    field: "phone",
                    message: "another member already has this phone".into(),
                }));
                continue;
            }
            if let Err(e) = seats.take_one() {
                out.push(match e {
                    ServiceError::SeatLimitReached { .. } => MemberOutcome::SeatRefused(e),
                    _ => MemberOutcome::NoPool(e),
                });
                continue;
            }
            let user = self.import_one(plan, person.clone(), now, &mut writes);
            taken.add(&user);
            out.push(MemberOutcome::Created(user.id));
            writes.users.push(user);
        }
        if !writes.users.is_empty() {
            for (product, n) in seats.taken() {
                tx.take_seats(org, product, n).await?;
            }
            tx.insert_users(&writes.users).await?;
            tx.insert_invites(&writes.invites).await?;
            tx.insert_reservations(&writes.reservations).await?;
            tx.enqueue_mails(&writes.mails).await?;
            tx.append_audits(&writes.events).await?;
        }
        Ok(out)
    }

    /// The rows that create one imported user (see [`Invitation`]), added to `writes`; answers
    /// the user.
    fn import_one(&self, plan: &ImportPlan, person: NewMember, now: OffsetDateTime, writes: &mut ImportWrites) -> User {
        let invitee = Invitee::new(person, plan.grants.clone());
        let invited_by = plan.send_email.then_some(plan.invited_by.as_str());
        let rows = self.assemble_invitation(&plan.actor, &plan.org, invitee, &plan.products, invited_by, now);
        writes.reservations.extend(rows.reservations);
        writes.mails.extend(rows.mail);
        writes.events.push(rows.event);
        writes.invites.push(rows.invite);
        rows.user
    }

    /// Marks members `inactive_in_crm` or clears it from the CRM's `active` flag (§8.3, §4.5);
    /// answers the users whose flag changed.
    ///
    /// # Errors
    /// `forbidden`, CRM failures.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn sync_from_crm(&self, actor: &Actor) -> ServiceResult<Vec<UserId>> {
        actor.require_org_wide(Permission::ManageUsers)?;
        let mut tx = self.begin().await?;
        let users = tx.list_users(&crate::users_query::UserQuery::new(actor.org_id())).await?.items;
        drop(tx);
        let linked: Vec<&User> = users.iter().filter(|u| u.crm_id.is_some()).collect();
        let ids: Vec<CrmId> = linked.iter().filter_map(|u| u.crm_id.clone()).collect();
        let directory = self.crm()?.get(&ids).await?;
        let sync_actor = Actor::system(actor.org_id(), Source::CrmSync);
        let mut tx = self.begin().await?;
        let mut changed = Vec::new();
        for u in linked {
            let Some(entry) = directory.iter().find(|d| Some(&d.crm_id) == u.crm_id.as_ref()) else { continue };
            let fresh = load_user(&mut *tx, u.org_id, u.id).await?;
            let inactive = !entry.active;
            if fresh.lifecycle.inactive_reasons.contains(&InactiveReason::InactiveInCrm) != inactive {
                self.set_inactive_in(&mut *tx, &sync_actor, fresh, InactiveReason::InactiveInCrm, inactive).await?;
                changed.push(u.id);
            }
        }
        tx.commit().await?;
        Ok(changed)
    }

    pub(crate) fn crm(&self) -> ServiceResult<&dyn CrmDirectory> {
        self.crm
            .as_deref()
            .ok_or_else(|| crate::ports::CrmError::NotConfigured("no CRM directory is configured".into()).into())
    }
}

/// CRM ids per transaction of [`Services::import_from_crm`]: large enough that the batch
/// writes reach the raw insert rate, small enough to keep a transaction (and the memory of its
/// rows) modest (`docs/decisions/0010-batched-crm-import.md`).
pub const CRM_IMPORT_CHUNK: usize = 1_000;

/// What every chunk of one import shares (see `Services::plan_import`).
pub(crate) struct ImportPlan {
    pub(crate) org: crate::org::Organization,
    /// The requesting actor with the `import` source.
    actor: Actor,
    grants: BTreeSet<RoleGrant>,
    /// The products asked for and their prerequisites: each created user reserves one of each.
    products: BTreeSet<Key>,
    invited_by: String,
    send_email: bool,
}

/// What became of one person of an import chunk ([`Services::create_members_chunk`]); each
/// import reports it in its own words.
pub(crate) enum MemberOutcome {
    /// A user was created (an invite with reserved seats).
    Created(UserId),
    /// A live member has the person's CRM id or email.
    AlreadyMember(UserId),
    /// Another member holds the person's phone (`conflict` on `phone`).
    PhoneTaken(ServiceError),
    /// A product had no free seat (`seat_limit_reached` with the figures at that moment).
    SeatRefused(ServiceError),
    /// A product has no seat pool in the organization.
    NoPool(ServiceError),
}

/// The directory answered an id that the chunk's people do not follow: a bug.
#[derive(Debug, thiserror::Error)]
#[error("an import chunk answered fewer outcomes than it was given people")]
struct ChunkMismatch;

/// The rows one chunk of an import writes, in creation order.
#[derive(Default)]
struct ImportWrites {
    users: Vec<User>,
    invites: Vec<Invite>,
    reservations: Vec<SeatReservation>,
    mails: Vec<OutgoingMail>,
    events: Vec<AuditEvent>,
}

/// The unique values live members hold, as far as one chunk of an import needs them: those the
/// batched lookup found and those the chunk created so far.
#[derive(Default)]
struct TakenValues {
    by_crm_id: BTreeMap<CrmId, UserId>,
    by_email: BTreeMap<Email, UserId>,
    phones: BTreeSet<crate::values::Phone>,
}

impl TakenValues {
    fn add(&mut self, user: &User) {
        if let Some(crm_id) = &user.crm_id {
            self.by_crm_id.entry(crm_id.clone()).or_insert(user.id);
        }
        self.by_email.entry(user.email.clone()).or_insert(user.id);
        if let Some(phone) = &user.phone {
            self.phones.insert(phone.clone());
        }
    }
}

/// Seats for one chunk planned in memory from the pools read under the organization's lock:
/// each created user takes one seat of every product or none, in order, under the same seat
/// rule as taking them one row at a time ([`SeatPool::take`]; the first product without a free
/// seat refuses the row).
struct SeatPlanner<'a> {
    products: &'a BTreeSet<Key>,
    /// Per product: the pool as this chunk has taken from it, or `None` when the organization
    /// has no pool of it.
    pools: BTreeMap<&'a Key, Option<SeatPool>>,
    /// Users this chunk planned, each holding one seat of every product.
    taken: u32,
}

impl<'a> SeatPlanner<'a> {
    fn new(pools: Vec<SeatPool>, products: &'a BTreeSet<Key>) -> Self {
        let mut by_product: BTreeMap<&'a Key, Option<SeatPool>> = products.iter().map(|p| (p, None)).collect();
        for pool in pools {
            let product = pool.product().clone();
            if let Some(slot) = by_product.get_mut(&product) {
                *slot = Some(pool);
            }
        }
        Self { products, pools: by_product, taken: 0 }
    }

    /// Takes one seat of every product for one more user, or refuses with the error taking
    /// them one by one would give (`seat_limit_reached` with the figures at that moment, or
    /// `not_found` for a product without a pool), taking none.
    fn take_one(&mut self) -> ServiceResult<()> {
        for product in self.products {
            let Some(Some(pool)) = self.pools.get(product) else {
                return Err(StoreError::Missing { kind: "seat pool" }.into());
            };
            pool.check_take(1).map_err(StoreError::SeatsExhausted)?;
        }
        for pool in self.pools.values_mut().flatten() {
            pool.take(1).map_err(StoreError::SeatsExhausted)?;
        }
        self.taken += 1;
        Ok(())
    }

    /// The seats to take per product for the users planned (none when no user was).
    fn taken(&self) -> impl Iterator<Item = (&'a Key, u32)> + '_ {
        self.products.iter().map(|p| (p, self.taken)).filter(|(_, n)| *n > 0)
    }
}

/// Which request field names the groups of an invite in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupsField {
    /// `invites[i].group_ids`: each row of `POST /invites` has its own.
    PerRow,
    /// `group_ids`: one list for every entry of a pasted list.
    Shared,
}

/// Checks the groups of every invite row before any row is written (§6, §8.1): each a live
/// group below the root, and one the inviter manages (`manage_groups` over it). Every bad id of
/// every row is named at once; answers each row's groups, in row order.
///
/// # Errors
/// `validation_failed` (`unknown_group`, `root_group`), then `forbidden`.
fn check_invite_groups<'a>(
    actor: &Actor,
    tree: &GroupTree,
    rows: impl IntoIterator<Item = &'a [GroupId]>,
    field: GroupsField,
) -> ServiceResult<Vec<BTreeSet<GroupId>>> {
    let mut out: Vec<BTreeSet<GroupId>> = Vec::new();
    let mut errors = Vec::new();
    for (i, ids) in rows.into_iter().enumerate() {
        if field == GroupsField::Shared
            && let Some(first) = out.first()
        {
            // The same list for every entry: checked once.
            out.push(first.clone());
            continue;
        }
        let name = match field {
            GroupsField::PerRow => format!("invites[{i}].group_ids"),
            GroupsField::Shared => "group_ids".to_owned(),
        };
        match tree.check_joining(ids, &name) {
            Ok(groups) => out.push(groups),
            Err(ServiceError::Validation(e)) => {
                errors.extend(e);
                out.push(BTreeSet::new());
            }
            Err(e) => return Err(e),
        }
    }
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    for g in out.iter().flatten().collect::<BTreeSet<_>>() {
        actor.require_over_group(Permission::ManageGroups, *g)?;
    }
    Ok(out)
}

/// Who an invitation says it comes from: the acting member's name, or the organization's when
/// no member acts (a system actor) or the member is gone.
async fn invited_by(tx: &mut dyn Tx, actor: &Actor, org: &crate::org::Organization) -> ServiceResult<String> {
    Ok(match actor.user_id() {
        Some(id) => tx.user(org.id, id).await?.map_or_else(|| org.name.to_string(), |u| u.display_name()),
        None => org.name.to_string(),
    })
}

/// The same authority as `actor`, with the `import` source for the audit trail.
fn import_actor(actor: &Actor) -> Actor {
    actor.clone().with_source(Source::Import)
}

/// A system actor whose audit events name `user` (a person acting on their own account
/// without a session: accepting an invite, signing up).
fn actor_as(system: &Actor, user: UserId) -> Actor {
    system.clone().acting_as(user)
}

/// A member invite not yet accepted: what an admin may list, resend and revoke. A sign-up's
/// verification is not one (resending it would send an invitation for an account nobody
/// invited).
fn is_pending_member(invite: &Invite) -> bool {
    invite.is_pending() && invite.purpose == InvitePurpose::Member
}
