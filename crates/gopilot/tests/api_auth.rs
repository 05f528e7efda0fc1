//! Authentication, scopes, accounts and rate limits over real HTTP.

mod common;

use common::{quickstart_body, Server};
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;

async fn error_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let body: Value = response.json().await.expect("error body is JSON");
    (status, body)
}

fn assert_error(body: &Value, kind: &str, code: &str) {
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

#[tokio::test]
async fn both_auth_headers_accepted() {
    let server = Server::start();
    let key = server.first_key.clone().unwrap();
    let client = Client::new();

    let by_header = client.get(server.url("/v1/agents")).header("X-API-Key", &key).send().await.unwrap();
    assert_eq!(by_header.status(), StatusCode::OK);
    let by_bearer = client.get(server.url("/v1/agents")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(by_bearer.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_keys_get_401() {
    let server = Server::start();
    let client = Client::new();
    let url = server.url("/v1/agents");

    let missing = client.get(&url).send().await.unwrap();
    let (status, body) = error_of(missing).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "authentication_error", "invalid_api_key");
    assert!(body["error"]["message"].as_str().unwrap().contains("missing API key"));

    let cases = [
        ("malformed", "not-a-key"),
        ("short", "gopt_live_abc"),
        ("unknown", "gopt_live_0123456789abcdefghijABCDEFGHIJ0123456789"),
    ];
    for (case, key) in cases {
        let response = client.get(&url).header("X-API-Key", key).send().await.unwrap();
        let (status, body) = error_of(response).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}");
        assert_error(&body, "authentication_error", "invalid_api_key");
    }

    let wrong_scheme = client.get(&url).header("Authorization", "Basic Zm9vOmJhcg==").send().await.unwrap();
    assert_eq!(wrong_scheme.status(), StatusCode::UNAUTHORIZED);

    let key = server.create_key("agents:read");
    assert_eq!(client.get(&url).bearer_auth(&key).send().await.unwrap().status(), StatusCode::OK);
    let list = server.cli(&["keys", "list"]);
    let listing = String::from_utf8_lossy(&list.stdout).to_string();
    let key_id = listing
        .lines()
        .filter(|line| line.starts_with("key"))
        .last()
        .and_then(|line| line.split_whitespace().next())
        .unwrap()
        .to_string();
    let revoke = server.cli(&["keys", "revoke", &key_id]);
    assert!(revoke.status.success(), "{}", String::from_utf8_lossy(&revoke.stderr));

    let (status, body) = error_of(client.get(&url).bearer_auth(&key).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "authentication_error", "invalid_api_key");
}

/// Every route family and the scope it needs.
fn route_families(agent_id: &str) -> Vec<(Method, String, Option<Value>, &'static str)> {
    let agent = format!("/v1/agents/{agent_id}");
    let chat = serde_json::json!({"model": agent_id, "messages": [{"role": "user", "content": "hi"}]});
    let mut routes = vec![
        (Method::GET, "/v1/agents".into(), None, "agents:read"),
        (Method::GET, agent.clone(), None, "agents:read"),
        (Method::GET, format!("{agent}/events"), None, "agents:read"),
        (Method::GET, format!("{agent}/logs"), None, "agents:read"),
        (Method::GET, format!("{agent}/files"), None, "agents:read"),
        (Method::GET, format!("{agent}/files/AGENTS.md"), None, "agents:read"),
        (Method::GET, "/v1/models".into(), None, "agents:read"),
        (Method::POST, "/v1/agents".into(), Some(quickstart_body()), "agents:write"),
        (Method::PATCH, agent.clone(), Some(serde_json::json!({"name": "x"})), "agents:write"),
        (Method::PUT, format!("{agent}/files/AGENTS.md"), None, "agents:write"),
        (Method::DELETE, format!("{agent}/files/AGENTS.md"), None, "agents:write"),
        (Method::POST, format!("{agent}/chat/completions"), Some(chat.clone()), "agents:write"),
        (Method::POST, "/v1/chat/completions".into(), Some(chat), "agents:write"),
        (Method::GET, "/v1/usage".into(), None, "usage:read"),
        (Method::GET, format!("{agent}/usage"), None, "usage:read"),
    ];
    for action in ["start", "stop", "restart", "pause", "resume"] {
        routes.push((Method::POST, format!("{agent}/{action}"), None, "agents:write"));
    }
    routes.push((Method::DELETE, agent, None, "agents:delete"));
    routes
}

#[tokio::test]
async fn each_scope_enforced_on_each_route() {
    let server = Server::start();
    let client = Client::new();
    let admin = server.first_key.clone().unwrap();
    let created: Value = client
        .post(server.url("/v1/agents"))
        .header("X-API-Key", &admin)
        .json(&quickstart_body())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let agent_id = created["id"].as_str().unwrap().to_string();

    let all = ["agents:read", "agents:write", "agents:delete", "usage:read"];
    let keys: Vec<(&str, String)> = all.iter().map(|scope| (*scope, server.create_key(scope))).collect();

    for (method, path, body, needed) in route_families(&agent_id) {
        for (scope, key) in &keys {
            if scope == &needed {
                continue;
            }
            let mut request = client.request(method.clone(), server.url(&path)).header("X-API-Key", key);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let (status, error) = error_of(request.send().await.unwrap()).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} with {scope}");
            assert_error(&error, "authorization_error", "missing_scope");
            let message = error["error"]["message"].as_str().unwrap();
            assert!(message.contains(needed), "{method} {path}: message {message:?} must name {needed}");
        }
    }

    // The scope that is needed passes the check (delete last, it removes
    // the agent). Without sandboxes some routes answer 409 after the check.
    for (method, path, body, needed) in route_families(&agent_id) {
        let key = &keys.iter().find(|(scope, _)| *scope == needed).unwrap().1;
        let mut request = client.request(method.clone(), server.url(&path)).header("X-API-Key", key);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let status = request.send().await.unwrap().status();
        assert!(
            status.is_success() || status == StatusCode::CONFLICT,
            "{method} {path} with {needed}: {status}"
        );
    }
}

#[tokio::test]
async fn other_accounts_agent_is_404() {
    let server = Server::start();
    let client = Client::new();
    let owner = server.first_key.clone().unwrap();
    let other_account = server.create_account("tenant two");
    let stranger = server.create_key_for(Some(&other_account), "agents:read,agents:write,agents:delete,usage:read");

    let created: Value = client
        .post(server.url("/v1/agents"))
        .header("X-API-Key", &owner)
        .json(&quickstart_body())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = format!("/v1/agents/{}", created["id"].as_str().unwrap());

    let chat = serde_json::json!({"messages": [{"role": "user", "content": "hi"}]});
    let requests = [
        client.get(server.url(&path)),
        client.patch(server.url(&path)).json(&serde_json::json!({"name": "stolen"})),
        client.get(server.url(&format!("{path}/events"))),
        client.get(server.url(&format!("{path}/logs"))),
        client.get(server.url(&format!("{path}/files"))),
        client.post(server.url(&format!("{path}/stop"))),
        client.post(server.url(&format!("{path}/chat/completions"))).json(&chat),
        client.delete(server.url(&path)),
    ];
    for request in requests {
        let (status, body) = error_of(request.header("X-API-Key", &stranger).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_error(&body, "not_found_error", "not_found");
    }

    let listed: Value = client.get(server.url("/v1/agents")).header("X-API-Key", &stranger).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 0);

    let still_there = client.get(server.url(&path)).header("X-API-Key", &owner).send().await.unwrap();
    assert_eq!(still_there.status(), StatusCode::OK);
    assert_eq!(still_there.json::<Value>().await.unwrap()["name"], "Support Bot");
}

#[tokio::test]
async fn burst_over_limit_gets_429() {
    let server = Server::start_with(&[("GOPILOT_RATE_LIMIT__BURST", "5"), ("GOPILOT_RATE_LIMIT__PER_SECOND", "0.2")]);
    let client = Client::new();
    let key = server.first_key.clone().unwrap();

    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..8 {
        let response = client.get(server.url("/v1/agents")).header("X-API-Key", &key).send().await.unwrap();
        assert_eq!(response.headers()["x-ratelimit-limit"], "5");
        assert!(response.headers().contains_key("x-ratelimit-remaining"));
        assert!(response.headers().contains_key("x-ratelimit-reset"));
        statuses.push(response.status().as_u16());
        if response.status() == StatusCode::TOO_MANY_REQUESTS && limited.is_none() {
            limited = Some(response);
        }
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);

    let limited = limited.unwrap();
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=5).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    let (_, body) = error_of(limited).await;
    assert_error(&body, "rate_limit_error", "rate_limit_exceeded");

    // Another key has its own bucket.
    let other = server.create_key("agents:read");
    let response = client.get(server.url("/v1/agents")).header("X-API-Key", &other).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
