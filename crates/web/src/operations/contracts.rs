//! Contracts with vendors, and lifecycle reminders: who hears about warranties, support, lives
//! and contracts ending, and the digest e-mails that tell them. The API, the pages, the CLI
//! (through the API) and the reminder worker all come here.

use super::cmdb::CMDB_CHANGED;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::ui::charts::esc;
use opsdeck_core::cmdb::contract::{ContractEvent, ContractInput, ContractSpec};
use opsdeck_core::cmdb::reminder::ReminderSettings;
use opsdeck_core::cmdb::{CiClass, LifecycleEvent};
use opsdeck_core::role::Permission;
use opsdeck_store::Page;
use opsdeck_store::catalogue::Ref;
use opsdeck_store::cmdb::contracts::{Contract, ContractFilter, CoveredCi};
use opsdeck_store::cmdb::reminders::{ReminderDelivery, ReminderKey, UpcomingDate};
use opsdeck_store::report_schedule::ReportMail;
use uuid::Uuid;

/// Dates one digest announces, at most; more go in the next pass's digest.
const DIGEST_MAX: usize = 1000;
/// Dates a digest lists one by one; the rest are counted, and the lifecycle report lists them.
const DIGEST_LINES: usize = 200;

pub async fn list(state: &AppState, auth: &Auth, filter: &ContractFilter) -> Result<Page<Contract>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(state.db.list_contracts(filter).await?)
}

/// A contract with the CIs it covers.
pub async fn get(state: &AppState, auth: &Auth, id: Uuid) -> Result<(Contract, Vec<CoveredCi>), ApiError> {
    auth.require(Permission::Read)?;
    let contract = state.db.get_contract(id).await?;
    let cis = state.db.contract_cis(id).await?;
    Ok((contract, cis))
}

/// The spec of `input` with its team and CIs checked to exist.
async fn spec(state: &AppState, input: &ContractInput) -> Result<ContractSpec, ApiError> {
    let spec = ContractSpec::new(input)?;
    if let Some(team) = spec.owner_team_id {
        state.db.get_team(Ref::Id(team)).await.map_err(|_| ApiError::invalid("owner_team_id", "no such team"))?;
    }
    let found = state.db.cis_by_id(&spec.ci_ids).await?;
    if let Some(missing) = spec.ci_ids.iter().find(|id| !found.iter().any(|c| c.id == **id)) {
        return Err(ApiError::invalid("ci_ids", format!("no CI has the id {missing}")));
    }
    Ok(spec)
}

pub async fn create(state: &AppState, auth: &Auth, input: &ContractInput) -> Result<Contract, ApiError> {
    auth.require(Permission::Configure)?;
    let spec = spec(state, input).await?;
    let c = state.db.create_contract(&auth.actor(), state.now(), &spec).await?;
    state.events.publish(CMDB_CHANGED, Some(c.id), format!("Contract {} created", c.name));
    Ok(c)
}

pub async fn update(state: &AppState, auth: &Auth, id: Uuid, input: &ContractInput) -> Result<Contract, ApiError> {
    auth.require(Permission::Configure)?;
    let spec = spec(state, input).await?;
    let c = state.db.update_contract(&auth.actor(), state.now(), id, &spec).await?;
    state.events.publish(CMDB_CHANGED, Some(c.id), format!("Contract {} changed", c.name));
    Ok(c)
}

pub async fn delete(state: &AppState, auth: &Auth, id: Uuid) -> Result<Contract, ApiError> {
    auth.require(Permission::Configure)?;
    let c = state.db.delete_contract(&auth.actor(), state.now(), id).await?;
    state.events.publish(CMDB_CHANGED, Some(id), format!("Contract {} deleted", c.name));
    Ok(c)
}

/// How far back the lifecycle report shows contract dates that have passed.
const PAST_DAYS: u64 = 365;

/// Contracts whose notice deadline, end or renewal falls within `days`, or passed within the
/// last year (older ones would crowd out what is coming).
pub async fn due(
    state: &AppState,
    auth: &Auth,
    days: i64,
) -> Result<Vec<(Contract, ContractEvent, chrono::NaiveDate)>, ApiError> {
    auth.require(Permission::Read)?;
    let today = state.now().date_naive();
    let until = today.checked_add_days(chrono::Days::new(days.unsigned_abs())).unwrap_or(chrono::NaiveDate::MAX);
    let from = today.checked_sub_days(chrono::Days::new(PAST_DAYS)).unwrap_or(chrono::NaiveDate::MIN);
    Ok(state.db.contracts_due(Some(from), until, 1000).await?)
}

/// The reminder settings and the newest reminder e-mails (managers and up: they name people).
pub async fn reminder_settings(
    state: &AppState,
    auth: &Auth,
) -> Result<(ReminderSettings, Vec<ReminderDelivery>), ApiError> {
    auth.require(Permission::Configure)?;
    Ok((state.db.reminder_settings().await?, state.db.reminder_deliveries(50).await?))
}

