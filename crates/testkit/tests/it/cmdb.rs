//! The CMDB through the API: CIs and their rules, relations, impact walks with redundancy,
//! search, monitor binding, imports (all or nothing, dry runs, missing-in-source policies) and
//! the Ansible inventory.

use opsdeck_core::role::Role;
use opsdeck_testkit::{StatusCode, TestServer, backend_tests};
use serde_json::{Value, json};

backend_tests!(
    cis_relate_and_impact_what_relies_on_them,
    imports_are_all_or_nothing_and_track_their_source,
    an_incident_shows_the_blast_radius_of_its_alerts,
    a_fifty_megabyte_import_with_one_bad_row_writes_nothing,
    the_lifecycle_report_lists_what_ends_soon,
);

async fn ci(srv: &TestServer, token: &str, body: Value) -> String {
    let (s, c) = srv.post("/api/v1/cis", token, body).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c["id"].as_str().unwrap().to_owned()
}

async fn relate(srv: &TestServer, token: &str, source: &str, kind: &str, target: &str) -> Value {
    let (s, r) =
        srv.post("/api/v1/ci-relations", token, json!({"source_id": source, "target_id": target, "type": kind})).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    r
}

fn names(v: &Value) -> Vec<String> {
    let mut out: Vec<String> =
        v["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect();
    out.sort();
    out
}

async fn cis_relate_and_impact_what_relies_on_them(srv: &TestServer) {
    let mgr = srv.token("mgr", Role::Manager).await;
    let viewer = srv.token("view", Role::Viewer).await;
    let body = json!({"name": "db-01", "class": "database", "identity": "db-01.prod",
        "attributes": {"engine": "postgres 16", "cpus": 8, "replica": false}, "tags": ["pci"],
        "environment": "production"});
    assert_eq!(srv.post("/api/v1/cis", &viewer, body.clone()).await.0, StatusCode::FORBIDDEN);
    let db = ci(srv, &mgr, body.clone()).await;
    let (s, e) = srv.post("/api/v1/cis", &mgr, body).await;
    assert_eq!(s, StatusCode::CONFLICT, "a second CI with one identity: {e}");

    // Every wrong field is named at once.
    let (s, e) = srv
        .post("/api/v1/cis", &mgr, json!({"name": " ", "class": "toaster", "attributes": {"Bad Key": 1}, "min_up": 0}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> =
        e["error"]["details"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["name", "class", "attributes", "min_up"], "{e}");
    let (s, e) = srv.post("/api/v1/cis", &mgr, json!({"name": "x", "class": "server", "service_id": db})).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("service_id")));

    // checkout (a business service) depends on the app; the app runs on a cluster of three
    // nodes (two must be up) and depends on the database.
    let (_, svc) = srv.post("/api/v1/services", &mgr, json!({"name": "Checkout"})).await;
    let checkout =
        ci(srv, &mgr, json!({"name": "Checkout", "class": "business_service", "service_id": svc["id"]})).await;
    let app = ci(srv, &mgr, json!({"name": "checkout-api", "class": "application"})).await;
    let cluster = ci(srv, &mgr, json!({"name": "k8s-prod", "class": "container", "min_up": 2})).await;
    let mut nodes = Vec::new();
    for n in 1..=3 {
        let node = ci(srv, &mgr, json!({"name": format!("node-{n}"), "class": "vm"})).await;
        relate(srv, &mgr, &node, "member_of", &cluster).await;
        nodes.push(node);
    }
    relate(srv, &mgr, &checkout, "depends_on", &app).await;
    relate(srv, &mgr, &app, "runs_on", &cluster).await;
    let r = relate(srv, &mgr, &app, "depends_on", &db).await;
    assert_eq!(r["label"], "Depends on");
    let (s, _) =
        srv.post("/api/v1/ci-relations", &mgr, json!({"source_id": app, "target_id": db, "type": "depends_on"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) =
        srv.post("/api/v1/ci-relations", &mgr, json!({"source_id": app, "target_id": app, "type": "runs_on"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    let (s, imp) = srv.get(&format!("/api/v1/cis/{db}/impact"), &viewer).await;
    assert_eq!(s, StatusCode::OK, "{imp}");
    assert_eq!(names(&imp), ["Checkout", "checkout-api"]);
    let svc_item = imp["items"].as_array().unwrap().iter().find(|i| i["name"] == "Checkout").unwrap();
    assert_eq!((svc_item["depth"].as_u64(), svc_item["service"].as_bool()), (Some(2), Some(true)));
    assert_eq!(svc_item["service_id"], svc["id"]);
    assert_eq!(svc_item["path"], json!([db, app, checkout]));
    let (_, one) = srv.get(&format!("/api/v1/cis/{db}/impact?depth=1"), &viewer).await;
    assert_eq!(names(&one), ["checkout-api"]);

    // Redundancy: one node down leaves the cluster up; two take it and what runs on it down.
    let (_, imp) = srv.get(&format!("/api/v1/cis/{}/impact", nodes[0]), &viewer).await;
    assert_eq!(names(&imp), Vec::<String>::new());
    let (s, imp) = srv.post("/api/v1/cis/impact", &viewer, json!({"ids": [nodes[0], nodes[1]]})).await;
    assert_eq!(s, StatusCode::OK, "{imp}");
    assert_eq!(names(&imp), ["Checkout", "checkout-api", "k8s-prod"]);

    // A retired member no longer counts as up: with node-3 retired, node-1 alone takes the
    // cluster below 2 of 3.
    let (s, r) = srv
        .put(
            &format!("/api/v1/cis/{}", nodes[2]),
            &mgr,
            json!({"name": "node-3", "class": "vm",
        "status": "retired"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (_, imp) = srv.get(&format!("/api/v1/cis/{}/impact", nodes[0]), &viewer).await;
    assert_eq!(names(&imp), ["Checkout", "checkout-api", "k8s-prod"]);
    srv.put(&format!("/api/v1/cis/{}", nodes[2]), &mgr, json!({"name": "node-3", "class": "vm"})).await;

    // The reverse walk: what the service relies on.
    let (_, dep) = srv.get(&format!("/api/v1/cis/{checkout}/impact?direction=depends_on"), &viewer).await;
    assert_eq!(names(&dep), ["checkout-api", "db-01", "k8s-prod", "node-1", "node-2", "node-3"]);
    let (s, _) = srv.get(&format!("/api/v1/cis/{db}/impact?depth=21"), &viewer).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Search: word prefixes over names, identities, tags and text attributes.
    for (q, expect) in
        [("postgres", vec!["db-01"]), ("node", vec!["node-1", "node-2", "node-3"]), ("db-01.pr", vec!["db-01"])]
    {
        let (s, found) = srv.get(&format!("/api/v1/cis?q={q}"), &viewer).await;
        assert_eq!(s, StatusCode::OK, "{found}");
        assert_eq!(names(&found), expect, "q={q}");
    }
    let (_, vms) = srv.get("/api/v1/cis?class=vm&limit=2", &viewer).await;
    assert_eq!(vms["items"].as_array().unwrap().len(), 2);
    assert!(vms["next_cursor"].is_string());

    // A monitor bound to the database shows on its page; deleting the CI unbinds it and drops
    // its relations.
    let (_, m) = srv
        .post(
            "/api/v1/monitors",
            &mgr,
            json!({"name": "db port", "type": "tcp", "settings": {"host": "127.0.0.1", "port": 1}}),
        )
        .await;
    let mid = m["id"].as_str().unwrap();
    assert_eq!(srv.put(&format!("/api/v1/cis/{db}/monitors/{mid}"), &viewer, json!({})).await.0, StatusCode::FORBIDDEN);
    assert_eq!(srv.put(&format!("/api/v1/cis/{db}/monitors/{mid}"), &mgr, json!({})).await.0, StatusCode::NO_CONTENT);
    let (_, detail) = srv.get(&format!("/api/v1/cis/{db}"), &viewer).await;
    assert_eq!(detail["monitors"][0]["name"], "db port");
    assert_eq!(detail["relations"][0]["label"], "Used by", "{detail}");
    assert_eq!(detail["attributes"], json!({"cpus": 8, "engine": "postgres 16", "replica": false}));
    let (s, _) = srv.delete(&format!("/api/v1/cis/{app}/monitors/{mid}"), &mgr).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "the monitor is bound to db-01, not to the app");
    assert_eq!(srv.delete(&format!("/api/v1/cis/{db}"), &mgr).await.0, StatusCode::NO_CONTENT);
    let (_, app_now) = srv.get(&format!("/api/v1/cis/{app}"), &viewer).await;
    assert!(app_now["relations"].as_array().unwrap().iter().all(|r| r["other_name"] != "db-01"));
    assert_eq!(srv.get(&format!("/api/v1/cis/{db}"), &viewer).await.0, StatusCode::NOT_FOUND);

    // The page's relation form takes a name, and says which field is wrong.
    let cookie = srv.login("mgr", "password-mgr").await.unwrap();
    let (_, notice) = srv
        .form(&format!("/cmdb/{app}/relations"), &cookie, &[("relation", "out:depends_on"), ("other", "nope")])
        .await;
    assert!(notice.contains("no CI is named"), "{notice}");
    let (_, notice) = srv
        .form(&format!("/cmdb/{app}/relations"), &cookie, &[("relation", "in:depends_on"), ("other", "node-1")])
        .await;
    assert!(notice.starts_with("Related to"), "{notice}");
    let (_, page) = srv.page(&format!("/cmdb/{app}"), &cookie).await;
    assert!(page.contains("impact-graph") && page.contains("node-1"), "the CI page draws its impact");
}

pub(crate) async fn import(srv: &TestServer, token: &str, query: &str, body: &str) -> (StatusCode, Value) {
    let r = srv
        .http
        .post(format!("{}/api/v1/cmdb/import?{query}", srv.url))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Sends an import announcing `length` bytes but only `sent` of them, then reads the answer:
/// a client still writing a refused body may see the connection close before the answer, so
/// this one stops writing first (and ignores a write the server cut short).
async fn send_part(srv: &TestServer, token: &str, length: usize, sent: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = srv.url.trim_start_matches("http://").to_owned();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/cmdb/import?format=csv HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: text/csv\r\nContent-Length: {length}\r\n\r\n"
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'x'; 1024 * 1024];
    let mut left = sent;
    while left > 0 {
        let n = left.min(chunk.len());
        if sock.write_all(&chunk[..n]).await.is_err() {
            break;
        }
        left -= n;
    }
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(std::time::Duration::from_secs(30), sock.read(&mut buf))
        .await
        .expect("an answer once the limit is passed")
        .unwrap_or(0);
    let line = String::from_utf8_lossy(&buf[..n]);
    line.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

async fn imports_are_all_or_nothing_and_track_their_source(srv: &TestServer) {
    let mgr = srv.token("mgr", Role::Manager).await;
    let (_, team) = srv.post("/api/v1/teams", &mgr, json!({"name": "Platform"})).await;
    let team_slug = team["slug"].as_str().unwrap();
    let csv = format!(
        "identity,name,class,environment,owner_team,tags,depends_on,os\n\
         web-1,Web 1,server,prod,{team_slug},web;pci,db-1,debian\n\
         web-2,Web 2,server,prod,,web,db-1,debian\n\
         db-1,DB 1,database,prod,,,,\n"
    );
    let (s, dry) = import(srv, &mgr, "format=csv&dry_run=true", &csv).await;
    assert_eq!(s, StatusCode::OK, "{dry}");
    assert_eq!((dry["created"].as_u64(), dry["relations_created"].as_u64()), (Some(3), Some(2)), "{dry}");
    let (_, none) = srv.get("/api/v1/cis", &mgr).await;
    assert!(none["items"].as_array().unwrap().is_empty(), "a dry run writes nothing");

    let (s, done) = import(srv, &mgr, "format=csv", &csv).await;
    assert_eq!((s, done["created"].as_u64()), (StatusCode::OK, Some(3)), "{done}");
    let (_, web) = srv.get("/api/v1/cis?q=web", &mgr).await;
    let w1 = web["items"].as_array().unwrap().iter().find(|c| c["identity"] == "web-1").unwrap().clone();
    assert_eq!((w1["source"].as_str(), w1["owner_team_name"].as_str()), (Some("csv"), Some("Platform")));
    assert_eq!(w1["attributes"]["os"], "debian");

    // The same file again changes nothing; a changed one updates and, with `retire`, retires
    // what it no longer lists and drops the relations it no longer has.
    let (_, again) = import(srv, &mgr, "format=csv", &csv).await;
    assert_eq!((again["unchanged"].as_u64(), again["relations_kept"].as_u64()), (Some(3), Some(2)), "{again}");
    let changed = "identity,name,class,depends_on,os\nweb-1,Web 1,server,db-1,debian 13\ndb-1,DB 1,database,,\n";
    let (s, r) = import(srv, &mgr, "format=csv&missing=retire", changed).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (r["updated"].as_u64(), r["missing"].as_u64(), r["missing_changed"].as_u64()),
        (Some(1), Some(1), Some(1)),
        "{r}"
    );
    assert_eq!(r["relations_removed"].as_u64(), Some(1), "{r}");
    // Fields a file does not carry keep their values: web-1's owner team.
    let (_, w1) = srv.get("/api/v1/cis?q=web-1", &mgr).await;
    assert_eq!(w1["items"][0]["owner_team_name"], "Platform", "{w1}");
    assert_eq!(w1["items"][0]["attributes"]["os"], "debian 13");
    let (_, retired) = srv.get("/api/v1/cis?status=retired", &mgr).await;
    assert_eq!(names(&retired), ["Web 2"]);

    // Bad rows: every one reported, nothing written.
    let bad = "identity,name,class,depends_on\nnew-1,New,toaster,\nweb-1,Dup A,server,\nweb-1,Dup B,server,\n\
               new-2,New 2,server,ghost\n";
    let (s, e) = import(srv, &mgr, "format=csv", bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let rows = e["error"]["details"]["rows"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["row"] == 2 && r["message"].as_str().unwrap().starts_with("class")), "{e}");
    assert!(rows.iter().any(|r| r["row"] == 4 && r["message"].as_str().unwrap().contains("also on row")), "{e}");
    let (s, e) = import(srv, &mgr, "format=csv", "identity,name,class,depends_on\nnew-2,New 2,server,ghost\n").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("\"ghost\""), "{e}");
    let (_, q) = srv.get("/api/v1/cis?q=new", &mgr).await;
    assert!(q["items"].as_array().unwrap().is_empty(), "nothing half-imported");
    let (s, _) = import(srv, &mgr, "format=json", "{\"items\": [").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(import(srv, &mgr, "format=yaml", "").await.0, StatusCode::BAD_REQUEST);
    // Beyond 64 MiB the file is refused as soon as the limit is passed, before it is read whole.
    assert_eq!(send_part(srv, &mgr, 65 * 1024 * 1024, 64 * 1024 * 1024 + 64 * 1024).await, 413);
    assert_eq!(
        import(srv, &mgr, "format=csv&source=%20csv", "identity,name,class\n").await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // The inventory lists the servers with their groups and variables.
    let (s, inv) = srv.get("/api/v1/cmdb/inventory", &mgr).await;
    assert_eq!(s, StatusCode::OK, "{inv}");
    assert_eq!(inv["_meta"]["hostvars"]["web-1"]["os"], "debian 13", "{inv}");
    assert!(inv["_meta"]["hostvars"].get("web-2").is_none(), "retired CIs leave the inventory");
    let (_, host) = srv.get("/api/v1/cmdb/inventory?host=web-1", &mgr).await;
    assert_eq!(host["os"], "debian 13");
}

async fn an_incident_shows_the_blast_radius_of_its_alerts(srv: &TestServer) {
    let mgr = srv.token("mgr", Role::Manager).await;
    let node = ci(srv, &mgr, json!({"name": "node-7", "class": "server", "identity": "n7.prod"})).await;
    let app = ci(srv, &mgr, json!({"name": "billing", "class": "application"})).await;
    let (_, svc) = srv.post("/api/v1/services", &mgr, json!({"name": "Billing"})).await;
    let biz = ci(srv, &mgr, json!({"name": "Billing", "class": "business_service", "service_id": svc["id"]})).await;
    relate(srv, &mgr, &app, "runs_on", &node).await;
    relate(srv, &mgr, &biz, "depends_on", &app).await;
    let sid = svc["id"].as_str().unwrap();
    let (_, it) =
        srv.post(&format!("/api/v1/services/{sid}/integrations"), &mgr, json!({"type": "alertmanager"})).await;
    let key = it["key"].as_str().unwrap();
    // An alert that names its CI by identity in a `ci` label.
    let body =
        json!([{"labels": {"alertname": "NodeDown", "instance": "n7", "ci": "n7.prod", "severity": "critical"}}]);
    let (s, _) = srv.post_raw("/api/v2/alerts", body.to_string(), Some(key)).await;
    assert_eq!(s, StatusCode::OK);
    let (_, incs) = srv.get("/api/v1/incidents", &mgr).await;
    let inc = incs["items"][0]["id"].as_str().unwrap().to_owned();
    let (s, blast) = srv.get(&format!("/api/v1/incidents/{inc}/blast-radius"), &mgr).await;
    assert_eq!(s, StatusCode::OK, "{blast}");
    assert_eq!(blast["failing"][0]["name"], "node-7", "{blast}");
    assert_eq!(names(&blast), ["Billing", "billing"]);
    let service = blast["items"].as_array().unwrap().iter().find(|i| i["service"] == true).unwrap();
    assert_eq!(service["service_id"], svc["id"]);
    let cookie = srv.login("mgr", "password-mgr").await.unwrap();
    let (_, page) = srv.page(&format!("/incidents/{inc}"), &cookie).await;
    assert!(page.contains("id=\"blast-radius\"") && page.contains("impacted-service"), "the incident page shows it");
    let (s, _) = srv.get("/api/v1/incidents/INC-999/blast-radius", &mgr).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn a_fifty_megabyte_import_with_one_bad_row_writes_nothing(srv: &TestServer) {
    let mgr = srv.token("mgr", Role::Manager).await;
    // 240,000 rows of about 212 bytes; the last one names an unknown class.
    let filler = "x".repeat(180);
    let mut csv = String::from("identity,name,class,description\n");
    for i in 0..240_000 {
        csv.push_str(&format!("host-{i:06},Host {i:06},server,{filler}\n"));
    }
    csv.push_str("host-last,Last,toaster,\n");
    assert!(csv.len() > 50_000_000, "{} bytes", csv.len());
    let (s, e) = import(srv, &mgr, "format=csv", &csv).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let rows = e["error"]["details"]["rows"].as_array().unwrap();
    assert_eq!((rows.len(), rows[0]["row"].as_u64()), (1, Some(240_002)), "{e}");
    assert!(rows[0]["message"].as_str().unwrap().starts_with("class"), "{e}");
    let (_, none) = srv.get("/api/v1/cis?limit=1", &mgr).await;
    assert!(none["items"].as_array().unwrap().is_empty(), "nothing half-imported");
}

async fn the_lifecycle_report_lists_what_ends_soon(srv: &TestServer) {
    let mgr = srv.token("mgr", Role::Manager).await;
    let day = |n: i64| (srv.now().date_naive() + chrono::Duration::days(n)).format("%Y-%m-%d").to_string();
    let (s, e) = srv
        .post("/api/v1/cis", &mgr, json!({"name": "x", "class": "server", "warranty_end": "31/12/2026", "cost": -5}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> =
        e["error"]["details"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["warranty_end", "cost"], "{e}");
    let (s, c) = srv
        .post(
            "/api/v1/cis",
            &mgr,
            json!({"name": "san-01", "class": "storage", "purchase_date": day(-1500), "cost": 48000.5,
                "warranty_end": day(20), "end_of_life": day(400)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!((c["cost"].as_f64(), c["refresh_due"].as_str()), (Some(48000.5), Some(day(20).as_str())));
    // Imported dates, and one already past (overdue).
    let csv = format!("identity,name,class,end_of_support,cost\nfw-1,fw-1,network_device,{},1200\n", day(-3));
    assert_eq!(import(srv, &mgr, "format=csv", &csv).await.0, StatusCode::OK);
    let (_, bad) = import(srv, &mgr, "format=csv", "identity,name,class,warranty_end\nfw-2,fw-2,server,soon\n").await;
    assert!(bad["error"]["details"]["rows"][0]["message"].as_str().unwrap().starts_with("warranty_end"), "{bad}");

    let (s, r) = srv.get("/api/v1/cmdb/lifecycle", &mgr).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let got: Vec<(String, String, i64)> = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (i["name"].as_str().unwrap().into(), i["event"].as_str().unwrap().into(), i["days_left"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(got, [("fw-1".into(), "end_of_support".into(), -3), ("san-01".into(), "warranty_end".into(), 20)]);
    let (_, year) = srv.get("/api/v1/cmdb/lifecycle?within_days=730", &mgr).await;
    assert_eq!(year["items"].as_array().unwrap().len(), 3, "the end of life in 400 days too");
    assert_eq!(srv.get("/api/v1/cmdb/lifecycle?within_days=5000", &mgr).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let cookie = srv.login("mgr", "password-mgr").await.unwrap();
    let (_, page) = srv.page("/cmdb/lifecycle", &cookie).await;
    assert!(page.contains("san-01") && page.contains("3 days ago"), "the report page lists them");
}
