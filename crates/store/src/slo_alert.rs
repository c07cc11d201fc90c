//! What an SLO says at a moment ([`Evaluation`], built from its counts over the window and each
//! burn span), and its burn-rate alerts: the SLO evaluator moves each SLO's alerting urgency with
//! a compare-and-set ([`Db::move_slo_alert`]) and queues the change in `slo_alerts`, which the
//! alert pipeline drains like monitor alerts.

use crate::slo::Slo;
use crate::{Db, StoreResult, with_db, write_tx};
use chrono::{DateTime, Duration, Utc};
use opsdeck_core::clock::from_millis;
use opsdeck_core::slo::{self, BurnRule, Counts, SloSpec, Urgency};
use std::collections::HashMap;
use uuid::Uuid;

/// What an SLO says at one moment.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub window_start: DateTime<Utc>,
    /// Checks over the window.
    pub counts: Counts,
    pub sli: Option<f64>,
    pub budget_remaining: Option<f64>,
    /// Burn rate over each of [`slo::burn_windows`] (`None`: no checks in it).
    pub burn_rates: Vec<(&'static str, Option<f64>)>,
    /// The burn-rate rules that fire.
    pub firing: Vec<BurnRule>,
    /// Why the SLI could not be read (its Prometheus server failed): nothing is known, and
    /// alerts stay as they are.
    pub source_error: Option<String>,
}

impl Evaluation {
    /// What `spec` says at `now`, from its counts over the window starting at `window_start` and
    /// over each of [`slo::burn_windows`] (by label).
    pub fn new(
        spec: &SloSpec,
        window_start: DateTime<Utc>,
        counts: Counts,
        spans: &[(&'static str, Duration, Counts)],
    ) -> Evaluation {
        let by_span = |d: Duration| spans.iter().find(|s| s.1 == d).map(|s| s.2).unwrap_or_default();
        Evaluation {
            window_start,
            counts,
            sli: counts.ratio(),
            budget_remaining: spec.budget_remaining(counts),
            burn_rates: spans.iter().map(|(l, _, c)| (*l, spec.burn_rate(*c))).collect(),
            firing: slo::firing(spec, &by_span),
            source_error: None,
        }
    }

    /// Nothing known: the SLI's source failed with `why`.
    pub fn unavailable(window_start: DateTime<Utc>, why: String) -> Evaluation {
        Evaluation {
            window_start,
            counts: Counts::default(),
            sli: None,
            budget_remaining: None,
            burn_rates: slo::burn_windows().iter().map(|(l, _)| (*l, None)).collect(),
            firing: Vec::new(),
            source_error: Some(why),
        }
    }

    /// The most urgent rule that fires, if any.
    pub fn urgency(&self) -> Option<Urgency> {
        let page = self.firing.iter().any(|r| r.urgency == Urgency::Page);
        if page { Some(Urgency::Page) } else { self.firing.first().map(|r| r.urgency) }
    }
}

/// A queued change of an SLO's alert.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SloAlert {
    pub id: Uuid,
    pub slo_id: Uuid,
    pub service_id: Uuid,
    /// `page`, `ticket`, or `none` (resolve).
    pub urgency: String,
    pub summary: String,
    pub at: i64,
}

fn urgency_str(u: Option<Urgency>) -> Option<&'static str> {
    u.map(|u| match u {
        Urgency::Page => "page",
        Urgency::Ticket => "ticket",
    })
}

impl Db {
    /// The urgency each SLO alerts at now (`page`, `ticket`; absent: none).
    pub async fn slo_alert_states(&self) -> StoreResult<HashMap<Uuid, String>> {
        let sql = "SELECT id, alerting FROM slos";
        let rows: Vec<(Uuid, Option<String>)> = with_db!(self, |pool| sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows.into_iter().filter_map(|(id, a)| Some((id, a?))).collect())
    }

    /// Moves `s`'s alert from `was` to what `e` says, queueing the change for the alert pipeline:
    /// a compare-and-set, so nodes doing this at once queue it once. True when it moved.
    pub async fn move_slo_alert(
        &self,
        s: &Slo,
        was: Option<&str>,
        e: &Evaluation,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let to = urgency_str(e.urgency());
        if was == to || e.source_error.is_some() {
            return Ok(false);
        }
        let summary = match to {
            Some(u) => format!(
                "SLO {} is burning its error budget ({u}: {})",
                s.spec.name,
                e.firing
                    .iter()
                    .map(|r| format!("{}× over {} and {}", r.factor, label(r.long), label(r.short)))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            None => format!("SLO {} is no longer burning its error budget fast", s.spec.name),
        };
        Ok(write_tx!(self, |tx| {
            let n = sqlx::query(
                "UPDATE slos SET alerting = $1 WHERE id = $2 AND (alerting = $3 OR (alerting IS NULL AND $4))",
            )
            .bind(to)
            .bind(s.id)
            .bind(was.unwrap_or(""))
            .bind(was.is_none())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                sqlx::query(
                    "INSERT INTO slo_alerts (id, slo_id, service_id, urgency, summary, at, alert_pending) \
                     VALUES ($1, $2, $3, $4, $5, $6, TRUE)",
                )
                .bind(Uuid::now_v7())
                .bind(s.id)
                .bind(s.spec.service_id)
                .bind(to.unwrap_or("none"))
                .bind(&summary)
                .bind(now.timestamp_millis())
                .execute(&mut *tx)
                .await?;
            }
            n == 1
        }))
    }

    pub async fn pending_slo_alerts(&self, limit: i64) -> StoreResult<Vec<SloAlert>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, slo_id, service_id, urgency, summary, at FROM slo_alerts \
                 WHERE alert_pending = TRUE ORDER BY at, id LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn slo_alerts_sent(&self, ids: &[Uuid]) -> StoreResult<()> {
        self.clear_alert_pending("slo_alerts", ids).await
    }
}

fn label(d: Duration) -> &'static str {
    slo::burn_windows().iter().find(|w| w.1 == d).map_or("?", |w| w.0)
}

/// The alert an SLO's burn raises on its service: dedup key `slo:{id}`, critical when it pages,
/// warning for a ticket; `none` resolves it.
pub fn slo_alert_envelope(a: &SloAlert) -> crate::ingest::Envelope {
    use opsdeck_core::alert::{Action, Severity, Signal};
    let key = format!("slo:{}", a.slo_id.simple());
    let severity = match a.urgency.as_str() {
        "page" => Some(Severity::Critical),
        "ticket" => Some(Severity::Warning),
        _ => None,
    };
    let signal = match severity {
        Some(sev) => {
            let mut sig = Signal::trigger(key, a.summary.clone(), sev);
            sig.source = "slo burn rate".into();
            sig.started_at = Some(from_millis(a.at));
            sig.details = serde_json::json!({"slo_id": a.slo_id, "urgency": a.urgency});
            sig
        }
        None => Signal::follow_up(Action::Resolve, key),
    };
    crate::ingest::Envelope {
        scope: "slo".into(),
        integration_id: None,
        service_id: a.service_id,
        source_type: "slo",
        signal,
    }
}
