//! Who may open a connection: tokens are checked before the upgrade.

use std::time::Duration;

use pm_auth::{KeyConfig, Signer};
use pm_core::{TenantId, TenantRole, Timestamp, UserId};
use pm_proto::pb;
use pm_server::config::JwtAlgorithm;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, http::StatusCode};

use crate::helpers::*;

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/pm-auth/tests/keys");

fn acme() -> TenantId {
    TenantId::parse("acme").unwrap()
}

fn alice() -> UserId {
    UserId::parse("alice").unwrap()
}

/// Tries to connect with an optional bearer token; returns the HTTP status of a refusal.
async fn refusal(app: &TestApp, token: Option<&str>) -> (StatusCode, serde_json::Value) {
    let mut request = app.ws_url().into_client_request().unwrap();
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => panic!("the connection was accepted"),
        Err(tungstenite::Error::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            (
                response.status(),
                serde_json::from_slice(&body).unwrap_or_default(),
            )
        }
        Err(other) => panic!("unexpected error {other}"),
    }
}

#[tokio::test]
async fn a_valid_token_connects_and_is_welcomed_with_identity_and_limits() {
    let app = TestApp::spawn().await;
    let client = app.client("acme", "alice", TenantRole::Admin).await;
    let w = &client.welcome;
    assert_eq!(
        (w.tenant_id.as_str(), w.user_id.as_str()),
        ("acme", "alice")
    );
    assert_eq!(w.role, i32::from(pb::TenantRole::Admin));
    assert!(!w.server_version.is_empty());
    let limits = w.limits.unwrap();
    assert_eq!(limits.max_frame_bytes, 1024 * 1024);
    assert!(limits.commands_per_second > 0 && limits.heartbeat_interval_ms > 0);
    assert!(w.token_expires_at > Timestamp::now().as_millis());
}

#[tokio::test]
async fn a_missing_token_is_refused_with_401_before_the_upgrade() {
    let app = TestApp::spawn().await;
    let (status, body) = refusal(&app, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthenticated");
}

#[tokio::test]
async fn expired_wrongly_signed_and_malformed_tokens_are_refused_with_401() {
    let app = TestApp::spawn().await;
    let ours = Signer::new(&KeyConfig::Hs256 {
        secret: SECRET.to_vec(),
    })
    .unwrap();
    let two_hours_ago = Timestamp::now().plus_millis(-2 * 3_600_000);
    let expired = ours
        .issue_at(
            &acme(),
            &alice(),
            TenantRole::Editor,
            Duration::from_secs(3600),
            two_hours_ago,
        )
        .unwrap();
    let other_key = Signer::new(&KeyConfig::Hs256 {
        secret: b"another-secret-that-is-also-long-enough".to_vec(),
    })
    .unwrap()
    .issue(
        &acme(),
        &alice(),
        TenantRole::Editor,
        Duration::from_secs(3600),
    )
    .unwrap();
    let valid = ours
        .issue(
            &acme(),
            &alice(),
            TenantRole::Editor,
            Duration::from_secs(3600),
        )
        .unwrap();
    let mut tampered = valid.clone();
    tampered.pop();
    tampered.push(if valid.ends_with('A') { 'B' } else { 'A' });
    for token in [
        expired.as_str(),
        other_key.as_str(),
        tampered.as_str(),
        "garbage",
        "a.b.c",
    ] {
        let (status, _) = refusal(&app, Some(token)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token}");
    }
}

#[tokio::test]
async fn a_token_of_another_algorithm_or_none_is_refused() {
    let app = TestApp::spawn().await;
    let rs256 = Signer::new(&KeyConfig::Rs256 {
        public_key_pem: std::fs::read(format!("{KEYS}/rsa-a-public.pem")).unwrap(),
        private_key_pem: Some(std::fs::read(format!("{KEYS}/rsa-a-private.pem")).unwrap()),
    })
    .unwrap()
    .issue(
        &acme(),
        &alice(),
        TenantRole::Editor,
        Duration::from_secs(3600),
    )
    .unwrap();
    let (status, _) = refusal(&app, Some(&rs256)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // alg "none": a header and claims with no signature.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let exp = Timestamp::now().as_millis() / 1000 + 3600;
    let none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(format!(
            r#"{{"sub":"alice","tenant_id":"acme","role":"admin","exp":{exp}}}"#
        ))
    );
    let (status, _) = refusal(&app, Some(&none)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_rs256_server_accepts_its_key_and_refuses_another_key() {
    let app = TestApp::spawn_with(|c| {
        c.jwt_algorithm = JwtAlgorithm::Rs256;
        c.jwt_public_key_file = Some(format!("{KEYS}/rsa-a-public.pem").into());
    })
    .await;
    let sign_with = |pair: &str| {
        Signer::new(&KeyConfig::Rs256 {
            public_key_pem: std::fs::read(format!("{KEYS}/rsa-{pair}-public.pem")).unwrap(),
            private_key_pem: Some(std::fs::read(format!("{KEYS}/rsa-{pair}-private.pem")).unwrap()),
        })
        .unwrap()
        .issue(
            &acme(),
            &alice(),
            TenantRole::Editor,
            Duration::from_secs(3600),
        )
        .unwrap()
    };
    let client = Client::connect(&app.ws_url(), &sign_with("a")).await;
    assert_eq!(client.welcome.user_id, "alice");
    let (status, _) = refusal(&app, Some(&sign_with("b"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // An HS256 token made with the public key as the secret (algorithm confusion).
    let confused = Signer::new(&KeyConfig::Hs256 {
        secret: std::fs::read(format!("{KEYS}/rsa-a-public.pem")).unwrap(),
    })
    .unwrap()
    .issue(
        &acme(),
        &alice(),
        TenantRole::Admin,
        Duration::from_secs(3600),
    )
    .unwrap();
    let (status, _) = refusal(&app, Some(&confused)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_browser_can_send_its_token_as_a_subprotocol_and_gets_pm_v1_back() {
    let app = TestApp::spawn().await;
    let token = app.token("acme", "alice", TenantRole::Editor);
    let mut request = app.ws_url().into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("pm.v1, bearer.{token}").parse().unwrap(),
    );
    let (ws, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    assert_eq!(response.headers()["sec-websocket-protocol"], "pm.v1");
    let mut client = Client::from_socket(ws).await;
    assert_eq!(client.welcome.user_id, "alice");
    client.ok(pb::Ping {}).await;
}

#[tokio::test]
async fn connections_beyond_the_total_or_per_tenant_cap_get_503() {
    let app = TestApp::spawn_with(|c| {
        c.max_connections = 3;
        c.max_connections_per_tenant = 2;
    })
    .await;
    let _a1 = app.editor("a1").await;
    let a2 = app.editor("a2").await;
    let (status, body) = refusal(&app, Some(&app.token("acme", "a3", TenantRole::Editor))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "unavailable");
    let _other = app.client("other", "o1", TenantRole::Editor).await;
    let (status, _) = refusal(&app, Some(&app.token("third", "t1", TenantRole::Editor))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    // A closed connection frees its place.
    let mut a2 = a2;
    a2.ws.close(None).await.unwrap();
    read_until_closed(&mut a2.ws).await;
    let mut again = app.editor("a3").await;
    again.ok(pb::Ping {}).await;
}

#[tokio::test]
async fn a_token_is_never_logged_or_echoed_in_errors() {
    let app = TestApp::spawn().await;
    let token = app.token("acme", "alice", TenantRole::Editor);
    let mut bad = token.clone();
    bad.push('x');
    let (_, body) = refusal(&app, Some(&bad)).await;
    assert!(!body.to_string().contains(&token[..20]));
}
