//! The escalation queue and the notification outbox, claimed with leases.

use super::*;

impl Db {
    /// Leases due escalations to `node` until `lease_until`.
    pub async fn claim_due_escalations(
        &self,
        node: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<DueEscalation>> {
        let claim = Claim {
            table: "escalations",
            key: "incident_id",
            due: "next_at <= $3",
            order: "next_at",
            returning: "incident_id, policy_id, level, loop_no, round, next_at",
            due_by: None,
        };
        Ok(claim_leased(self, &claim, node, now, lease_until, limit).await?)
    }

    /// Stores what the notifier decided for leased escalations: their notifications (once per
    /// idempotency key), the next level or the end, and a timeline line. A step whose lease was
    /// lost (acknowledged meanwhile, or another node took it) is dropped whole.
    pub async fn complete_escalations(&self, node: &str, now: i64, steps: &[EscalationStep]) -> StoreResult<usize> {
        if steps.is_empty() {
            return Ok(0);
        }
        let backend = self.backend();
        let done;
        write_tx!(self, |tx| {
            let mut kept: Vec<&EscalationStep> = Vec::with_capacity(steps.len());
            for s in steps {
                let n = match s.next {
                    Some((level, loop_no, at)) => sqlx::query(
                        "UPDATE escalations SET level = $1, loop_no = $2, next_at = $3, lease_owner = NULL, \
                         lease_until = NULL WHERE incident_id = $4 AND lease_owner = $5",
                    )
                    .bind(level)
                    .bind(loop_no)
                    .bind(at)
                    .bind(s.incident_id)
                    .bind(node)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
                    None => sqlx::query("DELETE FROM escalations WHERE incident_id = $1 AND lease_owner = $2")
                        .bind(s.incident_id)
                        .bind(node)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected(),
                };
                if n > 0 {
                    kept.push(s);
                }
            }
            let rows: Vec<&NewNotification> = kept.iter().flat_map(|s| s.notifications.iter()).collect();
            insert_notifications!(tx, backend, now, rows);
            let notes: Vec<(Uuid, &str)> =
                kept.iter().filter(|s| !s.note.is_empty()).map(|s| (s.incident_id, s.note.as_str())).collect();
            let notes = notes.iter().map(|(inc, body)| {
                TimelineEntry::new(*inc, now, opsdeck_core::incident::kind::ESCALATED, "escalation", *body)
            });
            insert_timeline!(tx, backend, notes.collect());
            done = kept.len();
        });
        Ok(done)
    }

    /// Queues notifications directly (broadcast channels, test notifications).
    pub async fn queue_notifications(&self, now: i64, rows: &[NewNotification]) -> StoreResult<()> {
        let backend = self.backend();
        let rows: Vec<&NewNotification> = rows.iter().collect();
        write_tx!(self, |tx| {
            insert_notifications!(tx, backend, now, rows);
        });
        Ok(())
    }

    /// Leases due notifications to `node` until `lease_until`.
    pub async fn claim_due_notifications(
        &self,
        node: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<DueNotification>> {
        let claim = Claim {
            table: "notifications",
            key: "id",
            due: "status = 'pending' AND next_attempt_at <= $3",
            order: "next_attempt_at",
            returning: "id, incident_id, idempotency_key, level, user_id, channel, target, address, config, \
                        attempts, next_attempt_at",
            due_by: None,
        };
        Ok(claim_leased(self, &claim, node, now, lease_until, limit).await?)
    }

    /// Records send results in one transaction (only for rows this node still leases); a
    /// notification given up is noted on its incident's timeline.
    #[allow(clippy::type_complexity)]
    pub async fn complete_notifications(
        &self,
        node: &str,
        now: i64,
        results: &[(DueNotification, SendResult)],
    ) -> StoreResult<()> {
        if results.is_empty() {
            return Ok(());
        }
        let backend = self.backend();
        write_tx!(self, |tx| {
            let rows: Vec<(Uuid, &'static str, i32, i64, Option<&str>, Option<i64>)> = results
                .iter()
                .map(|(n, r)| match r {
                    SendResult::Sent => (n.id, "sent", n.attempts + 1, n.next_attempt_at, None, Some(now)),
                    SendResult::Retry { error, at } => {
                        (n.id, "pending", n.attempts + 1, *at, Some(error.as_str()), None)
                    }
                    SendResult::Failed { error } => {
                        (n.id, "failed", n.attempts + 1, n.next_attempt_at, Some(error.as_str()), None)
                    }
                })
                .collect();
            for chunk in fixed_chunks(&rows) {
                let sql = multi_row(
                    backend,
                    "WITH v (id, status, attempts, next_attempt_at, last_error, sent_at) AS (VALUES ",
                    6,
                    chunk.len(),
                    ") UPDATE notifications SET status = v.status, attempts = v.attempts, \
                     next_attempt_at = v.next_attempt_at, last_error = COALESCE(v.last_error, \
                     notifications.last_error), sent_at = v.sent_at, lease_owner = NULL, lease_until = \
                     NULL FROM v WHERE notifications.id = v.id AND notifications.lease_owner = $NODE \
                     AND notifications.status = 'pending'",
                );
                let sql = sql.replace("$NODE", &placeholders(backend, 1, chunk.len() * 6 + 1));
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (id, status, attempts, next, err, sent) in chunk {
                    q = q.bind(*id).bind(*status).bind(*attempts).bind(*next).bind(*err).bind(*sent);
                }
                q.bind(node).execute(&mut *tx).await?;
            }
            let failed: Vec<(Uuid, String)> = results
                .iter()
                .filter_map(|(n, r)| match r {
                    SendResult::Failed { error } => Some((
                        n.incident_id,
                        format!(
                            "Notification to {} via {} failed after {} attempts: {error}",
                            n.target,
                            n.channel,
                            n.attempts + 1
                        ),
                    )),
                    _ => None,
                })
                .collect();
            let failed = failed
                .into_iter()
                .map(|(inc, body)| TimelineEntry::new(inc, now, "notification_failed", "notifier", body));
            insert_timeline!(tx, backend, failed.collect());
        });
        Ok(())
    }

    /// An incident's delivery log, oldest first.
    pub async fn deliveries(&self, incident_id: Uuid) -> StoreResult<Vec<Delivery>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, level, channel, target, status, attempts, last_error, next_attempt_at, sent_at, created_at \
                            FROM notifications WHERE incident_id = $1 ORDER BY created_at, id LIMIT 1000",
            )
            .bind(incident_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The key that signs action links in messages (created on first use).
    pub async fn signing_key(&self) -> StoreResult<Vec<u8>> {
        const KEY: &str = "link_signing_key";
        let fresh = serde_json::Value::String(opsdeck_core::secret::generate(""));
        with_writer!(self, |pool| {
            sqlx::query(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, 0) ON CONFLICT (key) DO NOTHING",
            )
            .bind(KEY)
            .bind(fresh.to_string())
            .execute(pool)
            .await?;
        });
        let v = self.get_setting(KEY).await?.and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        Ok(v.into_bytes())
    }

    /// What messages say about incidents, for many at once: (id, number, title, status,
    /// severity, service id, service name, runbook).
    pub async fn incident_briefs(&self, ids: &[Uuid]) -> StoreResult<Vec<IncidentBrief>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in fixed_chunks(ids) {
            let sql = format!(
                "SELECT i.id, i.number, i.title, i.status, i.severity, i.service_id, s.name AS \
                 service_name, s.runbook_url, s.team_id FROM incidents i LEFT \
                 JOIN services s ON s.id = i.service_id WHERE i.id IN ({})",
                placeholders(self.backend(), chunk.len(), 1)
            );
            let rows: Vec<IncidentBrief> = with_db!(self, |pool| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            out.extend(rows);
        }
        Ok(out)
    }

    /// Users by id: (id, username, display name).
    pub async fn user_names(&self, ids: &[Uuid]) -> StoreResult<Vec<(Uuid, String, String)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, username, display_name FROM users WHERE id IN ({}) AND NOT disabled",
            placeholders(self.backend(), ids.len(), 1)
        );
        Ok(with_db!(self, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for id in ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await?
        }))
    }
}
