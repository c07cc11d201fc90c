//! The report mailer: once a minute it finds the scheduled reports whose period has ended,
//! builds each (the KPI report, rendered as the printable page with a text summary) and queues
//! its e-mails with a compare-and-set on the schedule, so any number of nodes may run it and
//! each period goes out once. The same pass queues the lifecycle reminder digests
//! ([`crate::operations::contracts::queue_reminders`]). The notifier sends the e-mails through
//! their outboxes.

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::operations::kpi;
use opsdeck_core::kpi::ReportPeriod;
use opsdeck_core::role::Permission;
use opsdeck_store::report_schedule::{ReportMail, ReportSchedule};
use std::time::Duration;

pub use crate::operations::contracts::queue_reminders;

/// How often the mailer looks for due reports.
const EVERY: Duration = Duration::from_secs(60);

/// Runs until `stop` turns true.
pub async fn run(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = queue_due(&state).await {
            tracing::warn!(error = %e.message, "scheduled reports could not be queued");
        }
        if let Err(e) = crate::operations::contracts::queue_reminders(&state).await {
            tracing::warn!(error = %e.message, "lifecycle reminders could not be queued");
        }
    }
}

/// Queues every report whose period has ended since it was last sent; how many were queued. A
/// schedule that fails is logged and retried next pass; the others go on.
pub async fn queue_due(state: &AppState) -> Result<usize, ApiError> {
    let now = state.now();
    let mut queued = 0;
    for s in state.db.list_report_schedules().await? {
        let Some(period) = s.spec.cadence.due(now) else { continue };
        // Only a later period: a node whose clock lags must not send an older one again.
        if period.from <= s.last_period_start {
            continue;
        }
        let result = async {
            let mails = mails(state, &s, period.clone()).await?;
            Ok::<_, ApiError>(
                state.db.queue_report(now, &s, (&period.label, period.from), &period.label, &mails).await?,
            )
        }
        .await;
        match result {
            Ok(true) => queued += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(schedule = %s.id, error = %e.message, "a scheduled report could not be queued"),
        }
    }
    Ok(queued)
}

/// Sends the schedule's last ended period to its recipients now (managers and up); how many
/// e-mails were queued.
pub async fn send_now(state: &AppState, auth: &Auth, s: &ReportSchedule) -> Result<usize, ApiError> {
    auth.require(Permission::Configure)?;
    let now = state.now();
    let period = s.spec.cadence.due(now).ok_or_else(ApiError::internal)?;
    let mails = mails(state, s, period.clone()).await?;
    // A key of its own, so sending again later sends again; the last scheduled period stays, and
    // the version makes a second click at the same moment find the first one's work.
    let key = format!("{} (sent by hand {})", period.label, now.format("%Y-%m-%d %H:%M:%S%.3f"));
    if state.db.queue_report(now, s, (&s.last_period, s.last_period_start), &key, &mails).await? {
        Ok(mails.len())
    } else {
        Err(ApiError::conflict("this report is being sent already; look at its e-mails"))
    }
}

async fn mails(state: &AppState, s: &ReportSchedule, period: ReportPeriod) -> Result<Vec<ReportMail>, ApiError> {
    let k = kpi::build_for(state, period, s.spec.service_id).await?;
    let settings = crate::operations::settings::load(state).await?;
    let html = crate::ui::kpi::printable(state, &k).await?;
    let v = crate::ui::kpi::view(&k);
    let mut text = format!("Operations report {} ({}), compared with {}\n\n", v.label, s.spec.name, v.previous_label);
    for t in &v.tiles {
        text.push_str(&format!("{}: {} ({}: {}) {}\n", t.label, t.value, v.previous_label, t.previous, t.delta));
    }
    for line in v.services.iter().take(10) {
        text.push_str(&format!("\n{}: {} (SLA), {} as users saw it", line.name, line.adjusted, line.raw));
    }
    if let Some(url) = settings.public_url.as_deref() {
        text.push_str(&format!("\n\nThe dashboard: {}/reports", url.trim_end_matches('/')));
    }
    let subject = format!("Operations report {} · {}", v.label, settings.instance_name);
    Ok(s.spec
        .recipients
        .iter()
        .map(|r| ReportMail { recipient: r.clone(), subject: subject.clone(), html: html.clone(), text: text.clone() })
        .collect())
}
