use opsdeck_store::dialect::introspect_columns;
use opsdeck_store::{ConnectOptions, Db};

/// The two migration sets must describe the same tables, columns and nullability.
#[tokio::test]
async fn sqlite_and_postgres_schemas_match() {
    let a = crate::sqlite().await;
    let b = crate::postgres().await;
    let lite = introspect_columns(&a.db).await.unwrap();
    let pg = introspect_columns(&b.db).await.unwrap();
    assert!(!lite.is_empty());
    assert_eq!(lite, pg, "migrations/sqlite and migrations/postgres have drifted");
}

#[tokio::test]
async fn migrations_are_idempotent_and_bad_urls_explain_themselves() {
    let f = crate::sqlite().await;
    f.db.migrate().await.unwrap();
    assert!(f.db.ping().await);

    let err = Db::connect(&ConnectOptions::new("mysql://localhost/x")).await.unwrap_err().to_string();
    assert!(err.contains("sqlite://") && err.contains("postgres://"), "{err}");
    let err = Db::connect(&ConnectOptions::new("postgres://nobody@127.0.0.1:1/none")).await.unwrap_err().to_string();
    assert!(err.contains("cannot connect to PostgreSQL at 127.0.0.1:1"), "{err}");
    let err = Db::connect(&ConnectOptions::new("sqlite:///nonexistent-dir/sub/x.db")).await.unwrap_err().to_string();
    assert!(err.contains("cannot open SQLite database"), "{err}");
}

#[tokio::test]
async fn sqlite_is_tuned() {
    let f = crate::sqlite().await;
    let Db::Sqlite(sqlite) = &f.db else { unreachable!() };
    let pool = &sqlite.pool;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(pool).await.unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(pool).await.unwrap();
    assert_eq!(fk, 1);
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(pool).await.unwrap();
    assert_eq!(sync, 2, "FULL: a commit survives power loss");
    let vacuum: i64 = sqlx::query_scalar("PRAGMA auto_vacuum").fetch_one(pool).await.unwrap();
    assert_eq!(vacuum, 2, "INCREMENTAL");
}

#[tokio::test]
async fn sqlite_backup_is_a_consistent_copy() {
    let f = crate::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copy.db");
    opsdeck_store::dialect::backup_to(&f.db, path.to_str().unwrap()).await.unwrap();
    let copy = Db::connect(&ConnectOptions::new(format!("sqlite://{}", path.display()))).await.unwrap();
    copy.migrate().await.unwrap();
    assert_eq!(copy.count_users().await.unwrap(), 0);
    let pg = crate::postgres().await;
    let err = opsdeck_store::dialect::backup_to(&pg.db, "/tmp/x.db").await.unwrap_err().to_string();
    assert!(err.contains("pg_dump"), "{err}");
}
