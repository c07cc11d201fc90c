//! Files attached to tickets by hand, end to end: the requester and agents upload (the API's
//! raw body, the page's multipart form), internal files stay the agents', downloads give the
//! bytes back as octet-stream, limits and bad names are refused with what to fix, closed tickets
//! take no files, agents remove one.

use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, StatusCode, TestServer};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_sqlite() {
    uploads(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_postgres() {
    uploads(Backend::Postgres).await;
}

/// Uploads `data` as `name` to ticket `id`'s attachments.
async fn put_file(
    srv: &TestServer,
    token: &str,
    id: &str,
    query: &str,
    kind: &str,
    data: Vec<u8>,
) -> (StatusCode, Value) {
    let resp = srv
        .http
        .post(format!("{}/api/v1/tickets/{id}/attachments?{query}", srv.url))
        .bearer_auth(token)
        .header("content-type", kind)
        .body(data)
        .send()
        .await
        .expect("upload");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn field(e: &Value) -> Option<&str> {
    e["error"]["details"]["field"].as_str()
}

async fn uploads(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let agent = srv.token("agent", Role::Responder).await;
    let ana = srv.token("ana", Role::Viewer).await;
    let bob = srv.token("bob", Role::Viewer).await;
    let (_, t) = srv.post("/api/v1/tickets", &ana, json!({"title": "Screen flickers"})).await;
    let id = t["id"].as_str().unwrap().to_owned();

    // The requester attaches a screenshot; a browser's fake path is cut to the file's name.
    let png: Vec<u8> = (0..2048u32).map(|i| (i % 251) as u8).collect();
    let (s, a) = put_file(&srv, &ana, "TKT-1", "filename=C%3A%5Cfakepath%5Cshot.png", "image/png", png.clone()).await;
    assert_eq!(
        (s, a["filename"].as_str(), a["size"].as_i64()),
        (StatusCode::CREATED, Some("shot.png"), Some(2048)),
        "{a}"
    );
    assert_eq!((a["content_type"].as_str(), a["author"].as_str()), (Some("image/png"), Some("ana")), "{a}");
    let resp = srv
        .http
        .get(format!("{}/api/v1/tickets/{id}/attachments/{}", srv.url, a["id"].as_str().unwrap()))
        .bearer_auth(&agent)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    assert_eq!(resp.bytes().await.unwrap().to_vec(), png, "the same bytes back");

    // An agent's internal file: the requester neither lists nor downloads it.
    let (s, secret) =
        put_file(&srv, &agent, "TKT-1", "filename=notes.txt&internal=true", "text/plain", b"root cause".to_vec()).await;
    assert_eq!(s, StatusCode::CREATED, "{secret}");
    let (_, mine) = srv.get("/api/v1/tickets/TKT-1/attachments", &ana).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1, "{mine}");
    let (_, all) = srv.get("/api/v1/tickets/TKT-1/attachments", &agent).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let path = format!("/api/v1/tickets/TKT-1/attachments/{}", secret["id"].as_str().unwrap());
    assert_eq!(srv.get(&path, &ana).await.0, StatusCode::NOT_FOUND);

    // What is refused, and why.
    let (s, e) = put_file(&srv, &ana, "TKT-1", "filename=x.txt&internal=true", "text/plain", b"x".to_vec()).await;
    assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, Some("internal")), "{e}");
    let (s, e) = put_file(&srv, &ana, "TKT-1", "filename=empty.txt", "text/plain", Vec::new()).await;
    assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, Some("file")), "{e}");
    let (s, e) = put_file(&srv, &ana, "TKT-1", "filename=%2E%2E", "text/plain", b"x".to_vec()).await;
    assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, Some("filename")), "{e}");
    // The server answers 413 before reading the rest and closes the connection: its own client,
    // so no pooled connection of the shared one is left dead.
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/tickets/TKT-1/attachments?filename=big.bin", srv.url))
        .bearer_auth(&ana)
        .header("content-type", "application/zip")
        .body(vec![0u8; 10_000_001])
        .send()
        .await
        .expect("the 413 answer");
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let e: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(e["error"]["code"].as_str(), Some("payload_too_large"), "{e}");
    let (s, _) = put_file(&srv, &bob, "TKT-1", "filename=x.txt", "text/plain", b"x".to_vec()).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not bob's ticket");
    let (_, all) = srv.get("/api/v1/tickets/TKT-1/attachments", &agent).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2, "nothing half-written");

    // Removing is the agents'.
    assert_eq!(srv.delete(&path, &ana).await.0, StatusCode::FORBIDDEN);
    assert_eq!(srv.delete(&path, &agent).await.0, StatusCode::NO_CONTENT);
    assert_eq!(srv.delete(&path, &agent).await.0, StatusCode::NOT_FOUND);

    // The page's form: multipart, as a browser sends it.
    let cookie = srv.login("ana", "password-ana").await.unwrap();
    let boundary = "----opsdeckBoundary7MA4YWxk";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"log.txt\"\r\n\
         Content-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(b"line one\nline two\n");
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let resp = srv
        .http
        .post(format!("{}/tickets/1/attachments", srv.url))
        .header("cookie", &cookie)
        .header("origin", &srv.url)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    let location = resp.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("").to_owned();
    assert!(location.contains("log.txt%20attached") || location.contains("log.txt+attached"), "{location}");
    let (_, html) = srv.page("/tickets/1", &cookie).await;
    assert!(html.contains("log.txt") && html.contains("id=\"upload-form\""), "{html}");

    // A closed ticket takes no files.
    for action in ["resolve", "close"] {
        assert_eq!(srv.post(&format!("/api/v1/tickets/TKT-1/{action}"), &agent, json!({})).await.0, StatusCode::OK);
    }
    let (s, e) = put_file(&srv, &agent, "TKT-1", "filename=late.txt", "text/plain", b"x".to_vec()).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
}
