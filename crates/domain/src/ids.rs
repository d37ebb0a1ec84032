//! Typed identifiers. Each entity has its own id type so that a `GroupId` can never be passed
//! where a `UserId` is expected. Ids are UUIDs handed out by the `IdGenerator` port.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Implemented by every id type, so services can mint any of them from the `IdGenerator`.
pub trait Identifier: Sized {
    /// Wraps a UUID as this id; any UUID is a valid id of any type.
    fn from_uuid(uuid: Uuid) -> Self;
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps a UUID handed out by the `IdGenerator` port or read back from storage.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID behind this id, for adapters that store it.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Identifier for $name {
            fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// An organization (tenant).
    OrgId
);
id_type!(
    /// A member of an organization.
    UserId
);
id_type!(
    /// A group of the three-level tree (§6).
    GroupId
);
id_type!(
    /// A role, built-in or custom (§5).
    RoleId
);
id_type!(
    /// A connection: a record a member invited (§7).
    ConnectionId
);
id_type!(
    /// A flow that can be assigned to groups (§7.3).
    FlowId
);
id_type!(
    /// An API key (§7.4).
    ApiKeyId
);
id_type!(
    /// A pending member invite (§8.1).
    InviteId
);
id_type!(
    /// An audit event (§9).
    AuditEventId
);
id_type!(
    /// A message in the outbox (§8.4).
    MailId
);
id_type!(
    /// A scheduled lifecycle change (§3.1).
    ScheduledChangeId
);
id_type!(
    /// A job: long work kept in the database (§10).
    JobId
);
id_type!(
    /// A webhook endpoint (§9.1).
    WebhookId
);
id_type!(
    /// One event handed to one webhook endpoint: a row of the delivery log (§9.1).
    WebhookDeliveryId
);
id_type!(
    /// An admin's saved view of the Users table (§10).
    SavedViewId
);
