//! Member invites and self sign-up (§8.1, §8.2): the invite record, single-use tokens stored
//! hashed, and the parser of a pasted list of addresses.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::ids::{GroupId, InviteId, OrgId, UserId};
use crate::ports::CrmUser;
use crate::values::{CrmId, Email, Key, PersonName, Phone, ValueError};

/// A person to make a member of by an import (from the CRM, or an uploaded file): the values
/// the new user starts with; roles, products and groups are the import's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMember {
    /// The address; unique among the organization's live members.
    pub email: Email,
    /// The given name.
    pub first_name: PersonName,
    /// The family name.
    pub last_name: PersonName,
    /// A phone; unique among the organization's members when present.
    pub phone: Option<Phone>,
    /// The CRM's id of the person; an existing member with it is the same person.
    pub crm_id: Option<CrmId>,
}

impl From<&CrmUser> for NewMember {
    fn from(u: &CrmUser) -> Self {
        Self {
            email: u.email.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            phone: u.phone.clone(),
            crm_id: Some(u.crm_id.clone()),
        }
    }
}

/// How long an invite (or sign-up verification) token stays valid.
pub const TOKEN_LIFETIME: Duration = Duration::days(7);

/// What an invite is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitePurpose {
    /// An admin invited a member (§8.1).
    Member,
    /// A person signed up and must verify their address (§8.2).
    SignupVerification,
}

/// A pending or accepted invite: a member invite (§8.1) or a sign-up waiting for its email to
/// be verified (§8.2). It reserves seats for its products until accepted or revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    /// Unique; the path id of `/invites/{id}`.
    pub id: InviteId,
    /// The organization the invite belongs to.
    pub org_id: OrgId,
    /// The user the invite created (status `invited` until accepted).
    pub user_id: UserId,
    /// Whether an admin invited the member or a person signed up.
    pub purpose: InvitePurpose,
    /// Products whose seats are reserved for this invite.
    pub products: BTreeSet<Key>,
    /// The groups the invite was made for. The invited user joined them when the invite was
    /// made (the user exists from then on, `invited`); the invite keeps them as what it asked
    /// for, whatever happens to the memberships later. Empty for a sign-up.
    #[serde(default)]
    pub group_ids: BTreeSet<GroupId>,
    /// SHA-256 of the current token, hex; resending replaces it.
    pub token_hash: String,
    /// When the current token stops working: [`TOKEN_LIFETIME`] after it was issued (or resent).
    pub expires_at: OffsetDateTime,
    /// The member who invited (an API key's creator); `None` for a self sign-up or the operator.
    pub created_by: Option<UserId>,
    /// When the invite was first made (a resend does not move it).
    pub created_at: OffsetDateTime,
    /// When the token was redeemed; `None` while pending.
    pub accepted_at: Option<OffsetDateTime>,
}

impl Invite {
    /// Whether the invite still waits for its token to be redeemed (it may have expired).
    pub fn is_pending(&self) -> bool {
        self.accepted_at.is_none()
    }
}

/// The hash under which a token is stored and looked up.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// One entry of a pasted list, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastedEntry {
    /// The entry as pasted, trimmed, for the per-entry report.
    pub raw: String,
    /// The name (when the entry gave one) and email, or why the entry is invalid.
    pub parsed: Result<(Option<PersonName>, Email), ValueError>,
}

/// Splits a pasted body into entries (§8.1): entries are separated by new lines, or by commas
/// when a line holds no `name,email` pair; each entry is `email`, `Name <email>` or
/// `name,email`. Blank entries are skipped. Every non-blank entry is reported.
pub fn parse_pasted(body: &str) -> Vec<PastedEntry> {
    let mut out = Vec::new();
    for line in body.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        // A CSV line "name,email": exactly two fields, the first not an address, the second a
        // bare address.
        let parts: Vec<&str> = line.split(',').map(str::trim).collect();
        if parts.len() == 2
            && !parts[0].is_empty()
            && !parts[0].contains('@')
            && parts[1].contains('@')
            && !parts[1].contains('<')
        {
            out.push(entry(line, Some(parts[0]), parts[1]));
            continue;
        }
        for piece in parts.into_iter().filter(|p| !p.is_empty()) {
            out.push(parse_one(piece));
        }
    }
    out
}

fn parse_one(piece: &str) -> PastedEntry {
    if let (Some(open), true) = (piece.find('<'), piece.ends_with('>')) {
        let name = piece[..open].trim().trim_matches('"').trim();
        let email = &piece[open + 1..piece.len() - 1];
        return entry(piece, (!name.is_empty()).then_some(name), email);
    }
    entry(piece, None, piece)
}

fn entry(raw: &str, name: Option<&str>, email: &str) -> PastedEntry {
    let parsed = Email::parse(email).and_then(|e| match name {
        Some(n) => PersonName::parse(n).map(|n| (Some(n), e)),
        None => Ok((None, e)),
    });
    PastedEntry { raw: raw.to_owned(), parsed }
}

/// Splits a full name into first and last name at its last space (`Ada King Lovelace` gives
/// `Ada King` and `Lovelace`); a single word is both the first and the last name, lacking
/// anything better.
pub fn split_name(name: &PersonName) -> (PersonName, PersonName) {
    let s = name.as_str();
    match s.rsplit_once(' ') {
        Some((first, last)) => (
            PersonName::parse(first).unwrap_or_else(|_| name.clone()),
            PersonName::parse(last).unwrap_or_else(|_| name.clone()),
        ),
        None => (name.clone(), name.clone()),
    }
}

/// A name from an email's local part ("ada.lovelace@x" gives "ada.lovelace"), for pasted entries
/// without a name.
pub fn name_from_email(email: &Email) -> PersonName {
    let local = email.as_str().split('@').next().unwrap_or("member");
    PersonName::parse(local).unwrap_or_else(|_| PersonName::parse("Member").expect("valid name"))
}
