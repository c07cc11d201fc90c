//! Every endpoint × every role: allowed roles get the success status, the others 403, and a
//! caller without credentials 401.

use opsdeck_core::role::Role;
use opsdeck_testkit::{Method, StatusCode, TestServer, backend_tests};
use serde_json::{Value, json};

backend_tests!(endpoint_role_matrix);

struct Case {
    method: Method,
    path: String,
    body: Option<Value>,
    least: Role,
    ok: StatusCode,
}

fn case(method: Method, path: impl Into<String>, body: Option<Value>, least: Role, ok: StatusCode) -> Case {
    Case { method, path: path.into(), body, least, ok }
}

async fn endpoint_role_matrix(srv: &TestServer) {
    let mut tokens = Vec::new();
    for role in Role::ALL {
        tokens.push((role, srv.token(role.as_str(), role).await));
    }
    let admin = &tokens[3].1;
    srv.user("target", Role::Viewer).await;
    let (_, team) = srv.post("/api/v1/teams", admin, json!({"name": "Seed"})).await;
    let team_id = team["id"].as_str().unwrap().to_owned();
    for role in Role::ALL {
        let role = role.as_str();
        let (_, deps_target) = srv.post("/api/v1/services", admin, json!({"name": format!("dep-{role}")})).await;
        assert!(deps_target["id"].is_string());
    }

    for (role, token) in &tokens {
        let r = role.as_str();
        // Per-role fixtures so each allowed mutation has something of its own to act on.
        let (_, svc) = srv.post("/api/v1/services", admin, json!({"name": format!("own-{r}")})).await;
        let svc_slug = svc["slug"].as_str().unwrap().to_owned();
        let (_, t) = srv.post("/api/v1/teams", admin, json!({"name": format!("team-{r}")})).await;
        let team_slug = t["slug"].as_str().unwrap().to_owned();
        let (_, dep) = srv.get(&format!("/api/v1/services/dep-{r}"), admin).await;
        let dep_id = dep["id"].as_str().unwrap().to_owned();
        let (_, other_token) = srv.post("/api/v1/tokens", admin, json!({"name": format!("t-{r}")})).await;
        let other_token_id = other_token["id"].as_str().unwrap().to_owned();

        let cases = vec![
            case(Method::GET, "/api/v1/me", None, Role::Viewer, StatusCode::OK),
            case(Method::GET, "/api/v1/services", None, Role::Viewer, StatusCode::OK),
            case(Method::GET, format!("/api/v1/services/{svc_slug}"), None, Role::Viewer, StatusCode::OK),
            case(Method::GET, format!("/api/v1/services/{svc_slug}/dependencies"), None, Role::Viewer, StatusCode::OK),
            case(Method::GET, "/api/v1/teams", None, Role::Viewer, StatusCode::OK),
            case(Method::GET, format!("/api/v1/teams/{team_id}"), None, Role::Viewer, StatusCode::OK),
            case(Method::GET, "/api/v1/users", None, Role::Viewer, StatusCode::OK),
            case(Method::GET, "/api/v1/users/admin", None, Role::Viewer, StatusCode::OK),
            case(Method::GET, "/api/v1/settings", None, Role::Viewer, StatusCode::OK),
            case(Method::GET, "/api/v1/tokens", None, Role::Viewer, StatusCode::OK),
            case(Method::POST, "/api/v1/tokens", Some(json!({"name": "mine"})), Role::Viewer, StatusCode::CREATED),
            case(
                Method::POST,
                "/api/v1/services",
                Some(json!({"name": format!("new-{r}")})),
                Role::Manager,
                StatusCode::CREATED,
            ),
            case(
                Method::PATCH,
                format!("/api/v1/services/{svc_slug}"),
                Some(json!({"tier": 2})),
                Role::Manager,
                StatusCode::OK,
            ),
            case(
                Method::POST,
                format!("/api/v1/services/{svc_slug}/dependencies"),
                Some(json!({"depends_on_id": dep_id})),
                Role::Manager,
                StatusCode::CREATED,
            ),
            case(
                Method::DELETE,
                format!("/api/v1/services/{svc_slug}/dependencies/{dep_id}"),
                None,
                Role::Manager,
                StatusCode::NO_CONTENT,
            ),
            case(Method::DELETE, format!("/api/v1/services/{svc_slug}"), None, Role::Manager, StatusCode::NO_CONTENT),
            case(
                Method::POST,
                "/api/v1/teams",
                Some(json!({"name": format!("nt-{r}")})),
                Role::Manager,
                StatusCode::CREATED,
            ),
            case(
                Method::PATCH,
                format!("/api/v1/teams/{team_slug}"),
                Some(json!({"description": "d"})),
                Role::Manager,
                StatusCode::OK,
            ),
            case(Method::DELETE, format!("/api/v1/teams/{team_slug}"), None, Role::Manager, StatusCode::NO_CONTENT),
            case(
                Method::POST,
                "/api/v1/users",
                Some(json!({"username": format!("u-{r}"), "password": "long enough", "role": "viewer"})),
                Role::Admin,
                StatusCode::CREATED,
            ),
            case(
                Method::PATCH,
                "/api/v1/users/target",
                Some(json!({"display_name": format!("Viewer {r}")})),
                Role::Admin,
                StatusCode::OK,
            ),
            case(
                Method::POST,
                "/api/v1/users/target/password",
                Some(json!({"new_password": format!("reset by {r}")})),
                Role::Admin,
                StatusCode::NO_CONTENT,
            ),
            case(Method::GET, "/api/v1/tokens?all=true", None, Role::Admin, StatusCode::OK),
            case(
                Method::POST,
                "/api/v1/tokens",
                Some(json!({"name": "for target", "user": "target"})),
                Role::Admin,
                StatusCode::CREATED,
            ),
            case(Method::DELETE, format!("/api/v1/tokens/{other_token_id}"), None, Role::Admin, StatusCode::OK),
            case(Method::GET, "/api/v1/audit", None, Role::Admin, StatusCode::OK),
            case(
                Method::PUT,
                "/api/v1/settings",
                Some(json!({"instance_name": format!("Ops {r}"), "public_url": null})),
                Role::Admin,
                StatusCode::OK,
            ),
        ];
        for c in cases {
            // Without credentials: always 401.
            let (status, body) = srv.call(c.method.clone(), &c.path, None, c.body.clone()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "anonymous {} {}: {body}", c.method, c.path);
            let (status, body) = srv.call(c.method.clone(), &c.path, Some(token), c.body.clone()).await;
            if *role >= c.least {
                assert_eq!(status, c.ok, "{r} {} {}: {body}", c.method, c.path);
            } else {
                // Someone else's token is hidden rather than forbidden.
                let want = if c.method == Method::DELETE && c.path.starts_with("/api/v1/tokens/") {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::FORBIDDEN
                };
                assert_eq!(status, want, "{r} {} {}: {body}", c.method, c.path);
                assert!(body["error"]["code"].is_string());
            }
        }
    }
}
