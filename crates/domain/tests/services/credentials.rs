//! Checking a password as a test does: a login from the tests' own address, answering the member.

use roster_domain::audit::Source;
use roster_domain::error::ServiceResult;
use roster_domain::services::{LoginAttempt, Services};
use roster_domain::user::User;
use roster_domain::values::{Email, Password, Slug};

/// The source address of every login these tests make.
pub const TEST_ADDRESS: &str = "192.0.2.1";

/// Logs `email` of `org` in with `password` from [`TEST_ADDRESS`]; answers the member.
pub async fn log_in(
    services: &Services,
    org: &Slug,
    email: &Email,
    password: &Password,
    source: Source,
) -> ServiceResult<User> {
    let attempt = LoginAttempt {
        org: org.clone(),
        email: email.clone(),
        password: password.clone(),
        address: TEST_ADDRESS.to_owned(),
        source,
    };
    Ok(services.log_in(&attempt).await?.user)
}
