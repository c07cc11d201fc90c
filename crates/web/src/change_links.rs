//! `/c/{token}`: the signed link an approver gets by e-mail. GET shows the change (what, when,
//! risk, plans) with Approve and Reject; POST decides as that approver. A GET never decides, so
//! mail scanners that open links cannot approve changes.

use crate::AppState;
use crate::links::page;
use crate::operations::change_approval_mail;
use crate::ui::charts::esc;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/c/{token}", axum::routing::get(decision_page).post(decide))
}

fn refused(e: &crate::error::ApiError) -> Response {
    page(
        "Link not valid",
        &format!(
            "<h1>This link cannot be used</h1><p class=\"flash error\" id=\"link-refused\">{}</p>",
            esc(&e.message)
        ),
        e.status(),
    )
}

fn when(c: &opsdeck_store::change::Change) -> String {
    match (c.planned_start, c.planned_end) {
        (Some(s), Some(e)) => format!("{} to {}", s.format("%Y-%m-%d %H:%M UTC"), e.format("%Y-%m-%d %H:%M UTC")),
        _ => "not planned yet".to_owned(),
    }
}

async fn decision_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let (v, auth) = match change_approval_mail::open(&state, &token).await {
        Ok(x) => x,
        Err(e) => return refused(&e),
    };
    let c = &v.change;
    let key = c.key();
    let reasons: String = c.risk.reasons.iter().map(|r| format!("<li>{}</li>", esc(r))).collect();
    let cis: Vec<String> = v.cis.iter().take(50).map(|x| esc(&x.1)).collect();
    let conflicts: String = v.conflicts.iter().map(|x| format!("<li>{}</li>", esc(&x.text))).collect();
    let plan = |title: &str, text: &str| {
        if text.trim().is_empty() {
            String::new()
        } else {
            format!("<h2>{title}</h2><p class=\"prose\">{}</p>", esc(text))
        }
    };
    let forms = if v.may_decide && v.change.state == opsdeck_core::change::ChangeState::Authorize {
        format!(
            "<form method=\"post\" action=\"/c/{t}\" class=\"form\"><input type=\"hidden\" name=\"decision\" \
             value=\"approve\"><input type=\"hidden\" name=\"version\" value=\"{version}\"><label>Comment \
             (optional)<textarea name=\"comment\" rows=\"2\" maxlength=\"4000\"></textarea></label><button \
             class=\"btn primary\" id=\"link-approve\" type=\"submit\">Approve {key}</button></form><form \
             method=\"post\" action=\"/c/{t}\" class=\"form\"><input type=\"hidden\" name=\"decision\" \
             value=\"reject\"><input type=\"hidden\" name=\"version\" value=\"{version}\"><label>Why reject \
             it (required)<textarea name=\"comment\" rows=\"2\" maxlength=\"4000\" required></textarea>\
             </label><button class=\"btn danger\" id=\"link-reject\" type=\"submit\">Reject {key}</button></form>",
            t = esc(&token),
            version = c.version
        )
    } else {
        "<p class=\"flash error\" id=\"link-refused\">Nothing to decide: the change no longer awaits \
         authorisation, or no approval rule covering it names you any more.</p>"
            .to_owned()
    };
    page(
        &key,
        &format!(
            "<h1>{key}: {title}</h1><p>Deciding as <strong>{who}</strong>. <span class=\"badge\">{kind}</span> \
             <span class=\"badge risk-{risk}\" id=\"link-risk\">{risk} risk</span> <span id=\"link-state\">{state}\
             </span></p><p><strong>When:</strong> {when}</p><p><strong>CIs:</strong> {cis}</p>\
             <p><strong>Approvals still wanted:</strong> {missing}</p><ul>{reasons}</ul>{conflicts}{desc}{imp}{test}\
             {back}{forms}<p><a href=\"/changes/{key}\">Open the change in Opsdeck</a> (sign-in needed)</p>",
            title = esc(&c.title),
            who = esc(&auth.user.username),
            kind = c.kind.as_str(),
            risk = c.risk.level.as_str(),
            state = c.state.as_str(),
            when = esc(&when(c)),
            cis = if cis.is_empty() { "none".to_owned() } else { cis.join(", ") },
            missing = esc(v.approvals_missing.as_deref().unwrap_or("none")),
            conflicts =
                if conflicts.is_empty() { String::new() } else { format!("<h2>Conflicts</h2><ul>{conflicts}</ul>") },
            desc = plan("Description", &c.description),
            imp = plan("Implementation plan", &c.implementation_plan),
            test = plan("Test plan", &c.test_plan),
            back = plan("Backout plan", &c.backout_plan),
        ),
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
struct DecideForm {
    decision: String,
    #[serde(default)]
    comment: String,
    /// The version the page showed: a decision on a change edited since is refused.
    version: Option<i64>,
}

async fn decide(State(state): State<AppState>, Path(token): Path<String>, Form(f): Form<DecideForm>) -> Response {
    let approve = match f.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return refused(&crate::error::ApiError::invalid("decision", "must be approve or reject")),
    };
    match change_approval_mail::decide(&state, &token, approve, &f.comment, f.version).await {
        Ok(c) => {
            let key = c.key();
            let done = if approve { "approved" } else { "rejected" };
            page(
                &key,
                &format!(
                    "<h1>{key} {done}</h1><p class=\"flash ok\" id=\"link-done\">You {done} {key}; it is now \
                     <span id=\"link-state\">{}</span>.</p><p><a href=\"/changes/{key}\">Open the change in \
                     Opsdeck</a></p>",
                    c.state.as_str()
                ),
                StatusCode::OK,
            )
        }
        Err(e) => refused(&e),
    }
}
