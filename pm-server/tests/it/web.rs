//! The web client is served at `/`: client routes fall back to `index.html`, hashed assets are
//! cached for good and `index.html` never, and the server's own paths keep answering as before.

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE};

use crate::helpers::TestApp;

const INDEX: &str = "<!doctype html><title>pm</title><div id=root></div>";

/// A built client in a temporary directory, and a server serving it.
async fn app_with_client() -> (TestApp, tempfile::TempDir) {
    let web = tempfile::tempdir().unwrap();
    std::fs::write(web.path().join("index.html"), INDEX).unwrap();
    std::fs::create_dir(web.path().join("assets")).unwrap();
    std::fs::write(web.path().join("assets/index-3f9a1c.js"), "console.log(1)").unwrap();
    std::fs::write(web.path().join("favicon.svg"), "<svg/>").unwrap();
    let dir = web.path().to_path_buf();
    let app = TestApp::spawn_with(move |c| c.web_dir = Some(dir)).await;
    (app, web)
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    reqwest::get(format!("http://{}{path}", app.addr))
        .await
        .unwrap()
}

fn header(res: &reqwest::Response, name: reqwest::header::HeaderName) -> String {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_root_and_every_client_route_get_index_html_which_is_never_cached() {
    let (app, _web) = app_with_client().await;
    for path in [
        "/",
        "/index.html",
        "/projects",
        "/p/WEB/board",
        "/p/WEB/WEB-42",
    ] {
        let res = get(&app, path).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&res, CACHE_CONTROL), "no-cache", "{path}");
        assert_eq!(
            header(&res, CONTENT_TYPE),
            "text/html; charset=utf-8",
            "{path}"
        );
        assert_eq!(res.text().await.unwrap(), INDEX, "{path}");
    }
}

#[tokio::test]
async fn hashed_assets_are_cached_for_a_year_and_immutable() {
    let (app, _web) = app_with_client().await;
    let res = get(&app, "/assets/index-3f9a1c.js").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        header(&res, CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    assert!(header(&res, CONTENT_TYPE).contains("javascript"));
    assert_eq!(res.text().await.unwrap(), "console.log(1)");

    // Files outside assets/ have stable names: revalidated like index.html.
    let res = get(&app, "/favicon.svg").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, CACHE_CONTROL), "no-cache");
    assert_eq!(header(&res, CONTENT_TYPE), "image/svg+xml");
}

#[tokio::test]
async fn a_missing_asset_is_a_404_not_index_html() {
    let (app, _web) = app_with_client().await;
    let res = get(&app, "/assets/index-0000.js").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(!res.text().await.unwrap().contains("<div id=root>"));
}

#[tokio::test]
async fn server_paths_never_fall_back_to_the_client() {
    let (app, _web) = app_with_client().await;
    for path in [
        "/api",
        "/api/v2/projects",
        "/api/v1/nope",
        "/mcp/x",
        "/metrics/x",
        "/ws/x",
    ] {
        let res = get(&app, path).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(
            !res.text().await.unwrap().contains("<div id=root>"),
            "{path}"
        );
    }
    assert_eq!(get(&app, "/health").await.status(), StatusCode::OK);
    // The REST API and MCP still answer for themselves (here: no token).
    for path in ["/api/v1/projects", "/mcp"] {
        assert_eq!(
            get(&app, path).await.status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
}

#[tokio::test]
async fn paths_cannot_climb_out_of_the_client_directory() {
    let (app, web) = app_with_client().await;
    std::fs::write(web.path().parent().unwrap().join("pm-secret.txt"), "secret").ok();
    for path in [
        "/../pm-secret.txt",
        "/assets/..%2f..%2fpm-secret.txt",
        "/%2e%2e/pm-secret.txt",
    ] {
        let res = get(&app, path).await;
        assert!(!res.text().await.unwrap().contains("secret"), "{path}");
    }
}

#[tokio::test]
async fn only_get_and_head_are_served() {
    let (app, _web) = app_with_client().await;
    let res = reqwest::Client::new()
        .post(format!("http://{}/p/WEB/board", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn without_a_built_client_the_root_says_how_to_build_it() {
    let empty = tempfile::tempdir().unwrap();
    let dir = empty.path().to_path_buf();
    let app = TestApp::spawn_with(move |c| c.web_dir = Some(dir)).await;
    let res = get(&app, "/").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.text().await.unwrap().contains("npm run build"));
}
