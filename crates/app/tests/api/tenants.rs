//! Extra organizations and members with a given role, made through the domain's services (the
//! operator's door), for the isolation and permission tests.

use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::org::OrgSettings;
use roster_domain::services::{NewAdmin, NewOrganization, RoleAssignment};
use roster_domain::values::{Email, Key, Label, Password, PersonName, Slug};

use crate::helpers::{ADMIN_PASSWORD, TestApp};

/// A second organization `slug` with its admin `boss@<slug>.example`; the admin's token.
pub async fn other_org(app: &TestApp, slug: &str) -> String {
    let org = NewOrganization {
        name: Label::parse(slug).expect("a label"),
        slug: Slug::parse(slug).expect("a slug"),
        trial_ends_at: None,
        settings: OrgSettings::default(),
    };
    app.services.create_organization(Source::Cli, org).await.expect("creates the organization");
    let email = format!("boss@{slug}.example");
    member(app, slug, &email, "admin").await.0
}

/// A member of `org` holding only `role`, with the test password; their token and id.
pub async fn member(app: &TestApp, org: &str, email: &str, role: &str) -> (String, String) {
    let slug = Slug::parse(org).expect("a slug");
    let admin = NewAdmin {
        org: slug.clone(),
        email: Email::parse(email).expect("an email"),
        first_name: PersonName::parse("Member").expect("a name"),
        last_name: PersonName::parse(role).expect("a name"),
        password: Password::parse(ADMIN_PASSWORD).expect("a password"),
    };
    let created = app.services.create_admin(Source::Cli, admin).await.expect("creates the member");
    if role != "admin" {
        let organization = app.services.organization_by_slug(&slug).await.expect("the organization");
        let operator = Actor::system(organization.id, Source::Cli);
        let roles = vec![RoleAssignment::org_wide(Key::parse(role).expect("a role key"))];
        app.services.set_roles(&operator, created.user.id, roles, None).await.expect("sets the role");
    }
    let token = app.login_to(org, email, ADMIN_PASSWORD).await;
    (token, created.user.id.to_string())
}
