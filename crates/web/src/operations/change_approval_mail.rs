//! Asking approvers by e-mail: when a change awaits authorisation, each approver of a rule
//! still short of its approvals gets one e-mail per revision with a signed link that approves
//! or rejects it as them (`/c/{token}`), valid for a week and only for that revision. The mails
//! go through the change mail outbox, so a failed delivery is retried and no node sends twice.

use super::changes::{ChangeView, view};
use crate::AppState;
use crate::auth::Auth;
use crate::error::{ApiError, ErrorCode};
use crate::ui::charts::esc;
use chrono::Duration;
use opsdeck_core::change::ChangeState;
use opsdeck_core::change::approval::{self, Approval, Subject};
use opsdeck_core::change::link::{self, ApprovalClaim, LINK_DAYS};
use opsdeck_core::role::Permission;
use opsdeck_store::change::Change;
use opsdeck_store::report_schedule::ReportMail;
use uuid::Uuid;

/// Queues the approval requests change `id` still needs. Best effort: the move that led here
/// has happened, so a failure is logged, not an error of the move.
pub async fn ask_approvers(state: &AppState, auth: &Auth, id: Uuid) {
    if let Err(e) = ask(state, auth, id).await {
        tracing::warn!(change = %id, error = %e.message, "approvers could not be asked by e-mail");
    }
}

async fn ask(state: &AppState, auth: &Auth, id: Uuid) -> Result<usize, ApiError> {
    let v = &view(state, auth, id).await?;
    let c = &v.change;
    if c.state != ChangeState::Authorize || v.approvals_missing.is_none() {
        return Ok(0);
    }
    let rules: Vec<_> = state.db.approval_rules().await?.into_iter().map(|r| r.rule).collect();
    let service_ids: Vec<Uuid> = v.services.iter().map(|s| s.0).collect();
    let subject = Subject { kind: c.kind, risk: c.risk.level, service_ids: &service_ids };
    let given: Vec<Approval> = v
        .decisions
        .iter()
        .filter(|d| d.revision == c.revision && d.decision == "approved")
        .map(|d| Approval { user: d.user_id })
        .collect();
    let asked = state.db.approval_requests(c.id, c.revision).await?;
    let key = state.db.signing_key().await?;
    let base = state.link_base().await;
    let expires = state.now().timestamp().saturating_add(Duration::days(LINK_DAYS).num_seconds());
    let mut mails = Vec::new();
    for user in approval::waiting_on(&rules, &subject, &given).into_iter().filter(|u| !asked.contains(u)) {
        let Ok(u) = state.db.get_user(user).await else { continue };
        let Some(email) = u.email.clone().filter(|_| !u.disabled && u.role.allows(Permission::Read)) else {
            continue;
        };
        let token = link::sign(&key, &ApprovalClaim { change_id: c.id, revision: c.revision, user_id: u.id, expires });
        mails.push((u.id, mail(c, v, &email, &format!("{base}/c/{token}"), &format!("{base}/changes/{}", c.key()))));
    }
    if mails.is_empty() {
        return Ok(0);
    }
    Ok(state.db.queue_approval_requests(state.now(), c.id, c.revision, &mails).await?)
}

fn mail(c: &Change, v: &ChangeView, to: &str, decide: &str, page: &str) -> ReportMail {
    let when = match (c.planned_start, c.planned_end) {
        (Some(s), Some(e)) => format!("{} to {}", s.format("%Y-%m-%d %H:%M UTC"), e.format("%Y-%m-%d %H:%M UTC")),
        _ => "not planned yet".to_owned(),
    };
    let cis: Vec<&str> = v.cis.iter().take(20).map(|c| c.1.as_str()).collect();
    let more = v.cis.len().saturating_sub(cis.len());
    let cis = if more > 0 { format!("{} and {more} more", cis.join(", ")) } else { cis.join(", ") };
    let risk = c.risk.level.as_str();
    let text = format!(
        "{key} {title} awaits your approval.\n\nType: {kind}\nRisk: {risk}\nWhen: {when}\nCIs: {cis}\n\
         Still wanted: {missing}\n\nApprove or reject it: {decide}\n(The link works for a week, and only \
         while the change is not edited.)\n\nThe change in Opsdeck: {page}\n",
        key = c.key(),
        title = c.title,
        kind = c.kind.as_str(),
        missing = v.approvals_missing.as_deref().unwrap_or(""),
    );
    let reasons: String = c.risk.reasons.iter().map(|r| format!("<li>{}</li>", esc(r))).collect();
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><h2>{key} awaits your approval</h2>\
         <p><strong>{title}</strong></p><table cellpadding=\"4\"><tr><th align=\"left\">Type</th><td>{kind}</td></tr>\
         <tr><th align=\"left\">Risk</th><td>{risk}</td></tr><tr><th align=\"left\">When</th><td>{when}</td></tr>\
         <tr><th align=\"left\">CIs</th><td>{cis}</td></tr>\
         <tr><th align=\"left\">Still wanted</th><td>{missing}</td></tr>\
         </table><ul>{reasons}</ul><p><a href=\"{decide}\" style=\"font-weight:bold\">Approve or reject {key}</a> \
         (works for a week, and only while the change is not edited)</p>\
         <p><a href=\"{page}\">Open it in Opsdeck</a></p>\
         </body></html>",
        key = c.key(),
        title = esc(&c.title),
        kind = c.kind.as_str(),
        when = esc(&when),
        cis = esc(&cis),
        missing = esc(v.approvals_missing.as_deref().unwrap_or("")),
        decide = esc(decide),
        page = esc(page),
    );
    ReportMail { recipient: to.to_owned(), subject: format!("Approval wanted: {} {}", c.key(), c.title), html, text }
}

/// The change and the approver an approval link names, checked: signed, not expired, for the
/// change's current revision, and its approver still active. What the decision page shows.
pub async fn open(state: &AppState, token: &str) -> Result<(ChangeView, Auth), ApiError> {
    let key = state.db.signing_key().await?;
    let claim = link::verify(&key, token, state.now().timestamp())?;
    let user = state.db.get_user(claim.user_id).await.ok().filter(|u| !u.disabled && u.role.allows(Permission::Read));
    let Some(user) = user else {
        return Err(ApiError::new(ErrorCode::Forbidden, "this link no longer acts for anyone; sign in to decide"));
    };
    let auth = Auth::link(user);
    let v = view(state, &auth, claim.change_id).await?;
    if v.change.state != ChangeState::Authorize {
        return Err(ApiError::conflict(format!(
            "{} no longer awaits authorisation (it is {}); open it in Opsdeck",
            v.change.key(),
            v.change.state.as_str()
        )));
    }
    if v.change.revision != claim.revision {
        return Err(ApiError::conflict(format!(
            "{} was edited after this link was sent; its approvers get a new e-mail when it awaits approval again",
            v.change.key()
        )));
    }
    Ok((v, auth))
}

/// Approves or rejects the change an approval link names, as its approver; `version` is the
/// one the link's page showed (a change edited since is decided again after a reload).
pub async fn decide(
    state: &AppState,
    token: &str,
    approve: bool,
    comment: &str,
    version: Option<i64>,
) -> Result<Change, ApiError> {
    let (v, auth) = open(state, token).await?;
    let action = if approve { opsdeck_core::change::Action::Approve } else { opsdeck_core::change::Action::Reject };
    let input = super::changes::ActInput {
        notes: Some(comment.to_owned()),
        version: Some(version.unwrap_or(v.change.version)),
        ..Default::default()
    };
    super::changes::act(state, &auth, v.change.id, action, &input).await
}
