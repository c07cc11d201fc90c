//! Who may read a status page: its password and the teams whose members may.

use crate::audit::{audit, bump};
use crate::status_page::{STATUS_PAGES, StatusPage};
use crate::{Db, StoreResult, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::audit::{Actor, AuditRecord};
use uuid::Uuid;

impl Db {
    /// Sets who may read a page: a password (its argon2id hash; `Some(None)` removes it) and the
    /// teams whose signed-in members may (`Some(&[])`: none). `None` leaves either as it is. A
    /// page with neither is public.
    pub async fn set_status_page_access(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        page: &StatusPage,
        password_hash: Option<Option<&str>>,
        team_ids: Option<&[Uuid]>,
    ) -> StoreResult<()> {
        write_tx!(self, |tx| {
            if let Some(hash) = password_hash {
                sqlx::query("UPDATE status_pages SET password_hash = $1 WHERE id = $2")
                    .bind(hash)
                    .bind(page.id)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(teams) = team_ids {
                sqlx::query("DELETE FROM status_page_teams WHERE page_id = $1").bind(page.id).execute(&mut *tx).await?;
                for t in teams {
                    let found: Option<Uuid> = sqlx::query_scalar("SELECT id FROM teams WHERE id = $1")
                        .bind(*t)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if found.is_none() {
                        return Err(opsdeck_core::Error::invalid("team_ids", format!("no team has id {t}")).into());
                    }
                    sqlx::query(
                        "INSERT INTO status_page_teams (page_id, team_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    )
                    .bind(page.id)
                    .bind(*t)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            sqlx::query("UPDATE status_pages SET updated_at = $1 WHERE id = $2")
                .bind(now.timestamp_millis())
                .bind(page.id)
                .execute(&mut *tx)
                .await?;
            let password = match password_hash {
                Some(h) => h.is_some(),
                None => page.password_hash.is_some(),
            };
            let teams = team_ids.map_or(page.viewer_team_ids.len(), <[Uuid]>::len);
            let summary = match (password, teams) {
                (false, 0) => format!("Made status page {} public", page.slug),
                (true, 0) => format!("Made status page {} private (password)", page.slug),
                (false, n) => format!("Made status page {} private (members of {n} team(s))", page.slug),
                (true, n) => format!("Made status page {} private (password, or members of {n} team(s))", page.slug),
            };
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("status_page.access", "status_page", Some(page.id), summary)
                    .after(serde_json::json!({"password": password, "team_ids": team_ids}))
            );
            bump!(tx, STATUS_PAGES);
        });
        Ok(())
    }
}
