//! DNS probe: ask the system's resolvers or a given server, and check the answers.

use crate::{millis, net, truncate_chars};
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{Resolver, TokioResolver};
use opsdeck_core::monitor::{CheckOutcome, DnsRecordType, DnsSettings};
use serde_json::json;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// Resolvers keyed by server (None: the system configuration), built on first use. Their answer
/// caches are off: a monitor must see what DNS says now, not what it said an hour ago.
#[derive(Default)]
pub(crate) struct Resolvers {
    cache: Mutex<HashMap<Option<SocketAddr>, TokioResolver>>,
}

impl Resolvers {
    fn get(&self, server: Option<SocketAddr>) -> Result<TokioResolver, String> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = cache.get(&server) {
            return Ok(r.clone());
        }
        let mut builder = match server {
            None => TokioResolver::builder_tokio()
                .map_err(|e| format!("cannot read the system resolver configuration: {e}"))?,
            Some(addr) => {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                let mut b = Resolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![ns]),
                    TokioRuntimeProvider::default(),
                );
                // Asking a given server means asking it, not /etc/hosts.
                b.options_mut().use_hosts_file = ResolveHosts::Never;
                b
            }
        };
        let opts: &mut ResolverOpts = builder.options_mut();
        opts.cache_size = 0;
        opts.positive_max_ttl = Some(std::time::Duration::ZERO);
        opts.negative_max_ttl = Some(std::time::Duration::ZERO);
        let resolver = builder.build().map_err(|e| format!("cannot set up the resolver: {e}"))?;
        cache.insert(server, resolver.clone());
        Ok(resolver)
    }
}

fn record_type(t: DnsRecordType) -> RecordType {
    match t {
        DnsRecordType::A => RecordType::A,
        DnsRecordType::Aaaa => RecordType::AAAA,
        DnsRecordType::Cname => RecordType::CNAME,
        DnsRecordType::Mx => RecordType::MX,
        DnsRecordType::Txt => RecordType::TXT,
        DnsRecordType::Ns => RecordType::NS,
    }
}

/// `IP` or `IP:PORT` (`[v6]:PORT`), port 53 by default.
fn server_addr(s: &str) -> Option<SocketAddr> {
    s.parse::<SocketAddr>().ok().or_else(|| net::bare_host(s).parse::<IpAddr>().ok().map(|ip| (ip, 53).into()))
}

/// For comparisons: case and the root dot do not matter, nor how an IP address is written.
fn normalize(s: &str) -> String {
    let s = s.trim().trim_end_matches('.').to_lowercase();
    s.parse::<IpAddr>().map(|ip| ip.to_string()).unwrap_or(s)
}

/// An answer as shown, plus the forms an expected value may take (an MX matches by its host
/// alone too).
fn answer_forms(data: &RData) -> (String, Vec<String>) {
    let shown = data.to_string().trim_end_matches('.').to_owned();
    let mut forms = vec![normalize(&shown)];
    if let RData::MX(mx) = data {
        forms.push(normalize(&mx.exchange.to_string()));
    }
    (shown, forms)
}

pub(crate) async fn probe(resolvers: &Resolvers, s: &DnsSettings) -> CheckOutcome {
    let server = match s.resolver.as_deref().map(|r| (r, server_addr(r))) {
        None => None,
        Some((_, Some(addr))) => Some(addr),
        Some((r, None)) => return CheckOutcome::down(None, format!("resolver {r:?} is not an IP address")),
    };
    let resolver = match resolvers.get(server) {
        Ok(r) => r,
        Err(reason) => return CheckOutcome::down(None, reason),
    };
    let rtype = record_type(s.record_type);
    let server_shown = server.map_or_else(|| "system".to_owned(), |a| a.to_string());
    let start = Instant::now();
    let result = resolver.lookup(s.name.as_str(), rtype).await;
    let latency = millis(start.elapsed());
    let lookup = match result {
        Ok(l) => l,
        Err(e) => {
            return CheckOutcome::down(Some(latency), describe(&e, &s.name, rtype))
                .with_details(json!({ "answers": [], "resolver": server_shown }));
        }
    };
    // Intermediate CNAMEs of an A lookup are kept by the resolver; the check is about `rtype`.
    let (shown, forms): (Vec<String>, Vec<Vec<String>>) =
        lookup.answers().iter().filter(|r| r.record_type() == rtype).map(|r| answer_forms(&r.data)).unzip();
    let details = json!({ "answers": shown, "resolver": server_shown });
    let listed = truncate_chars(&shown.join(", "), 300);
    if shown.is_empty() {
        return CheckOutcome::down(Some(latency), format!("no {rtype} records for {}", s.name)).with_details(details);
    }
    let missing: Vec<&str> = s
        .expected
        .iter()
        .filter(|e| {
            let e = normalize(e);
            !forms.iter().flatten().any(|f| *f == e)
        })
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        let why = format!("expected {} not among the answers ({listed})", missing.join(", "));
        return CheckOutcome::down(Some(latency), why).with_details(details);
    }
    CheckOutcome::up(latency, format!("{rtype} {}: {listed}", s.name)).with_details(details)
}

fn describe(e: &NetError, name: &str, rtype: RecordType) -> String {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(nr)) if nr.response_code == ResponseCode::NXDomain => {
            format!("NXDOMAIN: {name} does not exist")
        }
        NetError::Dns(DnsError::NoRecordsFound(_)) => format!("no {rtype} records for {name}"),
        NetError::Dns(DnsError::ResponseCode(code)) => {
            format!("the DNS server answered {}", format!("{code:?}").to_uppercase())
        }
        NetError::Timeout => "DNS query timed out".into(),
        NetError::Io(io) => format!("DNS query failed: {}", net::describe_io(io)),
        NetError::NoConnections => "no DNS server could be reached".into(),
        other => format!("DNS lookup failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_servers_and_normalizes_answers() {
        assert_eq!(server_addr("10.0.0.1").map(|a| a.to_string()).as_deref(), Some("10.0.0.1:53"));
        assert_eq!(server_addr("[::1]:5353").map(|a| a.port()), Some(5353));
        assert_eq!(server_addr("dns.google"), None);
        assert_eq!(normalize("Mail.Example.COM."), "mail.example.com");
        assert_eq!(normalize("2001:DB8:0::1"), "2001:db8::1");
    }
}
