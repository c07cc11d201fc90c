//! `opsdeck migrate-db --from sqlite://… --to postgres://…`: moves a SQLite database to
//! PostgreSQL, all of it or nothing (one transaction on the target).

use anyhow::{Context, Result, bail};
use opsdeck_store::{ConnectOptions, Db};

/// The URL without its user, password or query (which may hold a password), for messages.
fn shown(url: &str) -> String {
    let url = url.split('?').next().unwrap_or(url);
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, host))) => format!("{scheme}://…@{host}"),
        _ => url.to_owned(),
    }
}

pub async fn run(from: &str, to: &str) -> Result<()> {
    let Some(path) = from.strip_prefix("sqlite://").or_else(|| from.strip_prefix("sqlite:")) else {
        bail!("--from must be a SQLite URL, e.g. sqlite://./opsdeck-data/opsdeck.db");
    };
    let file = path.split('?').next().unwrap_or(path);
    if !std::path::Path::new(file).is_file() {
        bail!("there is no SQLite database at {file}: nothing to move");
    }
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        bail!("--to must be a PostgreSQL URL, e.g. postgres://opsdeck:PASSWORD@db.example.com:5432/opsdeck");
    }
    let src = Db::connect(&ConnectOptions::new(from)).await.context("cannot open the SQLite database (--from)")?;
    let dst = Db::connect(&ConnectOptions::new(to)).await.context("cannot reach the PostgreSQL database (--to)")?;
    let started = std::time::Instant::now();
    let outcome = opsdeck_store::copy::copy_sqlite_to_postgres(&src, &dst, |table, rows| {
        if rows > 0 {
            println!("{table:<32} {rows:>10} rows");
        }
    })
    .await;
    src.close().await;
    dst.close().await;
    let report = outcome.context("nothing was copied")?;
    let rows: u64 = report.tables.iter().map(|(_, n)| n).sum();
    println!(
        "moved {rows} rows in {} tables to {} in {:.1} s; start the server with --database-url pointing there",
        report.tables.len(),
        shown(to),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(super::shown("postgres://u:secret@db:5432/o"), "postgres://…@db:5432/o");
        assert_eq!(super::shown("postgres://db/o"), "postgres://db/o");
        assert_eq!(super::shown("postgres://db/o?password=secret"), "postgres://db/o");
    }
}
