//! The web client: the single-page app built from `frontend/` into `frontend/dist`, served at `/`.
//!
//! A release build embeds `frontend/dist` as it is at compile time, so the binary is the whole
//! deployment (`./scripts/run` and the Dockerfile build the client first). A debug build reads the
//! same directory from disk on each request instead, so `npm run build` needs no Rust rebuild
//! (and a debug build made before the client existed still finds it once it is built).
//! `web_dir` (PM_WEB_DIR) serves another directory instead.
//!
//! Every path no other route claims is a client route (`/p/WEB/WEB-42`) and gets `index.html`,
//! except the server's own namespaces (`/api`, `/ws`, `/metrics`, ...), which answer 404 as before.
//! Vite names the files under `assets/` by their content hash, so they may be cached for ever;
//! `index.html` names the current ones and must be revalidated every time.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// `frontend/dist`, compiled in. Missing (the client was never built) is allowed: the server then
/// answers `/` with instructions instead of failing the build of a Rust-only change.
#[derive(rust_embed::Embed)]
#[folder = "../frontend/dist"]
#[allow_missing = true]
struct Embedded;

/// Where the client's files come from.
#[derive(Debug, Clone)]
pub enum WebAssets {
    /// The copy built into the binary.
    Embedded,
    /// A directory on disk (`web_dir`, or `frontend/dist` in debug builds).
    Dir(PathBuf),
}

impl WebAssets {
    /// The client this build carries: embedded in release builds, `frontend/dist` of the source
    /// tree in debug builds.
    pub fn built_in() -> Self {
        if cfg!(debug_assertions) {
            WebAssets::Dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend/dist"))
        } else {
            WebAssets::Embedded
        }
    }

    async fn get(&self, path: &str) -> Option<Cow<'static, [u8]>> {
        match self {
            WebAssets::Embedded => Embedded::get(path).map(|f| f.data),
            WebAssets::Dir(dir) => {
                let relative = safe_relative(path)?;
                tokio::fs::read(dir.join(relative))
                    .await
                    .ok()
                    .map(Cow::Owned)
            }
        }
    }
}

/// Paths that belong to the server itself: never answered with the client's `index.html`.
const SERVER_PREFIXES: &[&str] = &["/api", "/ws", "/health", "/ready", "/metrics", "/mcp"];

/// Hashed, immutable build output.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The router that answers every path the API routes do not: mount it as the fallback.
pub fn router(assets: WebAssets) -> Router {
    Router::new().fallback(serve).with_state(Arc::new(assets))
}

async fn serve(State(assets): State<Arc<WebAssets>>, method: Method, uri: Uri) -> Response {
    let path = uri.path();
    let is_server_path = SERVER_PREFIXES
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")));
    if is_server_path {
        return not_found();
    }
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let file = path.trim_start_matches('/');
    if !file.is_empty() && file != "index.html" {
        if let Some(bytes) = assets.get(file).await {
            let cache = if file.starts_with("assets/") {
                IMMUTABLE
            } else {
                "no-cache"
            };
            return file_response(file, bytes, cache);
        }
        // A missing hashed asset is an old page asking for a file a new build replaced: a 404
        // (not index.html, which the browser would try to run as a script).
        if file.starts_with("assets/") {
            return not_found();
        }
    }
    match assets.get("index.html").await {
        Some(index) => file_response("index.html", index, "no-cache"),
        None => not_built(),
    }
}

fn file_response(name: &str, bytes: Cow<'static, [u8]>, cache: &'static str) -> Response {
    let mime = mime_guess::from_path(name).first_or_octet_stream();
    // Vite writes UTF-8; say so for text, so no browser has to guess.
    let content_type = if mime.type_() == mime_guess::mime::TEXT {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"error":{"code":"not_found","message":"no such endpoint"}}"#,
    )
        .into_response()
}

fn not_built() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        "<!doctype html><title>pm</title><h1>The web client is not built</h1>\
         <p>Build it with <code>npm ci &amp;&amp; npm run build</code> in <code>frontend/</code> \
         (<code>./scripts/run</code> does this), then rebuild a release binary, or point \
         <code>web_dir</code> (PM_WEB_DIR) at a built <code>dist</code> directory. \
         The API (<code>/ws</code>, <code>/api/v1</code>) works without it.</p>",
    )
        .into_response()
}

/// `path` as a relative path with no `..`, root or prefix components, or None.
fn safe_relative(path: &str) -> Option<&Path> {
    let p = Path::new(path);
    p.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_embedded_client_is_frontend_dist() {
        // Debug builds read the embedded folder from disk, so both sides see the same directory
        // (and both see nothing when the client was never built).
        let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend/dist/index.html");
        let embedded = WebAssets::Embedded
            .get("index.html")
            .await
            .map(Cow::into_owned);
        assert_eq!(embedded, std::fs::read(dist).ok());
    }

    #[test]
    fn paths_that_climb_out_of_the_directory_are_refused() {
        assert!(safe_relative("assets/app.js").is_some());
        assert!(safe_relative("../secret").is_none());
        assert!(safe_relative("assets/../../secret").is_none());
        assert!(safe_relative("/etc/passwd").is_none());
    }
}
