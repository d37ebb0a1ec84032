//! A world for the mailer tests: `Services` on the in-memory store with a manual clock, an
//! organization, and invitations queued through the real use case; plus reading a message back
//! with `mailparse`, a MIME parser independent of lettre.

#![allow(dead_code, reason = "shared by several test binaries, each using part of it")]

use std::sync::Arc;

use mailparse::{MailHeaderMap as _, ParsedMail};
use roster_adapters_mail::{Composer, PublicUrl, Sender};
use roster_domain::Services;
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::ids::MailId;
use roster_domain::mail::{DeliveryState, MailKind, OutgoingMail};
use roster_domain::org::OrgSettings;
use roster_domain::services::{InviteRow, NewOrganization};
use roster_domain::values::{Email, Key, Label, PersonName, Slug};
use roster_testkit::{FakeHasher, InMemoryStore, ManualClock, SequentialIds};
use time::OffsetDateTime;
use time::macros::datetime;

pub const T0: OffsetDateTime = datetime!(2026-03-03 8:00 UTC);
pub const PUBLIC_URL: &str = "https://roster.example.com";
pub const FROM: &str = "Roster <roster@acme.test>";

pub struct World {
    pub services: Services,
    pub store: InMemoryStore,
    pub clock: ManualClock,
    pub operator: Actor,
}

/// An organization named `org_name` with nobody invited yet.
pub async fn world(org_name: &str) -> World {
    let store = InMemoryStore::new();
    let clock = ManualClock::new(T0);
    let services = Services::new(
        Arc::new(store.clone()),
        Arc::new(clock.clone()),
        Arc::new(SequentialIds::new()),
        Arc::new(FakeHasher),
    );
    let org = services
        .create_organization(
            Source::Cli,
            NewOrganization {
                name: Label::parse(org_name).expect("a valid name"),
                slug: Slug::parse("acme").expect("a valid slug"),
                trial_ends_at: None,
                settings: OrgSettings { auto_signup: false, default_seat_limit: 1000, ..OrgSettings::default() },
            },
        )
        .await
        .expect("creates the organization");
    let operator = Actor::system(org.id, Source::Cli);
    World { services, store, clock, operator }
}

impl World {
    /// Invites `name <email>` with the `standard` role and Core; the queued message.
    pub async fn invite(&self, name: &str, email: &str) -> OutgoingMail {
        let row = InviteRow {
            name: PersonName::parse(name).expect("a valid name"),
            email: Email::parse(email).expect("a valid address"),
            roles: vec![Key::parse("standard").expect("a key")],
            products: [Key::parse("core").expect("a key")].into(),
            group_ids: Vec::new(),
        };
        self.services.invite_members(&self.operator, vec![row], false).await.expect("invites");
        let outbox = self.store.snapshot().await.outbox;
        outbox.into_iter().rev().find(|m| m.to.as_str() == email).expect("an invitation was queued")
    }

    pub async fn delivery(&self, id: MailId) -> DeliveryState {
        self.store.snapshot().await.deliveries.get(&id).cloned().expect("a queued message")
    }
}

pub fn composer() -> Composer {
    Composer::new(Sender::parse(FROM).expect("a sender"), PublicUrl::parse(PUBLIC_URL).expect("a URL"))
}

/// The token of an invitation.
pub fn token(mail: &OutgoingMail) -> &str {
    match &mail.kind {
        MailKind::Invitation { token, .. } => token,
        other => panic!("not an invitation: {other:?}"),
    }
}

/// A message read back: its headers and both parts, checked to be the shape every Roster
/// message has (multipart/alternative: text/plain then text/html).
#[derive(Debug)]
pub struct ReadBack {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub date: String,
    pub text: String,
    pub html: String,
}

pub fn read_back(raw: &[u8]) -> ReadBack {
    let parsed = mailparse::parse_mail(raw).expect("an RFC 5322 message");
    assert_eq!(parsed.ctype.mimetype, "multipart/alternative");
    assert_eq!(parsed.subparts.len(), 2, "a plain text and an HTML part");
    let part = |i: usize, mime: &str| -> String {
        let p: &ParsedMail<'_> = &parsed.subparts[i];
        assert_eq!(p.ctype.mimetype, mime);
        assert_eq!(p.ctype.charset.to_ascii_lowercase(), "utf-8");
        p.get_body().expect("a decodable body")
    };
    let header = |name: &str| parsed.headers.get_first_value(name).unwrap_or_else(|| panic!("a {name} header"));
    ReadBack {
        from: header("From"),
        to: header("To"),
        subject: header("Subject"),
        message_id: header("Message-ID"),
        date: header("Date"),
        text: part(0, "text/plain"),
        html: part(1, "text/html"),
    }
}
