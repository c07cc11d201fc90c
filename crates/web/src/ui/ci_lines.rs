//! CIs named in a form: one name, identity or id per line.

use crate::AppState;
use crate::error::ApiError;
use uuid::Uuid;

/// The CIs a textarea names, one name, identity or id per line (at most `max`; `what` says
/// what holds them: "a contract covers"). A line that names no CI, or several, is refused with
/// its line number.
pub(super) async fn resolve(state: &AppState, text: &str, max: usize, what: &str) -> Result<Vec<Uuid>, ApiError> {
    let lines: Vec<(usize, &str)> = text.lines().map(str::trim).enumerate().filter(|(_, l)| !l.is_empty()).collect();
    if lines.len() > max {
        return Err(ApiError::invalid("cis", format!("{what} at most {max} CIs")));
    }
    let mut ids = Vec::with_capacity(lines.len());
    for (n, line) in lines {
        let found = match line.parse::<Uuid>() {
            Ok(id) => state.db.cis_by_id(&[id]).await?,
            Err(_) => state.db.cis_named(line).await?,
        };
        match found.as_slice() {
            [one] => ids.push(one.id),
            [] => return Err(ApiError::invalid("cis", format!("line {}: no CI is named {line:?}", n + 1))),
            _ => {
                return Err(ApiError::invalid(
                    "cis",
                    format!("line {}: several CIs are named {line:?}; give its identity or id", n + 1),
                ));
            }
        }
    }
    Ok(ids)
}
