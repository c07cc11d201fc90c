//! Notes, edits and responders.

use super::*;

impl Db {
    /// Adds a note (`note`) or a stakeholder update (`status_update`) to the timeline.
    pub async fn add_incident_note(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        status_update: bool,
        body: &str,
    ) -> StoreResult<TimelineItem> {
        let ms = now.timestamp_millis();
        let k = if status_update { kind::STATUS_UPDATE } else { kind::NOTE };
        let tid = Uuid::now_v7();
        write_tx!(self, |tx| {
            let n: Option<i64> = sqlx::query_scalar("SELECT number FROM incidents WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let number = n.ok_or(StoreError::NotFound(Entity::Incident))?;
            let what = if status_update { "a status update" } else { "a note" };
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "incident.note",
                    "incident",
                    Some(id),
                    format!("Added {what} to {}", incident::display_number(number))
                )
            );
            sqlx::query(
                "INSERT INTO incident_timeline (id, incident_id, at, kind, actor, body) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(tid)
            .bind(id)
            .bind(ms)
            .bind(k)
            .bind(&actor.label)
            .bind(body)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE incidents SET updated_at = $1 WHERE id = $2")
                .bind(ms)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        });
        Ok(TimelineItem { id: tid, at: now, kind: k.into(), actor: actor.label.clone(), body: body.to_owned() })
    }

    /// Changes title, description, severity, impact start, mitigation time, assignee or
    /// commander; each change is a timeline entry.
    pub async fn edit_incident(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        e: IncidentEdit,
    ) -> StoreResult<Incident> {
        let before = self.get_incident(id).await?;
        let ms = now.timestamp_millis();
        let backend = self.backend();
        let mut entries = Vec::new();
        let title = e.title.clone().unwrap_or_else(|| before.title.clone());
        if title != before.title {
            entries.push(entry(id, ms, kind::EDITED, actor, format!("Title changed to \u{201c}{title}\u{201d}")));
        }
        let description = e.description.clone().unwrap_or_else(|| before.description.clone());
        let severity = e.severity.unwrap_or(before.severity);
        if severity != before.severity {
            entries.push(entry(
                id,
                ms,
                kind::SEVERITY,
                actor,
                format!("Severity changed from {} to {severity}", before.severity),
            ));
        }
        let impact = e.impact_start_at.unwrap_or(before.impact_start_at);
        if impact != before.impact_start_at {
            entries.push(entry(
                id,
                ms,
                kind::EDITED,
                actor,
                format!("Impact start set to {}", impact.format("%Y-%m-%d %H:%M UTC")),
            ));
        }
        let mitigated = e.mitigated_at.unwrap_or(before.mitigated_at);
        if mitigated != before.mitigated_at {
            let body = match mitigated {
                Some(t) => format!("Mitigated at {}", t.format("%Y-%m-%d %H:%M UTC")),
                None => "Mitigation time cleared".into(),
            };
            entries.push(entry(id, ms, kind::EDITED, actor, body));
        }
        let assignee = e.assignee_id.unwrap_or(before.assignee_id);
        let commander = e.commander_id.unwrap_or(before.commander_id);
        let names = self.usernames(&[assignee, commander]).await?;
        if assignee != before.assignee_id {
            let who = assignee.and_then(|u| names.get(&u).cloned()).unwrap_or_else(|| "nobody".into());
            entries.push(entry(id, ms, kind::ASSIGNED, actor, format!("Assigned to {who}")));
        }
        if commander != before.commander_id {
            let who = commander.and_then(|u| names.get(&u).cloned()).unwrap_or_else(|| "nobody".into());
            entries.push(entry(id, ms, kind::ASSIGNED, actor, format!("Incident commander: {who}")));
        }
        if entries.is_empty() && description == before.description {
            return Ok(before);
        }
        write_tx!(self, |tx| {
            tx.lock_alerts().await?;
            sqlx::query(
                "UPDATE incidents SET title = $1, description = $2, severity = $3, impact_start_at = \
                 $4, mitigated_at = $5, assignee_id = $6, commander_id = $7, updated_at = $8 \
                 WHERE id = $9",
            )
            .bind(&title)
            .bind(&description)
            .bind(severity.as_str())
            .bind(impact.timestamp_millis())
            .bind(mitigated.map(|t| t.timestamp_millis()))
            .bind(assignee)
            .bind(commander)
            .bind(ms)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            for u in [assignee, commander].into_iter().flatten() {
                sqlx::query(
                    "INSERT INTO incident_responders (incident_id, user_id, added_at) \
                     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(u)
                .bind(ms)
                .execute(&mut *tx)
                .await?;
            }
            insert_timeline!(tx, backend, entries);
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "incident.update",
                    "incident",
                    Some(id),
                    format!("Changed {}", incident::display_number(before.number))
                )
            );
        });
        self.get_incident(id).await
    }

    /// Usernames of the given users; any unknown or disabled one is a validation error.
    pub(super) async fn usernames(&self, ids: &[Option<Uuid>]) -> StoreResult<HashMap<Uuid, String>> {
        let wanted: Vec<Uuid> = ids.iter().flatten().copied().collect();
        let found: HashMap<Uuid, String> =
            self.user_names(&wanted).await?.into_iter().map(|(id, username, _)| (id, username)).collect();
        if let Some(missing) = wanted.iter().find(|id| !found.contains_key(id)) {
            return Err(opsdeck_core::Error::invalid("assignee_id", format!("no active user has id {missing}")).into());
        }
        Ok(found)
    }

    /// Responders on an incident: (user id, username).
    pub async fn incident_responders(&self, id: Uuid) -> StoreResult<Vec<(Uuid, String)>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT u.id, u.username FROM incident_responders r JOIN users u ON u.id = r.user_id \
                            WHERE r.incident_id = $1 ORDER BY r.added_at",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn add_responder(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid, user_id: Uuid) -> StoreResult<()> {
        let ms = now.timestamp_millis();
        let backend = self.backend();
        let names = self.usernames(&[Some(user_id)]).await?;
        self.get_incident(id).await?;
        write_tx!(self, |tx| {
            let n = sqlx::query(
                "INSERT INTO incident_responders (incident_id, user_id, added_at) \
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(user_id)
            .bind(ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                let who = names.get(&user_id).cloned().unwrap_or_default();
                audit!(
                    tx,
                    actor,
                    now,
                    AuditRecord::new(
                        "incident.responder_add",
                        "incident",
                        Some(id),
                        format!("Added {who} as a responder")
                    )
                );
                insert_timeline!(
                    tx,
                    backend,
                    vec![entry(id, ms, kind::ASSIGNED, actor, format!("{who} added as a responder"))]
                );
            }
        });
        Ok(())
    }
}
