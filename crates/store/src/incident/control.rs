//! Snooze, escalate and merge.

use super::*;

impl Db {
    /// Snoozes an incident until `until`: it counts as acknowledged meanwhile, then triggers again.
    pub async fn snooze_incident(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        until: DateTime<Utc>,
    ) -> StoreResult<Incident> {
        let ms = now.timestamp_millis();
        let backend = self.backend();
        let inc = self.get_incident(id).await?;
        write_tx!(self, |tx| {
            tx.lock_alerts().await?;
            // The state is checked by the update itself: a resolve that committed since the read
            // above is never overwritten.
            let n = sqlx::query(
                "UPDATE incidents SET status = 'acknowledged', acknowledged_at = COALESCE(acknowledged_at, $1), \
                         snoozed_until = $2, updated_at = $1 WHERE id = $3 AND status <> 'resolved'",
            )
            .bind(ms)
            .bind(until.timestamp_millis())
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(StoreError::Conflict("a resolved incident cannot be snoozed".into()));
            }
            crate::oncall::stop_escalation!(tx, id);
            insert_timeline!(
                tx,
                backend,
                vec![entry(
                    id,
                    ms,
                    kind::SNOOZED,
                    actor,
                    format!("Snoozed by {} until {}", actor.label, until.format("%Y-%m-%d %H:%M UTC"))
                )]
            );
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "incident.snooze",
                    "incident",
                    Some(id),
                    format!("Snoozed {}", incident::display_number(inc.number))
                )
            );
        });
        self.get_incident(id).await
    }

    /// Escalates: an acknowledged incident goes back to triggered so the next responders are
    /// paged, and the timeline records who escalated and why.
    pub async fn escalate_incident(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        reason: Option<&str>,
    ) -> StoreResult<Incident> {
        let ms = now.timestamp_millis();
        let backend = self.backend();
        let inc = self.get_incident(id).await?;
        write_tx!(self, |tx| {
            tx.lock_alerts().await?;
            let n = sqlx::query(
                "UPDATE incidents SET status = 'triggered', snoozed_until = NULL, updated_at = $1 \
                 WHERE id = $2 AND status <> 'resolved'",
            )
            .bind(ms)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(StoreError::Conflict("a resolved incident cannot be escalated; reopen it first".into()));
            }
            // A running escalation moves to its next level now; a stopped one starts over.
            let moved = sqlx::query(
                "UPDATE escalations SET next_at = $1, lease_owner = NULL, lease_until = NULL \
                 WHERE incident_id = $2",
            )
            .bind(ms)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved == 0 {
                crate::oncall::start_escalation!(tx, id, ms);
            }
            let mut body = format!("Escalated by {}", actor.label);
            if let Some(r) = reason.map(str::trim).filter(|r| !r.is_empty()) {
                body.push_str(": ");
                body.push_str(r);
            }
            insert_timeline!(tx, backend, vec![entry(id, ms, kind::ESCALATED, actor, body)]);
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "incident.escalate",
                    "incident",
                    Some(id),
                    format!("Escalated {}", incident::display_number(inc.number))
                )
            );
        });
        self.get_incident(id).await
    }

    /// Merges `source` into `target`: its alerts and services move over, and `source` is
    /// resolved as merged.
    pub async fn merge_incidents(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        target: Uuid,
        source: Uuid,
    ) -> StoreResult<Incident> {
        if target == source {
            return Err(opsdeck_core::Error::invalid("source_id", "an incident cannot be merged into itself").into());
        }
        let t = self.get_incident(target).await?;
        let s = self.get_incident(source).await?;
        let ms = now.timestamp_millis();
        let backend = self.backend();
        write_tx!(self, |tx| {
            tx.lock_alerts().await?;
            // Checked under the alert lock, so two crossed merges (A into B, B into A) cannot both
            // pass: the second sees its target resolved as merged.
            let state = |id: Uuid| {
                sqlx::query_as::<_, (String, Option<Uuid>)>("SELECT status, merged_into FROM incidents WHERE id = $1")
                    .bind(id)
            };
            let (_, source_merged) = state(source).fetch_one(&mut *tx).await?;
            if source_merged.is_some() {
                return Err(StoreError::Conflict(format!("{} was already merged", incident::display_number(s.number))));
            }
            let (target_status, _) = state(target).fetch_one(&mut *tx).await?;
            if target_status == "resolved" {
                return Err(StoreError::Conflict("merge into an open incident; reopen the target first".into()));
            }
            sqlx::query("UPDATE alerts SET incident_id = $1 WHERE incident_id = $2")
                .bind(target)
                .bind(source)
                .execute(&mut *tx)
                .await?;
            let open: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM alerts WHERE incident_id = $1 AND status <> 'resolved'")
                    .bind(target)
                    .fetch_one(&mut *tx)
                    .await?;
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM alerts WHERE incident_id = $1")
                .bind(target)
                .fetch_one(&mut *tx)
                .await?;
            let sev = t.severity.min(s.severity);
            sqlx::query(
                "UPDATE incidents SET alert_count = $1, open_alerts = $2, severity = $3, \
                 impact_start_at = CASE WHEN impact_start_at < $4 THEN impact_start_at ELSE $4 END, \
                 updated_at = $5 WHERE id = $6",
            )
            .bind(total)
            .bind(open)
            .bind(sev.as_str())
            .bind(s.impact_start_at.timestamp_millis())
            .bind(ms)
            .bind(target)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE incidents SET status = 'resolved', resolved_at = COALESCE(resolved_at, $1), merged_into = $2, \
                         open_alerts = 0, snoozed_until = NULL, updated_at = $1 WHERE id = $3",
            )
            .bind(ms)
            .bind(target)
            .bind(source)
            .execute(&mut *tx)
            .await?;
            crate::oncall::stop_escalation!(tx, source);
            sqlx::query(
                "INSERT INTO incident_services (incident_id, service_id) SELECT $1, service_id FROM incident_services \
                         WHERE incident_id = $2 ON CONFLICT DO NOTHING",
            )
            .bind(target)
            .bind(source)
            .execute(&mut *tx)
            .await?;
            insert_timeline!(
                tx,
                backend,
                vec![
                    entry(
                        target,
                        ms,
                        kind::MERGED,
                        actor,
                        format!(
                            "{} merged into this incident by {} ({} alerts moved)",
                            incident::display_number(s.number),
                            actor.label,
                            s.alert_count
                        )
                    ),
                    entry(
                        source,
                        ms,
                        kind::MERGED,
                        actor,
                        format!("Merged into {} by {}", incident::display_number(t.number), actor.label)
                    ),
                ]
            );
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "incident.merge",
                    "incident",
                    Some(target),
                    format!(
                        "Merged {} into {}",
                        incident::display_number(s.number),
                        incident::display_number(t.number)
                    )
                )
            );
        });
        self.get_incident(target).await
    }
}
