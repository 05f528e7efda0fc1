//! Edge behaviour that needs a route of its own: a handler that panics.

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use tower::ServiceExt;

#[tokio::test]
async fn handler_panic_becomes_500_error_body() {
    async fn boom() -> &'static str {
        panic!("handler bug")
    }
    let app = gopilot_api::with_edge_layers(Router::new().route("/boom", get(boom)), 1024);

    let response = app
        .oneshot(Request::get("/boom").header("x-request-id", "panic-req-1").body(Body::empty()).unwrap())
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.headers()["x-request-id"], "panic-req-1");
    let body = to_bytes(response.into_body(), 4096).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["type"], "server_error");
    assert_eq!(body["error"]["code"], "internal_error");
    assert!(!body.to_string().contains("handler bug"), "the panic message must not leak: {body}");
}
