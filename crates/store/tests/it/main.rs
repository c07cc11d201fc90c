//! Store tests: each runs on SQLite and on PostgreSQL (`OPSDECK_TEST_POSTGRES_URL`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly on purpose

mod budgets;
mod monitors;
mod pipeline;
mod schema;
mod story;
mod vendor_leases;

use opsdeck_store::{ConnectOptions, Db};

pub const POSTGRES_ENV: &str = "OPSDECK_TEST_POSTGRES_URL";

/// A migrated database on a fresh SQLite file or a fresh PostgreSQL database.
pub struct Fresh {
    pub db: Db,
    _dir: Option<tempfile::TempDir>,
}

pub async fn sqlite() -> Fresh {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let db = Db::connect(&ConnectOptions::new(url)).await.unwrap();
    db.migrate().await.unwrap();
    Fresh { db, _dir: Some(dir) }
}

pub async fn postgres() -> Fresh {
    let base = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| {
        panic!("{POSTGRES_ENV} is not set: run scripts/test.sh, which starts a private PostgreSQL")
    });
    let admin = Db::connect(&ConnectOptions::new(&base)).await.unwrap();
    let name = format!("opsdeck_store_{}", uuid::Uuid::now_v7().simple());
    if let Db::Postgres(pool) = &admin {
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(pool).await.unwrap();
    }
    admin.close().await;
    let root = base.rsplit_once('/').map(|(r, _)| r.to_owned()).unwrap();
    let db = Db::connect(&ConnectOptions::new(format!("{root}/{name}"))).await.unwrap();
    db.migrate().await.unwrap();
    Fresh { db, _dir: None }
}

/// One test per backend for each `async fn case(db: &Db)`.
macro_rules! both {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test]
                async fn sqlite() { let f = crate::sqlite().await; super::$case(&f.db).await; }
                #[tokio::test]
                async fn postgres() { let f = crate::postgres().await; super::$case(&f.db).await; }
            }
        )*
    };
}
pub(crate) use both;
