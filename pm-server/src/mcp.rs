//! The MCP endpoint `/mcp`: pm's tools for LLM agents, over the Model Context Protocol's
//! Streamable HTTP transport (the `rmcp` SDK; no hand-written JSON-RPC).
//!
//! * Authentication is the REST API's: the same bearer token, verified for every HTTP request by
//!   [`authenticate`] (401 with `WWW-Authenticate` without one), then a per-user rate limit of its
//!   own. The verified [`Identity`] travels in the request's extensions to the tools.
//! * Reads are the shared queries of `pm_ws::query` (the ones `/ws` and `/api/v1` use); writes are
//!   commands run by `Service::execute` exactly like `/ws` commands (with no origin connection), so
//!   rules, activity rows, sequence numbers, idempotency and live events are identical: an agent's
//!   change reaches every WebSocket subscriber of the project at once.
//! * The server is stateless (no MCP sessions to keep): each POST is answered on its own, with
//!   plain JSON.
//! * Tools a caller cannot use are not listed: viewers get the read tools; editors the work-item
//!   tools too; project admins (and tenant admins) the sprint tools as well. Write tools can be
//!   switched off by configuration (`mcp_write_tools`).

mod render;
mod tools;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pm_auth::Identity;
use pm_core::ProjectRole;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};

use crate::rest::auth::RateLimiter;
use crate::rest::error::ApiError;
use crate::state::AppState;

/// What the MCP endpoint shares between requests.
pub struct Mcp {
    /// Whether `/mcp` is served at all.
    pub(crate) enabled: bool,
    pub(crate) limiter: RateLimiter,
    /// Whether write tools are offered at all.
    pub(crate) write_tools: bool,
    /// Built once: the tools' JSON schemas are generated when the router is.
    tools: Arc<ToolRouter<PmTools>>,
}

impl Mcp {
    pub fn new(config: &crate::Config) -> Self {
        Self {
            enabled: config.mcp_enabled,
            limiter: RateLimiter::new(config.mcp_requests_per_second, config.mcp_request_burst),
            write_tools: config.mcp_write_tools,
            tools: Arc::new(tools::router()),
        }
    }
}

/// The `/mcp` service: Streamable HTTP, stateless, answering with plain JSON. The token is checked
/// by [`authenticate`], which `router.rs` layers in front of it.
pub(crate) fn service(state: &AppState) -> StreamableHttpService<PmTools, NeverSessionManager> {
    let state = state.clone();
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_cancellation_token(state.realtime.shutdown.child_token())
        // Every request carries a verified bearer token, which a browser tricked by DNS rebinding
        // does not have: the `Host` check guards unauthenticated local servers, not this one.
        .disable_allowed_hosts();
    StreamableHttpService::new(
        move || Ok(PmTools::new(state.clone())),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}

/// The write tools' names and descriptions, sorted by name (for the agents' guide).
pub(crate) fn write_tool_summaries() -> Vec<(String, String)> {
    let mut tools: Vec<(String, String)> = PmTools::write_tools()
        .list_all()
        .into_iter()
        .map(|t| {
            (
                t.name.into_owned(),
                t.description.map(|d| d.into_owned()).unwrap_or_default(),
            )
        })
        .collect();
    tools.sort();
    tools
}

/// Verifies the bearer token (as `/ws` and `/api/v1` do), takes one token from the caller's MCP
/// rate-limit bucket and hands the identity to the tools.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(pm_auth::bearer_from_header);
    let identity = match token.map(|t| state.verifier.verify(t)) {
        Some(Ok(identity)) => identity,
        Some(Err(e)) => {
            // Never log the token; the error's text does not contain it.
            tracing::debug!(error = %e, "refused an MCP token");
            return unauthenticated("the token is not valid");
        }
        None => return unauthenticated("a bearer token is required"),
    };
    if let Err(retry_after) = state.mcp.limiter.try_take(&identity) {
        return ApiError::RateLimited { retry_after }.into_response();
    }
    request.extensions_mut().insert(identity);
    next.run(request).await
}

/// A 401, with `WWW-Authenticate` as every 401 of `/api/v1` has.
fn unauthenticated(message: &'static str) -> Response {
    ApiError::Unauthenticated(message).into_response()
}

/// The MCP server handler: one per request (the transport is stateless).
#[derive(Clone)]
pub struct PmTools {
    state: AppState,
}

impl PmTools {
    fn new(state: AppState) -> Self {
        Self { state }
    }

    /// The tools `caller` may use.
    async fn visible_tools(&self, caller: &Identity) -> Result<Vec<Tool>, ErrorData> {
        let level = self.level(caller).await?;
        Ok(self
            .state
            .mcp
            .tools
            .list_all()
            .into_iter()
            .filter(|t| tools::needs(&t.name) <= level)
            .collect())
    }

    /// What the caller may do through MCP: reading always; writing when write tools are on and
    /// their role somewhere allows it.
    async fn level(&self, caller: &Identity) -> Result<ProjectRole, ErrorData> {
        if !self.state.mcp.write_tools {
            return Ok(ProjectRole::Viewer);
        }
        if pm_ws::read::sees_every_project(caller) {
            // Tenant admins are admins of every project, present and future.
            return Ok(ProjectRole::Admin);
        }
        let mut r = self
            .state
            .realtime
            .service
            .reader(caller)
            .await
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        let projects = pm_ws::query::project::list(&mut r, caller, false)
            .await
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        let best = projects.iter().map(|(_, role)| *role).max();
        // A tenant editor without projects yet may still create items once added; until then
        // there is nothing to write to, so the read tools are all they see.
        Ok(best.unwrap_or(ProjectRole::Viewer))
    }
}

/// The verified caller of this MCP request (put there by [`authenticate`]).
pub(crate) fn caller_of(extensions: &rmcp::model::Extensions) -> Result<Identity, ErrorData> {
    extensions
        .get::<Parts>()
        .and_then(|parts| parts.extensions.get::<Identity>())
        .cloned()
        .ok_or_else(|| ErrorData::internal_error("the request was not authenticated", None))
}

impl ServerHandler for PmTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("pm", env!("CARGO_PKG_VERSION")))
            .with_instructions(tools::INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = caller_of(&context.extensions)?;
        Ok(ListToolsResult::with_all_items(
            self.visible_tools(&caller).await?,
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = caller_of(&context.extensions)?;
        let needs = tools::needs(&request.name);
        if needs > ProjectRole::Viewer && self.level(&caller).await? < needs {
            let message = if self.state.mcp.write_tools {
                format!(
                    "the tool {} needs the {} role in a project; your roles do not allow it. \
                     Use the read tools instead.",
                    request.name,
                    needs.as_str()
                )
            } else {
                format!(
                    "the tool {} is switched off on this server (mcp_write_tools = false); only \
                     read tools are available.",
                    request.name
                )
            };
            return Ok(CallToolResult::error(vec![ContentBlock::text(message)]).into());
        }
        let tools = Arc::clone(&self.state.mcp.tools);
        tools
            .call(ToolCallContext::new(self, request, context))
            .await
    }
}
