//! Where Opsdeck's outbound requests (webhooks, chat, PagerDuty) may go. A person who may add a
//! webhook contact method could otherwise make the server call its cloud metadata service or
//! other link-local addresses. By default those are refused; `[egress]` in `opsdeck.toml` adds
//! networks to refuse (`deny`) or to permit despite that (`allow`, which wins).
//!
//! The check runs on the addresses a name resolves to (a DNS resolver for the HTTP client), so
//! a name pointing at a refused address is refused too; an address written in the URL is
//! checked before sending. Redirects are not followed (see `send.rs`).

use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// `[egress]` in the configuration file.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressConfig {
    /// Networks that may be reached even if refused below or by default, e.g. `["169.254.10.0/24"]`.
    #[serde(default)]
    pub allow: Vec<IpNet>,
    /// Networks never to reach, besides the defaults, e.g. `["10.0.0.0/8"]`.
    #[serde(default)]
    pub deny: Vec<IpNet>,
}

/// Refused unless allowed: link-local addresses (IPv4 169.254/16 holds the metadata services of
/// AWS, GCP and Azure), AWS's IPv6 metadata address, Alibaba's metadata address, and "this
/// network" (0/8).
const DENIED_BY_DEFAULT: &[&str] =
    &["169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "100.100.100.200/32", "0.0.0.0/8"];

#[derive(Debug, Clone)]
pub struct EgressPolicy {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
}

impl Default for EgressPolicy {
    fn default() -> Self {
        EgressPolicy::new(&EgressConfig::default())
    }
}

impl EgressPolicy {
    pub fn new(cfg: &EgressConfig) -> EgressPolicy {
        let defaults = DENIED_BY_DEFAULT.iter().filter_map(|n| n.parse::<IpNet>().ok());
        EgressPolicy { allow: cfg.allow.clone(), deny: defaults.chain(cfg.deny.iter().copied()).collect() }
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        // An IPv4 address written as IPv6 (mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, or
        // NAT64 64:ff9b::a.b.c.d) is judged as the IPv4 address it reaches.
        let ip = match ip {
            IpAddr::V6(v6) => {
                let o = v6.octets();
                let v4 = IpAddr::V4(std::net::Ipv4Addr::new(o[12], o[13], o[14], o[15]));
                let nat64 = o[..12] == [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0];
                // IPv4-compatible (deprecated): 96 zero bits, then an address (not ::1 or ::).
                let compatible = o[..12] == [0; 12] && o[12] != 0;
                match v6.to_ipv4_mapped() {
                    Some(mapped) => IpAddr::V4(mapped),
                    None if nat64 || compatible => v4,
                    None => ip,
                }
            }
            v4 => v4,
        };
        self.allow.iter().any(|n| n.contains(&ip)) || !self.deny.iter().any(|n| n.contains(&ip))
    }

    /// A refusal for `url` when its host is an address the policy refuses.
    pub fn check_url(&self, url: &str) -> Result<(), String> {
        let host = reqwest::Url::parse(url).ok().and_then(|u| u.host().map(|h| h.to_owned()));
        let ip = match host {
            Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
            _ => return Ok(()),
        };
        if self.permits(ip) { Ok(()) } else { Err(refused(&ip.to_string())) }
    }
}

/// How every refusal starts (the sender treats it as permanent).
pub const REFUSED: &str = "the egress policy refuses";

fn refused(what: &str) -> String {
    format!("{REFUSED} {what} (link-local and metadata addresses; see [egress] in opsdeck.toml)")
}

/// The HTTP client's DNS resolver: the system's answers, minus refused addresses.
pub struct FilteringResolver(pub Arc<EgressPolicy>);

impl reqwest::dns::Resolve for FilteringResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitted: Vec<SocketAddr> = found.iter().copied().filter(|a| policy.permits(a.ip())).collect();
            if permitted.is_empty() && !found.is_empty() {
                return Err(refused(&host).into());
            }
            Ok(Box::new(permitted.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_link_local_are_refused_unless_allowed() {
        let p = EgressPolicy::default();
        for bad in [
            "169.254.169.254",
            "fe80::1",
            "::ffff:169.254.169.254",
            "::169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "100.100.100.200",
            "0.0.0.0",
        ] {
            assert!(!p.permits(bad.parse().unwrap()), "{bad}");
        }
        for good in ["127.0.0.1", "10.1.2.3", "203.0.113.7", "::1"] {
            assert!(p.permits(good.parse().unwrap()), "{good}");
        }
        assert!(p.check_url("http://169.254.169.254/latest/meta-data/").is_err());
        assert!(p.check_url("http://[::ffff:a9fe:a9fe]/").is_err());
        assert!(p.check_url("https://hooks.slack.com/services/x").is_ok());
        let cfg =
            EgressConfig { allow: vec!["169.254.10.0/24".parse().unwrap()], deny: vec!["10.0.0.0/8".parse().unwrap()] };
        let p = EgressPolicy::new(&cfg);
        assert!(p.permits("169.254.10.5".parse().unwrap()) && !p.permits("10.9.9.9".parse().unwrap()));
    }
}
