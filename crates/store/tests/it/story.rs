//! A day in the store's life, on each backend.

use chrono::{Duration, TimeZone, Utc};
use opsdeck_core::audit::Actor;
use opsdeck_core::catalogue::{ServiceInput, ServiceSpec, TeamSpec};
use opsdeck_core::role::Role;
use opsdeck_store::audit::AuditFilter;
use opsdeck_store::catalogue::{Ref, ServiceFilter};
use opsdeck_store::user::{NewUser, UserPatch};
use opsdeck_store::{Db, StoreError};

crate::both!(accounts_sessions_tokens, catalogue_and_audit, first_admin_only_once);

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 29, 0, 30, 0).unwrap()
}

fn new_user(name: &str, role: Role) -> NewUser {
    NewUser { username: name.into(), display_name: name.into(), email: None, role, password_hash: "$argon2id$x".into() }
}

async fn accounts_sessions_tokens(db: &Db) {
    let actor = Actor::system("test");
    let u = db.create_user(&actor, t0(), new_user("ann", Role::Admin)).await.unwrap();
    assert_eq!(db.get_user(u.id).await.unwrap(), u, "round-trips exactly (timestamps at ms)");
    assert!(matches!(db.create_user(&actor, t0(), new_user("ann", Role::Viewer)).await, Err(StoreError::Conflict(_))));

    db.create_session("h1", &u, t0(), t0() + Duration::hours(1)).await.unwrap();
    assert_eq!(db.session_user("h1", t0()).await.unwrap().map(|x| x.id), Some(u.id));
    assert_eq!(db.session_user("h1", t0() + Duration::hours(2)).await.unwrap(), None, "expired");
    assert_eq!(db.purge_expired_sessions(t0() + Duration::hours(2)).await.unwrap(), 1);
    db.create_session("h2", &u, t0(), t0() + Duration::hours(1)).await.unwrap();
    db.delete_session("h2", &u, t0()).await.unwrap();
    assert_eq!(db.session_user("h2", t0()).await.unwrap(), None);
    db.record_failed_login("mallory", None, t0()).await.unwrap();
    let sessions = db.list_audit(&AuditFilter { action: Some("session.".into()), ..Default::default() }).await.unwrap();
    let actions: Vec<&str> = sessions.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["session.login_failed", "session.logout", "session.login", "session.login"]);

    let tok = db.create_token(&actor, t0(), u.id, "ci", "digest-1", "opsd_abc", Some(Role::Viewer)).await.unwrap();
    let (owner, found) = db.token_user("digest-1", t0()).await.unwrap().unwrap();
    assert_eq!(owner.id, u.id);
    assert_eq!(found.role, Some(Role::Viewer));
    assert_eq!(db.get_token(tok.id).await.unwrap().last_used_at, Some(t0()));
    db.revoke_token(&actor, t0(), tok.id).await.unwrap();
    assert!(db.token_user("digest-1", t0()).await.unwrap().is_none());

    // The last admin is protected; a second one lifts the protection.
    let demote = UserPatch { role: Some(Role::Viewer), ..Default::default() };
    assert!(matches!(db.update_user(&actor, t0(), u.id, demote.clone()).await, Err(StoreError::Conflict(_))));
    db.create_user(&actor, t0(), new_user("ben", Role::Admin)).await.unwrap();
    assert_eq!(db.update_user(&actor, t0(), u.id, demote).await.unwrap().role, Role::Viewer);

    let page = db.list_users(None, None, Some(1)).await.unwrap();
    assert_eq!(page.items.len(), 1);
    let next = opsdeck_store::Cursor::decode(page.next_cursor.as_deref().unwrap()).unwrap();
    let page2 = db.list_users(None, Some(&next), Some(1)).await.unwrap();
    assert_eq!(page2.items[0].username, "ben");
    assert!(page2.next_cursor.is_none());
}

async fn catalogue_and_audit(db: &Db) {
    let actor = Actor::system("test");
    let team = db.create_team(&actor, t0(), TeamSpec::new("Platform", None, None).unwrap()).await.unwrap();
    let spec = |name: &str| {
        ServiceSpec::create(ServiceInput {
            name: Some(name.into()),
            team_id: Some(Some(team.id)),
            tags: Some(vec!["prod".into()]),
            ..Default::default()
        })
        .unwrap()
    };
    let a = db.create_service(&actor, t0(), spec("Alpha")).await.unwrap();
    let b = db.create_service(&actor, t0(), spec("Beta")).await.unwrap();
    assert!(matches!(db.create_service(&actor, t0(), spec("Alpha")).await, Err(StoreError::Conflict(_))));
    let view = db.get_service(Ref::Slug("alpha")).await.unwrap();
    assert_eq!(view.service, a);
    assert_eq!(view.team_name.as_deref(), Some("Platform"));

    db.add_dependency(&actor, t0(), a.id, b.id).await.unwrap();
    assert!(matches!(db.add_dependency(&actor, t0(), b.id, a.id).await, Err(StoreError::Conflict(_))));
    let (up, down) = db.service_dependencies(b.id).await.unwrap();
    assert!(up.is_empty());
    assert_eq!(down[0].service.id, a.id);
    assert_eq!(db.service_counts_by_team().await.unwrap().get(&team.id), Some(&2));

    let list = db.list_services(&ServiceFilter { q: Some("ALP".into()), ..Default::default() }).await.unwrap();
    assert_eq!(list.items.len(), 1);

    db.delete_team(&actor, t0(), team.id).await.unwrap();
    assert_eq!(db.get_service(Ref::Id(a.id)).await.unwrap().service.team_id, None);
    db.delete_service(&actor, t0(), b.id).await.unwrap();
    assert!(db.service_dependencies(a.id).await.unwrap().0.is_empty());

    let log = db.list_audit(&AuditFilter::default()).await.unwrap();
    let actions: Vec<&str> = log.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["service.delete", "team.delete", "service.dependency_add", "service.create", "service.create", "team.create"]
    );
}

async fn first_admin_only_once(db: &Db) {
    let first = db.create_first_admin(t0(), new_user("root", Role::Viewer)).await.unwrap().unwrap();
    assert_eq!(first.role, Role::Admin, "setup always makes an admin");
    assert!(db.create_first_admin(t0(), new_user("other", Role::Admin)).await.unwrap().is_none());
    assert_eq!(db.count_users().await.unwrap(), 1);
}
