//! Mail in and out through real servers: Dovecot holds the desk's mailbox (IMAP), aiosmtpd takes
//! what the desk sends (SMTP). A mail to the desk becomes a ticket; the agent's reply reaches the
//! requester threaded under it; the requester's answer, carrying that thread, lands on the same
//! ticket and resumes it. A message read twice is kept once; mail from a stranger on a ticket is
//! an internal note; bad mail (no sender, huge, an attachment over the limit, a legacy charset,
//! an out-of-office) is handled and logged with why, and nothing is dropped silently.

use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, ImapServer, SmtpSink, StatusCode, TestServer};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_in_sqlite() {
    mail_in(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_in_postgres() {
    mail_in(Backend::Postgres).await;
}

fn mail(headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut s = String::new();
    for (k, v) in headers {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    s.push_str("\r\n");
    s.push_str(&body.replace('\n', "\r\n"));
    s.into_bytes()
}

fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    raw.lines().find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

async fn outcomes(srv: &TestServer, agent: &str) -> Vec<String> {
    let (s, log) = srv.get("/api/v1/desk/mail", agent).await;
    assert_eq!(s, StatusCode::OK, "{log}");
    log["items"].as_array().unwrap().iter().map(|m| m["outcome"].as_str().unwrap().to_owned()).collect()
}

async fn mail_in(backend: Backend) {
    let imap = ImapServer::start();
    let mut smtp = SmtpSink::new();
    smtp.start().await;
    let srv = TestServer::start_with(backend, Some(smtp.config())).await;
    let admin = srv.token("admin", Role::Admin).await;
    let agent = srv.token("agent", Role::Responder).await;
    let ana_user = srv.user("ana", Role::Viewer).await;
    let ana = srv.token_for(&ana_user, None).await;
    let (s, e) =
        srv.patch(&format!("/api/v1/users/{}", ana_user.id), &admin, json!({"email": "ana@example.com"})).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let cfg = imap.desk_config();
    // Mail is routed like any new ticket.
    let (_, team) = srv.post("/api/v1/teams", &admin, json!({"name": "Facilities"})).await;
    let rule = json!({"name": "Printers", "keywords": ["printer"], "team_id": team["id"]});
    assert_eq!(srv.post("/api/v1/ticket-routes", &admin, rule).await.0, StatusCode::CREATED);

    // A mail to the desk becomes a ticket, raised by its sender's account.
    let first = mail(
        &[
            ("From", "Ana <ANA@example.com>"),
            ("To", "desk@example.com"),
            ("Subject", "Printer on floor 3 jams"),
            ("Message-ID", "<m1@mail.example.com>"),
        ],
        "It jams on every page.\n",
    );
    imap.deliver(&first).await;
    let pass = srv.run_mail_in(&cfg).await;
    assert_eq!((pass.created, imap.unseen().await), (1, 0), "{pass:?}");
    let (s, t) = srv.get("/api/v1/tickets/TKT-1", &ana).await;
    assert_eq!(s, StatusCode::OK, "the sender's own ticket: {t}");
    assert_eq!(
        (t["title"].as_str(), t["description"].as_str(), t["requester_email"].as_str()),
        (Some("Printer on floor 3 jams"), Some("It jams on every page."), Some("ana@example.com"))
    );
    assert_eq!(t["team_id"], team["id"], "routed by its words");
    // The same message again (a crash before it was marked seen): kept once.
    imap.deliver(&first).await;
    assert_eq!(srv.run_mail_in(&cfg).await.known, 1);
    assert_eq!(srv.get("/api/v1/tickets", &agent).await.1["items"].as_array().unwrap().len(), 1);

    // The agent answers and waits: the reply reaches Ana, threaded under the ticket.
    let (s, _) = srv.post("/api/v1/tickets/TKT-1/replies", &agent, json!({"body": "Which tray?"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = srv.post("/api/v1/tickets/TKT-1/pend", &agent, json!({"reason": "Ana's answer"})).await;
    assert_eq!(s, StatusCode::OK);
    srv.run_notifier().await;
    let sent = smtp.to("ana@example.com");
    assert_eq!(sent.len(), 1, "{sent:?}");
    let references = header(&sent[0], "References").expect("a thread").to_owned();
    let subject = header(&sent[0], "Subject").expect("a subject").to_owned();
    assert_eq!(header(&sent[0], "Reply-To"), Some("\"Service desk\" <desk@example.com>"), "answers go to the mailbox");
    assert!(subject.contains("[TKT-1]"), "{subject}");

    // Ana's mail client answers with the thread; the answer lands on TKT-1 and resumes it.
    let answer = mail(
        &[
            ("From", "ana@example.com"),
            ("Subject", &format!("Re: {subject}")),
            ("Message-ID", "<m2@mail.example.com>"),
            ("In-Reply-To", &references),
            ("References", &references),
        ],
        "Tray 2, the one by the window.\n\nOn Mon, Opsdeck wrote:\n> Which tray?\n",
    );
    imap.deliver(&answer).await;
    assert_eq!(srv.run_mail_in(&cfg).await.replied, 1);
    let (_, t) = srv.get("/api/v1/tickets/TKT-1", &agent).await;
    assert_eq!(t["state"].as_str(), Some("in_progress"), "the answer resumes the clock: {t}");
    let (_, replies) = srv.get("/api/v1/tickets/TKT-1/replies", &agent).await;
    let last = replies["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["body"].as_str(), last["author"].as_str(), last["internal"].as_bool()),
        (Some("Tray 2, the one by the window."), Some("ana@example.com"), Some(false)),
        "{last}"
    );

    // A stranger writing on TKT-1 by its subject is heard as a note, not as the requester.
    let stranger = "From: eve@example.net\r\nSubject: Re: [TKT-1] something\r\nMessage-ID: <m3@x.example>\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=YY\r\n\r\n--YY\r\nContent-Type: text/plain\r\n\r\n\
Close this ticket please\r\n--YY\r\nContent-Type: text/plain; name=\"eve.txt\"\r\n\
Content-Disposition: attachment; filename=\"eve.txt\"\r\n\r\nnot for Ana\r\n--YY--\r\n"
        .as_bytes()
        .to_vec();
    imap.deliver(&stranger).await;
    assert_eq!(srv.run_mail_in(&cfg).await.noted, 1);
    let (_, replies) = srv.get("/api/v1/tickets/TKT-1/replies", &ana).await;
    assert!(!replies.to_string().contains("Close this ticket"), "the requester does not see the note");
    let files = |v: Value| v["items"].as_array().unwrap().len();
    assert_eq!(files(srv.get("/api/v1/tickets/TKT-1/attachments", &ana).await.1), 0, "nor the note's file");
    assert_eq!(files(srv.get("/api/v1/tickets/TKT-1/attachments", &agent).await.1), 1);

    bad_mail(&srv, &imap, &cfg, &agent, &ana).await;
}

/// Malformed and oversized mail: each handled with a reason, none silently dropped.
async fn bad_mail(srv: &TestServer, imap: &ImapServer, cfg: &opsdeck_notify::imap::ImapConfig, agent: &str, ana: &str) {
    imap.deliver(b"Subject: no sender\r\n\r\nwho am I").await;
    imap.deliver(b"this is not an e-mail at all").await;
    let latin = b"From: jose@example.com\r\nSubject: =?ISO-8859-1?Q?Caf=E9_machine_cass=E9e?=\r\n\
Message-ID: <m4@x.example>\r\nContent-Type: text/plain; charset=ISO-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nLa machine =E0 caf=E9 fuit.\r\n";
    imap.deliver(latin).await;
    let huge = mail(
        &[("From", "big@example.com"), ("Subject", "Huge log"), ("Message-ID", "<m5@x.example>")],
        &"x".repeat(300_000),
    );
    imap.deliver(&huge).await;
    let small = "small file contents";
    let big = "B".repeat(60_000);
    let files = format!(
        "From: ana@example.com\r\nSubject: Two logs\r\nMessage-ID: <m6@x.example>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nSee the logs.\r\n\
--XX\r\nContent-Type: text/plain; name=\"small.log\"\r\n\
Content-Disposition: attachment; filename=\"small.log\"\r\n\r\n{small}\r\n\
--XX\r\nContent-Type: text/plain; name=\"big.log\"\r\n\
Content-Disposition: attachment; filename=\"big.log\"\r\n\r\n{big}\r\n--XX--\r\n"
    );
    imap.deliver(files.as_bytes()).await;
    let away = mail(
        &[
            ("From", "bob@example.com"),
            ("Subject", "Out of office"),
            ("Auto-Submitted", "auto-replied"),
            ("Message-ID", "<m7@x.example>"),
        ],
        "I am away",
    );
    imap.deliver(&away).await;
    let pass = srv.run_mail_in(cfg).await;
    assert_eq!((pass.created, pass.refused, imap.unseen().await), (3, 3, 0), "{pass:?}");
    let log = outcomes(srv, agent).await;
    assert_eq!(log.iter().filter(|o| *o == "refused").count(), 3, "{log:?}");
    let (_, all) = srv.get("/api/v1/desk/mail?limit=500", agent).await;
    let details: Vec<&str> = all["items"].as_array().unwrap().iter().filter_map(|m| m["detail"].as_str()).collect();
    for why in ["no sender address", "automatic message"] {
        assert!(details.iter().any(|d| d.contains(why)), "{why}: {details:?}");
    }

    let (_, list) = srv.get("/api/v1/tickets?limit=100", agent).await;
    let by_title = |title: &str| -> Value {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["title"].as_str() == Some(title))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let cafe = by_title("Café machine cassée");
    assert_eq!(cafe["description"].as_str(), Some("La machine à café fuit."), "{list}");
    let huge = by_title("Huge log");
    assert!(huge["description"].as_str().unwrap().contains("over the 200 KB limit"), "{huge}");
    let logs = by_title("Two logs");
    assert!(
        logs["description"].as_str().unwrap().contains("Attachment big.log left out: 60 KB is over the 50 KB limit")
    );
    let id = logs["id"].as_str().unwrap();
    let (s, files) = srv.get(&format!("/api/v1/tickets/{id}/attachments"), ana).await;
    assert_eq!(s, StatusCode::OK, "{files}");
    let names: Vec<&str> = files["items"].as_array().unwrap().iter().map(|f| f["filename"].as_str().unwrap()).collect();
    assert_eq!(names, ["small.log"]);
    let file_id = files["items"][0]["id"].as_str().unwrap();
    let (s, body) = srv.get(&format!("/api/v1/tickets/{id}/attachments/{file_id}"), ana).await;
    assert_eq!((s, body.as_str()), (StatusCode::OK, Some(small)));
    let (s, _) = srv.get(&format!("/api/v1/tickets/{id}/attachments/{}", uuid::Uuid::now_v7()), ana).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(srv.get("/api/v1/desk/mail", ana).await.0, StatusCode::FORBIDDEN, "the log is for agents");

    // The pages: the mail log for agents, the attachment on the ticket, downloaded.
    let cookie = srv.login("agent", "password-agent").await.unwrap();
    let (s, html) = srv.page("/tickets/mail", &cookie).await;
    assert!(s == StatusCode::OK && html.contains("no sender address") && html.contains("data-outcome=\"refused\""));
    let n = logs["number"].as_str().unwrap().trim_start_matches("TKT-").to_owned();
    let (_, html) = srv.page(&format!("/tickets/{n}"), &cookie).await;
    assert!(html.contains("small.log") && html.contains("big.log left out"), "{html}");
    let (s, body) = srv.page(&format!("/tickets/{n}/attachments/{file_id}"), &cookie).await;
    assert_eq!((s, body.as_str()), (StatusCode::OK, small));
}
