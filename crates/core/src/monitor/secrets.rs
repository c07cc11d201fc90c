//! Secrets in monitor settings are write-only: readers get [`Settings::redacted`], and an update
//! that sends the mask (or leaves a secret blank) keeps the stored value ([`Settings::keep_secrets`]).

use super::settings::{HttpAuth, Settings};
use crate::secret::{MASK, keeps_stored, redact_url_credentials};

impl Settings {
    /// The settings as a reader may see them: authentication secrets and header values masked,
    /// credentials in the URL hidden. Everything else (the target, the assertions) stays.
    pub fn redacted(&self) -> Settings {
        let mut out = self.clone();
        if let Settings::Http(h) = &mut out {
            h.url = redact_url_credentials(&h.url);
            for v in h.headers.values_mut() {
                *v = MASK.to_owned();
            }
            match &mut h.auth {
                Some(HttpAuth::Basic { password, .. }) => *password = MASK.to_owned(),
                Some(HttpAuth::Bearer { token }) => *token = MASK.to_owned(),
                None => {}
            }
        }
        out
    }

    /// Puts back the stored secrets that an update left masked or blank: the same kind of
    /// authentication, a header of the same name, the URL as it was shown. Only toward the same
    /// scheme, host and port: a kept secret must not be sent to a new destination by someone who
    /// may change the monitor but never saw the secret.
    pub fn keep_secrets(&mut self, stored: &Settings) -> crate::Result<()> {
        let (Settings::Http(new), Settings::Http(old)) = (self, stored) else { return Ok(()) };
        if new.url == redact_url_credentials(&old.url) {
            new.url.clone_from(&old.url);
        }
        let origin = |u: &str| url::Url::parse(u).ok().map(|u| u.origin());
        let masked_header = new.headers.values().any(|v| v == MASK);
        let masked_auth = match &new.auth {
            Some(HttpAuth::Basic { password, .. }) => keeps_stored(password) && old.auth.is_some(),
            Some(HttpAuth::Bearer { token }) => keeps_stored(token) && old.auth.is_some(),
            None => false,
        };
        if (masked_header || masked_auth) && origin(&new.url) != origin(&old.url) {
            return Err(crate::Error::invalid(
                "settings",
                "the target's host changed: enter the password, token and header values again",
            ));
        }
        for (name, value) in &mut new.headers {
            if value == MASK
                && let Some(kept) = old.headers.get(name)
            {
                value.clone_from(kept);
            }
        }
        match (&mut new.auth, &old.auth) {
            (Some(HttpAuth::Basic { password, .. }), Some(HttpAuth::Basic { password: kept, .. }))
                if keeps_stored(password) =>
            {
                password.clone_from(kept);
            }
            (Some(HttpAuth::Bearer { token }), Some(HttpAuth::Bearer { token: kept })) if keeps_stored(token) => {
                token.clone_from(kept);
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::MonitorType;
    use serde_json::json;

    fn http(v: serde_json::Value) -> Settings {
        Settings::parse(MonitorType::Http, v).unwrap()
    }

    #[test]
    fn readers_see_no_secret_and_writers_keep_them() {
        let stored = http(json!({
            "url": "https://u:pw-secret@example.com/health?apikey=key-secret",
            "headers": {"X-Api-Key": "hdr-secret"},
            "auth": {"type": "bearer", "token": "tok-secret"}
        }));
        let shown = serde_json::to_string(&stored.redacted()).unwrap();
        for secret in ["pw-secret", "key-secret", "hdr-secret", "tok-secret"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        // Sending back what was shown changes nothing.
        let mut back = stored.redacted();
        back.keep_secrets(&stored).unwrap();
        assert_eq!(back, stored);
        // A blank token keeps the stored one; a new value replaces it; another auth kind does not
        // inherit the old secret.
        let mut blank = http(json!({"url": "https://example.com/", "auth": {"type": "bearer", "token": ""}}));
        blank.keep_secrets(&stored).unwrap();
        let Settings::Http(h) = &blank else { unreachable!() };
        assert_eq!(h.auth, Some(HttpAuth::Bearer { token: "tok-secret".into() }));
        let mut basic =
            http(json!({"url": "https://example.com/", "auth": {"type": "basic", "username": "a", "password": ""}}));
        basic.keep_secrets(&stored).unwrap();
        let Settings::Http(h) = &basic else { unreachable!() };
        assert_eq!(h.auth, Some(HttpAuth::Basic { username: "a".into(), password: String::new() }));
        // A kept secret never follows the monitor to another host.
        let mut moved = stored.redacted();
        if let Settings::Http(h) = &mut moved {
            h.url = "https://elsewhere.example/health".into();
        }
        assert!(moved.keep_secrets(&stored).is_err());
    }
}
