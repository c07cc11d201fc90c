//! Custom attribute definitions: admins define typed attributes per class; CIs saved through
//! the API or the page and imported rows must conform (typed on the way in, references stored
//! as the referred CI's id); a definition removed leaves the values.

use opsdeck_core::role::Role;
use opsdeck_testkit::{StatusCode, TestServer, backend_tests};
use serde_json::{Value, json};

backend_tests!(defined_attributes_type_and_guard_cis_saved_and_imported);

async fn define(srv: &TestServer, token: &str, body: Value) -> Value {
    let (s, d) = srv.post("/api/v1/ci-attributes", token, body).await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    d
}

async fn import_csv(srv: &TestServer, token: &str, body: &str) -> (StatusCode, Value) {
    super::cmdb::import(srv, token, "format=csv", body).await
}

async fn defined_attributes_type_and_guard_cis_saved_and_imported(srv: &TestServer) {
    let admin = srv.token("admin", Role::Admin).await;
    let mgr = srv.token("mgr", Role::Manager).await;
    let tier = json!({"class": "server", "key": "tier", "label": "Support tier", "kind": "enum",
        "choices": ["gold", "silver"], "required": true});
    let (s, _) = srv.post("/api/v1/ci-attributes", &mgr, tier.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "admins define attributes");
    let tier_def = define(srv, &admin, tier.clone()).await;
    define(srv, &admin, json!({"class": "server", "key": "cpus", "kind": "number"})).await;
    define(srv, &admin, json!({"class": "server", "key": "bought", "kind": "date"})).await;
    define(srv, &admin, json!({"class": "server", "key": "san", "kind": "reference", "ref_class": "storage"})).await;
    let (s, e) = srv.post("/api/v1/ci-attributes", &admin, tier).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let (s, e) =
        srv.post("/api/v1/ci-attributes", &admin, json!({"class": "server", "key": "x", "kind": "enum"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e.to_string().contains("choices"), "{e}");
    let (_, list) = srv.get("/api/v1/ci-attributes?class=server", &mgr).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 4, "{list}");
    let (_, none) = srv.get("/api/v1/ci-attributes?class=vm", &mgr).await;
    assert!(none["items"].as_array().unwrap().is_empty());

    // A server must conform; values are typed on the way in; a reference is stored as an id.
    let (_, san) = srv.post("/api/v1/cis", &mgr, json!({"name": "san-1", "class": "storage"})).await;
    let (_, other) = srv.post("/api/v1/cis", &mgr, json!({"name": "vm-9", "class": "vm"})).await;
    let (s, e) = srv.post("/api/v1/cis", &mgr, json!({"name": "web-1", "class": "server"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e.to_string().contains("tier (Support tier) is required"), "{e}");
    let bad = json!({"name": "web-1", "class": "server",
        "attributes": {"tier": "bronze", "cpus": "eight", "bought": "yesterday"}});
    let (s, e) = srv.post("/api/v1/cis", &mgr, bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    for part in ["tier must be one of gold, silver", "cpus must be a number", "bought must be a date"] {
        assert!(e.to_string().contains(part), "{part}: {e}");
    }
    let wrong_class = json!({"name": "web-1", "class": "server", "attributes": {"tier": "gold", "san": "vm-9"}});
    let (s, e) = srv.post("/api/v1/cis", &mgr, wrong_class).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e.to_string().contains("san must refer to a storage CI"), "{e}");
    let good = json!({"name": "web-1", "class": "server",
        "attributes": {"tier": "gold", "cpus": "8", "bought": "2026-01-05", "san": "san-1", "os": "debian"}});
    let (s, web) = srv.post("/api/v1/cis", &mgr, good).await;
    assert_eq!(s, StatusCode::CREATED, "{web}");
    let a = &web["attributes"];
    assert_eq!((a["cpus"].clone(), a["san"].clone(), a["os"].clone()), (json!(8), san["id"].clone(), json!("debian")));
    assert_ne!(other["id"], a["san"]);

    // An import is checked row by row and writes nothing when a row does not conform.
    let csv = "identity,name,class,tier,cpus\nweb-2,web-2,server,silver,4\nweb-3,web-3,server,,2\n";
    let (s, e) = import_csv(srv, &mgr, csv).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["details"]["rows"][0]["row"], 3, "{e}");
    assert!(e.to_string().contains("tier (Support tier) is required"), "{e}");
    let (_, found) = srv.get("/api/v1/cis?q=web", &mgr).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "nothing imported: {found}");
    let csv = "identity,name,class,tier,cpus,san\nweb-2,web-2,server,silver,4,san-1\n";
    let (s, r) = import_csv(srv, &mgr, csv).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (_, found) = srv.get("/api/v1/cis?q=web", &mgr).await;
    let w2 = &found["items"].as_array().unwrap().iter().find(|c| c["identity"] == "web-2").unwrap()["attributes"];
    assert_eq!((w2["cpus"].clone(), w2["san"].clone()), (json!(4), san["id"].clone()), "{found}");

    // A re-import without the column keeps the values set before (a required one too).
    let (s, r) = import_csv(srv, &mgr, "identity,name,class\nweb-2,web-2,server\n").await;
    assert_eq!((s, r["unchanged"].as_u64()), (StatusCode::OK, Some(1)), "{r}");
    // A reference in an import names a CI of the class asked for.
    let (s, e) = import_csv(srv, &mgr, "identity,name,class,tier,san\nweb-5,web-5,server,gold,vm-9\n").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e.to_string().contains("san must refer to a storage CI"), "{e}");

    // The page's typed inputs save the same way. A reference left as shown keeps its CI even
    // when another CI takes its name as an identity; free-form attributes stay.
    let cookie = srv.login("mgr", "password-mgr").await.unwrap();
    let id = web["id"].as_str().unwrap();
    let (_, impostor) =
        srv.post("/api/v1/cis", &mgr, json!({"name": "x", "identity": "san-1", "class": "storage"})).await;
    let san_id = san["id"].as_str().unwrap();
    let fields = [
        ("name", "web-1"),
        ("class", "server"),
        ("status", "in_use"),
        ("attributes", "os = debian"),
        ("def_key", "tier"),
        ("def_value", "silver"),
        ("def_shown", "gold"),
        ("def_stored", "gold"),
        ("def_key", "cpus"),
        ("def_value", "16"),
        ("def_shown", "8"),
        ("def_stored", "8"),
        ("def_key", "san"),
        ("def_value", "san-1"),
        ("def_shown", "san-1"),
        ("def_stored", san_id),
    ];
    let (_, notice) = srv.form(&format!("/cmdb/{id}"), &cookie, &fields).await;
    assert_eq!(notice, "CI web-1 saved");
    let (_, w1) = srv.get(&format!("/api/v1/cis/{id}"), &mgr).await;
    let a = &w1["attributes"];
    assert_eq!((a["tier"].clone(), a["cpus"].clone(), a["os"].clone()), (json!("silver"), json!(16), json!("debian")));
    assert_eq!(a["san"], san["id"], "not re-pointed to {}", impostor["id"]);
    let emptied = [
        ("name", "web-1"),
        ("class", "server"),
        ("def_key", "tier"),
        ("def_value", ""),
        ("def_shown", "silver"),
        ("def_stored", "silver"),
    ];
    let (s, _) = srv.form(&format!("/cmdb/{id}"), &cookie, &emptied).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a required one cannot be emptied");
    // Text a definition types stays as written in the free-form box too.
    define(srv, &admin, json!({"class": "server", "key": "serial", "kind": "text"})).await;
    let fields = [
        ("name", "web-1"),
        ("class", "server"),
        ("attributes", "serial = 007"),
        ("def_key", "tier"),
        ("def_value", "gold"),
        ("def_shown", "silver"),
        ("def_stored", "silver"),
    ];
    let (_, notice) = srv.form(&format!("/cmdb/{id}"), &cookie, &fields).await;
    assert_eq!(notice, "CI web-1 saved");
    let (_, w1) = srv.get(&format!("/api/v1/cis/{id}"), &mgr).await;
    assert_eq!(w1["attributes"]["serial"], "007", "{w1}");

    // A definition removed leaves the values, free-form again.
    let (s, _) = srv.delete(&format!("/api/v1/ci-attributes/{}", tier_def["id"].as_str().unwrap()), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, c) = srv.post("/api/v1/cis", &mgr, json!({"name": "web-4", "class": "server"})).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let (_, w1) = srv.get(&format!("/api/v1/cis/{id}"), &mgr).await;
    assert_eq!(w1["attributes"]["tier"], "gold");
    let (_, audit) = srv.get("/api/v1/audit?action=ci_attribute.", &admin).await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 6, "{audit}");
}