pub async fn save_reminder_settings(
    state: &AppState,
    auth: &Auth,
    recipients: &[String],
    lead_days: &[i64],
) -> Result<ReminderSettings, ApiError> {
    auth.require(Permission::Configure)?;
    let settings = ReminderSettings::new(recipients, lead_days)?;
    let saved = state.db.save_reminder_settings(&auth.actor(), state.now(), &settings).await?;
    // Dates already within a lead are announced at once, not at the next pass.
    if let Err(e) = queue_reminders(state).await {
        tracing::warn!(error = %e.message, "lifecycle reminders could not be queued");
    }
    Ok(saved)
}

/// Queues one digest e-mail per recipient with the dates that entered a lead time and were not
/// announced under it yet; how many dates it lists. Any node may run it: a date is recorded as
/// announced with the e-mails in one transaction, and a node that finds one taken queues nothing.
pub async fn queue_reminders(state: &AppState) -> Result<usize, ApiError> {
    let settings = state.db.reminder_settings().await?;
    if settings.recipients.is_empty() {
        return Ok(0);
    }
    let today = state.now().date_naive();
    let due = state.db.unannounced_dates(today, &settings, DIGEST_MAX as i64).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let keys: Vec<ReminderKey> = due
        .iter()
        .map(|(d, lead)| ReminderKey { subject_id: d.subject_id, event: d.event, date: d.date, lead_days: *lead })
        .collect();
    let mails = digest(state, today, &settings, &due).await?;
    if state.db.queue_reminders(state.now(), &keys, &mails).await? { Ok(due.len()) } else { Ok(0) }
}

/// What a date is, in words.
pub fn event_label(event: &str) -> &'static str {
    let ci = [LifecycleEvent::WarrantyEnd, LifecycleEvent::EndOfSupport, LifecycleEvent::EndOfLife]
        .into_iter()
        .find(|e| e.as_str() == event)
        .map(LifecycleEvent::label);
    ci.or_else(|| ContractEvent::parse(event).map(ContractEvent::label)).unwrap_or("Date")
}

async fn digest(
    state: &AppState,
    today: chrono::NaiveDate,
    settings: &ReminderSettings,
    due: &[(UpcomingDate, u32)],
) -> Result<Vec<ReportMail>, ApiError> {
    let instance = crate::operations::settings::load(state).await?;
    let base = instance.public_url.as_deref().map(|u| u.trim_end_matches('/').to_owned());
    let mut text = format!("{} lifecycle date(s) coming up:\n\n", due.len());
    let mut rows = String::new();
    for (d, _) in due.iter().take(DIGEST_LINES) {
        let left = (d.date - today).num_days();
        let when = match left {
            0 => "today".to_owned(),
            1 => "tomorrow".to_owned(),
            n => format!("in {n} days"),
        };
        let (path, detail) = match d.subject {
            "ci" => ("cmdb", CiClass::parse(&d.detail).map_or(d.detail.as_str(), |c| c.label())),
            _ => ("cmdb/contracts", d.detail.as_str()),
        };
        let link = base.as_ref().map(|b| format!("{b}/{path}/{}", d.subject_id));
        text.push_str(&format!("- {} {} ({}): {}, {when}\n", d.date, d.name, detail, event_label(d.event)));
        if let Some(l) = &link {
            text.push_str(&format!("  {l}\n"));
        }
        let name = match &link {
            Some(l) => format!("<a href=\"{}\">{}</a>", esc(l), esc(&d.name)),
            None => esc(&d.name),
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{name}<br><small>{}</small></td><td>{}</td><td>{when}</td></tr>",
            d.date,
            esc(detail),
            event_label(d.event)
        ));
    }
    let more = due.len().saturating_sub(DIGEST_LINES);
    if more > 0 {
        text.push_str(&format!("- and {more} more: the lifecycle report lists them all\n"));
        rows.push_str(&format!("<tr><td colspan=\"4\">and {more} more: the lifecycle report lists them all</td></tr>"));
    }
    if let Some(b) = &base {
        text.push_str(&format!("\nThe lifecycle report: {b}/cmdb/lifecycle\n"));
    }
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><h2>Lifecycle dates coming up</h2>\
         <table cellpadding=\"6\" style=\"border-collapse:collapse\"><tr><th align=\"left\">Date</th>\
         <th align=\"left\">What</th><th align=\"left\">Event</th><th align=\"left\">When</th></tr>{rows}</table>\
         <p style=\"color:#666\">Sent by {} to the lifecycle reminder recipients.</p></body></html>",
        esc(&instance.instance_name)
    );
    let first = &due[0].0;
    let subject = if due.len() == 1 {
        format!("{}: {} on {} · {}", first.name, event_label(first.event), first.date, instance.instance_name)
    } else {
        format!("{} lifecycle dates coming up, first on {} · {}", due.len(), first.date, instance.instance_name)
    };
    Ok(settings
        .recipients
        .iter()
        .map(|r| ReportMail { recipient: r.clone(), subject: subject.clone(), html: html.clone(), text: text.clone() })
        .collect())
}
