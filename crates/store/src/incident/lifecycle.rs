//! Declaring incidents and moving them through acknowledge, resolve and reopen.

use super::*;

impl Db {
    /// Declares an incident by hand.
    pub async fn declare_incident(&self, actor: &Actor, now: DateTime<Utc>, d: Declare) -> StoreResult<Incident> {
        let id = Uuid::now_v7();
        let ms = now.timestamp_millis();
        let start = d.impact_start_at.map(|t| t.timestamp_millis().min(ms)).unwrap_or(ms);
        let backend = self.backend();
        write_tx!(self, |tx| {
            tx.lock_alerts().await?;
            let number: i64 = sqlx::query_scalar(
                "UPDATE revisions SET value = value + 1 WHERE name = 'incident_number' \
                 RETURNING value",
            )
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO incidents (id, number, title, description, status, severity, \
                 service_id, source, alert_count, open_alerts, impact_start_at, detected_at, \
                 last_alert_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'triggered', $5, $6, 'manual', 0, 0, $7, $8, $8, $8, $8)",
            )
            .bind(id)
            .bind(number)
            .bind(&d.title)
            .bind(&d.description)
            .bind(d.severity.as_str())
            .bind(d.service_id)
            .bind(start)
            .bind(ms)
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO incident_services (incident_id, service_id) VALUES ($1, $2)")
                .bind(id)
                .bind(d.service_id)
                .execute(&mut *tx)
                .await?;
            let mut declared = format!("Declared by {}: {}", actor.label, d.title);
            if let Some((ticket, version, key)) = &d.from_ticket {
                let done = sqlx::query(
                    "UPDATE tickets SET incident_id = $1, version = version + 1, updated_at = $2 \
                     WHERE id = $3 AND version = $4",
                )
                .bind(id)
                .bind(ms)
                .bind(*ticket)
                .bind(*version)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(crate::StoreError::Conflict(format!(
                        "{key} was changed by someone else since you loaded it; reload it"
                    )));
                }
                declared.push_str(&format!(" (raised from ticket {key})"));
            }
            insert_timeline!(tx, backend, vec![entry(id, ms, kind::CREATED, actor, declared)]);
            crate::oncall::start_escalation!(tx, id, ms);
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "incident.declare",
                    "incident",
                    Some(id),
                    format!("Declared {}: {}", incident::display_number(number), d.title)
                )
            );
        });
        self.get_incident(id).await
    }

    /// Acknowledge, resolve or reopen, with the alerts following along.
    pub async fn move_incident(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        m: Move,
        note: Option<&str>,
    ) -> StoreResult<Incident> {
        let ms = now.timestamp_millis();
        let backend = self.backend();
        write_tx!(self, |tx| {
            tx.lock_alerts().await?;
            let cur: Option<(String, i64)> = sqlx::query_as("SELECT status, number FROM incidents WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let (cur, number) = cur.ok_or(StoreError::NotFound(Entity::Incident))?;
            let from = Status::parse(&cur).unwrap_or(Status::Triggered);
            let to = incident::transition(from, m)?;
            let (verb, action) = match m {
                Move::Acknowledge => {
                    sqlx::query(
                        "UPDATE incidents SET status = $1, acknowledged_at = COALESCE(acknowledged_at, $2), \
                         assignee_id = COALESCE(assignee_id, $4), updated_at = $2 WHERE id = $3",
                    )
                    .bind(to.as_str())
                    .bind(ms)
                    .bind(id)
                    // Whoever acknowledges owns it, unless someone already does.
                    .bind(actor.user_id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE alerts SET status = 'acknowledged', acknowledged_at = $1 \
                         WHERE incident_id = $2 AND status = 'firing'",
                    )
                    .bind(ms)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    crate::oncall::stop_escalation!(tx, id);
                    ("Acknowledged", "incident.acknowledge")
                }
                Move::Resolve => {
                    sqlx::query(
                        "UPDATE incidents SET status = $1, resolved_at = $2, mitigated_at = \
                         COALESCE(mitigated_at, $2), snoozed_until = NULL, hold_until = NULL, open_alerts = 0, \
                         updated_at = $2 \
                         WHERE id = $3",
                    )
                    .bind(to.as_str())
                    .bind(ms)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE alerts SET status = 'resolved', resolved_at = $1, expires_at = NULL \
                         WHERE incident_id = $2 AND status <> 'resolved'",
                    )
                    .bind(ms)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    crate::oncall::stop_escalation!(tx, id);
                    ("Resolved", "incident.resolve")
                }
                Move::Reopen => {
                    sqlx::query(
                        "UPDATE incidents SET status = $1, resolved_at = NULL, hold_until = NULL, updated_at = $2 \
                         WHERE id = $3",
                    )
                    .bind(to.as_str())
                    .bind(ms)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    crate::oncall::start_escalation!(tx, id, ms);
                    ("Reopened", "incident.reopen")
                }
            };
            let mut body = format!("{verb} by {}", actor.label);
            if let Some(n) = note.map(str::trim).filter(|n| !n.is_empty()) {
                body.push_str(": ");
                body.push_str(n);
            }
            insert_timeline!(tx, backend, vec![entry(id, ms, kind::STATUS, actor, body)]);
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(action, "incident", Some(id), format!("{verb} {}", incident::display_number(number)))
            );
        });
        self.get_incident(id).await
    }
}
