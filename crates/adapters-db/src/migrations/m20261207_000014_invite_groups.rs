//! `invites.group_ids`: the groups a member invite was made for (SPEC §10: invite rows take
//! `group_ids`), a JSON array like the invite's `products`, read back whole with the invite and
//! never filtered on. The invited user joins those groups when the invite is made (the user
//! exists from then on, `invited`); the column keeps what the invite asked for. The groups are
//! checked by the use case (live, below the root, managed by the inviter) and are never deleted
//! for good (a group is soft-deleted), so the column holds no foreign key. Existing invites
//! were made for no group: `[]`.

use sea_orm_migration::prelude::*;

use super::ddl;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &["ALTER TABLE invites ADD COLUMN group_ids {json} NOT NULL DEFAULT '[]'"];

const DOWN: &[&str] = &["ALTER TABLE invites DROP COLUMN group_ids"];

ddl::migration!(up: UP, down: DOWN);
