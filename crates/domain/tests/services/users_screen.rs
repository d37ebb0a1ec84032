//! The console's Users page in one read: cursor pages both ways, the last page of the grid, and
//! the total kept under the organization's event position.

use roster_domain::ports::Store as _;
use roster_domain::services::TOTAL_KEPT_FOR;
use roster_domain::users_query::{UserPaging, UserQuery};
use time::Duration;

use crate::support::World;

fn names(screen: &roster_domain::services::UsersScreen) -> Vec<String> {
    screen.page.items.iter().map(|u| u.user.first_name.as_str().to_owned()).collect()
}

#[tokio::test]
async fn pages_walk_both_ways_and_the_last_page_is_the_grids() {
    let w = World::new().await;
    for i in 0..12 {
        w.member(&format!("m{i:02}"), &["standard"], &[]).await;
    }
    let admin = w.admin_actor().await;
    let mut query = UserQuery::new(w.org.id);
    query.paging = Some(UserPaging::Cursor { after: None, limit: 5 });
    let first = w.services.users_screen(&admin, query.clone()).await.expect("reads");
    assert_eq!(first.total, 13, "the admin and twelve members");
    assert_eq!(first.page.items.len(), 5);
    assert!(first.page.previous_cursor.is_none() && first.page.next_cursor.is_some());
    assert!(!first.roles.is_empty() && first.catalog.products().count() > 0);

    query.paging = Some(UserPaging::Before { before: None, limit: 5 });
    let last = w.services.users_screen(&admin, query.clone()).await.expect("reads");
    assert_eq!(last.page.items.len(), 3, "13 rows in pages of 5: the last holds 3");
    assert!(last.page.next_cursor.is_none() && last.page.previous_cursor.is_some());

    query.paging = Some(UserPaging::Before { before: last.page.previous_cursor.clone(), limit: 5 });
    let middle = w.services.users_screen(&admin, query.clone()).await.expect("reads");
    query.paging = Some(UserPaging::Cursor { after: first.page.next_cursor.clone(), limit: 5 });
    let second = w.services.users_screen(&admin, query).await.expect("reads");
    assert_eq!(names(&middle), names(&second), "walking back meets the page walked forward");
}

#[tokio::test]
async fn the_total_is_kept_until_an_event_or_its_time_is_up() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let admin = w.admin_actor().await;
    let total = || async { w.services.users_screen(&admin, UserQuery::new(w.org.id)).await.expect("reads").total };
    assert_eq!(total().await, 2);

    // A user written past the services records no event: the kept total stands, until its time
    // is up.
    let mut tx = w.store.begin().await.expect("begins");
    let mut copy = tx.user(w.org.id, ann).await.expect("reads").expect("ann");
    copy.id = roster_domain::ids::UserId::from_uuid(uuid::Uuid::from_u128(0xC0FFEE));
    copy.email = w.email("copy");
    tx.insert_user(&copy).await.expect("inserts");
    tx.commit().await.expect("commits");
    assert_eq!(total().await, 2, "kept under the same event position");
    w.clock.advance(TOTAL_KEPT_FOR + Duration::seconds(1));
    assert_eq!(total().await, 3, "counted again once its time is up");

    // A change through the services commits an event: counted again at once.
    w.member("bob", &["standard"], &[]).await;
    assert_eq!(total().await, 4);
}
