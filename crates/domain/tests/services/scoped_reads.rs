//! A scoped administrator reads only the users their scope covers (§5, ADR 0028): the Users
//! list and its total, a user by id (`not_found` outside), the export by ids; an org-wide
//! admin reads everyone, a member always reads themself.

use std::collections::BTreeSet;

use roster_domain::ErrorCode;
use roster_domain::ids::UserId;
use roster_domain::users_query::{UserPaging, UserQuery};

use crate::support::{World, failure};

#[tokio::test]
async fn a_scoped_admin_lists_gets_and_exports_only_the_users_of_their_subtree() {
    let w = World::new().await;
    let (sales, east, support) = w.sales_east_support().await;
    let boss = w.member("boss", &["standard"], &[sales]).await;
    w.scope_admin(boss, sales).await;
    let scoped = w.actor(boss).await;
    let inside = w.member("inside", &["standard"], &[east]).await;
    let straddling = w.member("straddling", &["standard"], &[east, support]).await;
    let outside = w.member("outside", &["standard"], &[support]).await;
    let ungrouped = w.member("ungrouped", &["standard"], &[]).await;

    let ids = |items: Vec<roster_domain::services::UserDetails>| -> BTreeSet<UserId> {
        items.into_iter().map(|d| d.user.id).collect()
    };
    let mut query = UserQuery::new(w.org.id);
    query.within = None;
    let listed = w.services.list_users(&scoped, query.clone()).await.expect("lists").items;
    assert_eq!(ids(listed), BTreeSet::from([boss, inside]));
    query.paging = Some(UserPaging::Page { page: 1, per_page: 10 });
    assert_eq!(w.services.list_users(&scoped, query.clone()).await.expect("lists").total, Some(2));
    // A query that claims a wider scope is overruled by the actor's.
    query.within = Some(BTreeSet::from([sales, east, support]));
    assert_eq!(w.services.list_users(&scoped, query).await.expect("lists").total, Some(2));

    assert!(w.services.get_user(&scoped, inside).await.is_ok());
    for id in [straddling, outside, ungrouped, w.admin] {
        let err = failure(w.services.get_user(&scoped, id).await);
        assert_eq!(err.code(), ErrorCode::NotFound, "outside the scope reads as absent");
    }
    let exported = w.services.export_users_by_ids(&scoped, &[inside, outside, straddling]).await.expect("exports");
    assert_eq!(ids(exported), BTreeSet::from([inside]));

    // The org-wide admin reads everyone; a member without manage_users reads themself only.
    let admin = w.admin_actor().await;
    assert!(w.services.get_user(&admin, outside).await.is_ok());
    let everyone = ids(w.services.list_users(&admin, UserQuery::new(w.org.id)).await.expect("lists").items);
    assert!(BTreeSet::from([w.admin, boss, inside, straddling, outside, ungrouped]).is_subset(&everyone));
    let plain = w.actor(outside).await;
    assert!(w.services.get_user(&plain, outside).await.is_ok());
    assert_eq!(failure(w.services.get_user(&plain, inside).await).code(), ErrorCode::Forbidden);
}
