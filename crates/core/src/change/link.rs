//! The signed link an approver gets by e-mail: it decides on one revision of one change as that
//! person, until it expires. An edit that withdraws approvals (a new revision) makes it useless,
//! so nobody approves by mail what they have not read.

use crate::error::{Error, Result};
use hmac::Mac;
use uuid::Uuid;

/// How long an approval link works.
pub const LINK_DAYS: i64 = 7;

/// What an approval link stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApprovalClaim {
    pub change_id: Uuid,
    pub revision: i64,
    pub user_id: Uuid,
    /// Epoch seconds after which the link no longer works.
    pub expires: i64,
}

/// The domain separates these signatures from incident links signed with the same key.
const DOMAIN: &str = "change-approval:";

/// `change.revision.user.expires.signature`, URL-safe.
pub fn sign(key: &[u8], c: &ApprovalClaim) -> String {
    let payload = format!("{}.{}.{}.{}", c.change_id.simple(), c.revision, c.user_id.simple(), c.expires);
    let sig = hex::encode(crate::escalation::mac(key, &format!("{DOMAIN}{payload}")).finalize().into_bytes());
    format!("{payload}.{sig}")
}

/// Checks a token's signature and expiry (`now` in epoch seconds).
pub fn verify(key: &[u8], token: &str, now: i64) -> Result<ApprovalClaim> {
    let bad = || Error::invalid("token", "this approval link is not valid; open the change in Opsdeck");
    let (payload, sig) = token.rsplit_once('.').ok_or_else(bad)?;
    let sig = hex::decode(sig).map_err(|_| bad())?;
    crate::escalation::mac(key, &format!("{DOMAIN}{payload}")).verify_slice(&sig).map_err(|_| bad())?;
    let mut parts = payload.split('.');
    let (Some(change), Some(revision), Some(user), Some(exp), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let claim = ApprovalClaim {
        change_id: Uuid::parse_str(change).map_err(|_| bad())?,
        revision: revision.parse().map_err(|_| bad())?,
        user_id: Uuid::parse_str(user).map_err(|_| bad())?,
        expires: exp.parse().map_err(|_| bad())?,
    };
    if claim.expires < now {
        return Err(Error::invalid("token", "this approval link has expired; open the change in Opsdeck"));
    }
    Ok(claim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_links_verify_expire_and_cannot_be_bent() {
        let c = ApprovalClaim { change_id: Uuid::now_v7(), revision: 3, user_id: Uuid::now_v7(), expires: 1_000 };
        let t = sign(b"k", &c);
        assert_eq!(verify(b"k", &t, 999).unwrap(), c);
        assert!(verify(b"k", &t, 1_001).is_err(), "expired");
        assert!(verify(b"other", &t, 999).is_err(), "wrong key");
        let other_revision = t.replacen(".3.", ".4.", 1);
        assert!(verify(b"k", &other_revision, 999).is_err(), "tampered");
        assert!(verify(b"k", "garbage", 0).is_err());
        // An incident link signed with the same key is not an approval link.
        let incident = crate::escalation::sign_link(
            b"k",
            &crate::escalation::LinkClaim {
                incident_id: c.change_id,
                action: crate::escalation::LinkAction::View,
                user_id: Some(c.user_id),
                expires: 1_000,
            },
        );
        assert!(verify(b"k", &incident, 0).is_err());
    }
}
