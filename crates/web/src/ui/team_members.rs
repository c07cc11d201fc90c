//! The members panel of a team's page: managers add and remove members (members of a team see
//! the private status pages made for it).

use super::{PageAuth, error_page};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::catalogue as op;
use axum::extract::{Path, State};
use axum::response::Response;
use axum_extra::extract::Form;
use opsdeck_core::catalogue::Team;
use opsdeck_store::catalogue::Ref;
use opsdeck_store::team_member::Member;
use serde::Deserialize;
use uuid::Uuid;

/// People the add form offers at most (the API takes any user).
const CANDIDATES: i64 = 500;

pub struct Panel {
    pub members: Vec<Member>,
    /// Enabled users not yet members: (id, "Name (username)").
    pub candidates: Vec<(Uuid, String)>,
}

pub async fn panel(state: &AppState, team: &Team, can_configure: bool) -> Result<Panel, ApiError> {
    let members = state.db.team_members(team.id).await?;
    if !can_configure {
        return Ok(Panel { members, candidates: Vec::new() });
    }
    let candidates = state
        .db
        .list_users(None, None, Some(CANDIDATES))
        .await?
        .items
        .into_iter()
        .filter(|u| !u.disabled && !members.iter().any(|m| m.user_id == u.id))
        .map(|u| (u.id, format!("{} ({})", u.display_name, u.username)))
        .collect();
    Ok(Panel { members, candidates })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MemberForm {
    user_id: String,
}

async fn team(state: &AppState, r: &str) -> Result<Team, ApiError> {
    Ok(state.db.get_team(Ref::parse(r)).await?)
}

fn user(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id.trim()).map_err(|_| ApiError::invalid("user_id", "choose a person"))
}

pub async fn add(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(r): Path<String>,
    Form(f): Form<MemberForm>,
) -> Response {
    let team = match team(&state, &r).await {
        Ok(t) => t,
        Err(e) => return error_page(&e),
    };
    let result = async {
        let added = op::add_member(&state, &auth.0, &team, user(&f.user_id)?).await?;
        Ok(if added { "Member added".to_owned() } else { "Already a member".to_owned() })
    }
    .await;
    super::outcome(&format!("/teams/{}#members", team.slug), result)
}

pub async fn remove(
    State(state): State<AppState>,
    auth: PageAuth,
    Path((r, user_id)): Path<(String, String)>,
) -> Response {
    let team = match team(&state, &r).await {
        Ok(t) => t,
        Err(e) => return error_page(&e),
    };
    let result = async {
        op::remove_member(&state, &auth.0, &team, user(&user_id)?).await?;
        Ok("Member removed".to_owned())
    }
    .await;
    super::outcome(&format!("/teams/{}#members", team.slug), result)
}
