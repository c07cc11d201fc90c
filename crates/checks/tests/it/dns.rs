use crate::peers::{self, probe};
use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, MX, TXT};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use opsdeck_core::monitor::{CheckStatus, MonitorType::Dns};
use serde_json::json;
use std::net::SocketAddr;
use tokio::net::UdpSocket;

/// The zone: svc.test has two A records, an MX and a TXT, and nothing else exists.
fn answer(req: &Message) -> Message {
    let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
    resp.metadata.authoritative = true;
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.metadata.recursion_available = true;
    resp.queries = req.queries.clone();
    let Some(q) = req.queries.first() else {
        resp.metadata.response_code = ResponseCode::FormErr;
        return resp;
    };
    if q.name.to_ascii().to_lowercase().trim_end_matches('.') != "svc.test" {
        resp.metadata.response_code = ResponseCode::NXDomain;
        return resp;
    }
    let rdata = match q.query_type {
        RecordType::A => vec![RData::A(A::new(10, 1, 2, 3)), RData::A(A::new(10, 1, 2, 4))],
        RecordType::MX => vec![RData::MX(MX::new(10, Name::from_ascii("mail.svc.test.").expect("name")))],
        RecordType::TXT => vec![RData::TXT(TXT::new(vec!["v=spf1 ".into(), "-all".into()]))],
        // The name exists without records of this type: NOERROR, no answers (NODATA).
        _ => vec![],
    };
    for r in rdata {
        resp.add_answer(Record::from_rdata(q.name.clone(), 60, r));
    }
    resp
}

/// A real DNS server on UDP 127.0.0.1, answering from the zone above.
async fn dns_server() -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let addr = sock.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, from)) = sock.recv_from(&mut buf).await else { continue };
            // Garbage gets no answer, as from a real server.
            let Ok(req) = Message::from_vec(&buf[..n]) else { continue };
            if let Ok(bytes) = answer(&req).to_vec() {
                let _ = sock.send_to(&bytes, from).await;
            }
        }
    });
    addr
}

#[tokio::test]
async fn a_records_from_a_given_resolver_must_include_the_expected_ones() {
    let server = dns_server().await;
    let p = peers::prober();
    let check =
        |expected: serde_json::Value| json!({"name": "svc.test", "resolver": server.to_string(), "expected": expected});
    let o = probe(&p, Dns, check(json!(["10.1.2.4"]))).await;
    assert_eq!((o.status, o.reason.as_str()), (CheckStatus::Up, "A svc.test: 10.1.2.3, 10.1.2.4"), "{o:?}");
    assert_eq!(o.details["answers"], json!(["10.1.2.3", "10.1.2.4"]));
    assert_eq!(o.details["resolver"], server.to_string());
    assert!(o.latency_ms.is_some());

    let o = probe(&p, Dns, check(json!(["10.1.2.3", "10.9.9.9"]))).await;
    assert_eq!(
        (o.status, o.reason.as_str()),
        (CheckStatus::Down, "expected 10.9.9.9 not among the answers (10.1.2.3, 10.1.2.4)")
    );
}

#[tokio::test]
async fn missing_names_and_missing_record_types_are_down() {
    let server = dns_server().await;
    let p = peers::prober();
    let o = probe(&p, Dns, json!({"name": "nope.test", "resolver": server.to_string()})).await;
    assert_eq!((o.status, o.reason.as_str()), (CheckStatus::Down, "NXDOMAIN: nope.test does not exist"));
    assert_eq!(o.details, json!({"answers": [], "resolver": server.to_string()}));
    let o = probe(&p, Dns, json!({"name": "svc.test", "record_type": "AAAA", "resolver": server.to_string()})).await;
    assert_eq!((o.status, o.reason.as_str()), (CheckStatus::Down, "no AAAA records for svc.test"));
}

#[tokio::test]
async fn mx_and_txt_answers_compare_without_case_or_root_dot() {
    let server = dns_server().await;
    let p = peers::prober();
    let mx = json!({"name": "svc.test.", "record_type": "MX", "resolver": server.to_string(),
        "expected": ["MAIL.svc.test."]});
    let o = probe(&p, Dns, mx).await;
    assert_eq!(o.status, CheckStatus::Up, "{o:?}");
    assert_eq!(o.details["answers"], json!(["10 mail.svc.test"]));
    let txt =
        json!({"name": "svc.test", "record_type": "TXT", "resolver": server.to_string(), "expected": ["V=SPF1 -all"]});
    let o = probe(&p, Dns, txt).await;
    assert_eq!(o.status, CheckStatus::Up, "{o:?}");
    assert_eq!(o.details["answers"], json!(["v=spf1 -all"]));
}

#[tokio::test]
async fn the_system_resolver_answers_for_localhost() {
    let o = probe(&peers::prober(), Dns, json!({"name": "localhost", "expected": ["127.0.0.1"]})).await;
    assert_eq!((o.status, o.reason.as_str()), (CheckStatus::Up, "A localhost: 127.0.0.1"), "{o:?}");
    assert_eq!(o.details["resolver"], "system");
}
