//! `/llm/context`: the documentation rows agents read before they reason about the data.

use axum::Json;
use axum::extract::State;
use pm_ws::query;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::error::{ApiError, Common};
use super::query::{FromQuery, Params, QueryReader};
use super::reader;
use super::view::string_enum;
use crate::state::AppState;

use query::docs::KINDS;

fn kind_schema() -> utoipa::openapi::Object {
    string_enum(KINDS.iter().copied())
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ContextParams {
    /// Only rows of this kind.
    #[param(schema_with = kind_schema, required = false)]
    kind: Option<String>,
}

impl FromQuery for ContextParams {
    fn from_query(q: &mut QueryReader) -> Result<Self, ApiError> {
        let kind = q.text("kind")?;
        if let Some(k) = &kind
            && !KINDS.contains(&k.as_str())
        {
            return Err(ApiError::bad_request(
                "kind",
                format!("expected one of: {}", KINDS.join(", ")),
            ));
        }
        Ok(Self { kind })
    }
}

/// One documentation row.
#[derive(Serialize, ToSchema)]
pub(crate) struct Doc {
    pub id: i64,
    #[schema(schema_with = kind_schema)]
    pub kind: String,
    pub topic: String,
    pub title: String,
    /// Markdown.
    pub body: String,
    /// The tables and `table.column`s the row describes (checked against the live schema).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refs: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Docs {
    pub docs: Vec<Doc>,
}

/// Get the documentation for agents: schema notes, business rules and examples.
#[utoipa::path(
    get,
    operation_id = "getLlmContext",
    path = "/llm/context",
    tag = "docs",
    params(ContextParams),
    responses(
        (status = 200, description = "The documentation rows, in order", body = Docs),
        Common
    )
)]
pub(crate) async fn context(
    Caller(caller): Caller,
    State(state): State<AppState>,
    Params(params): Params<ContextParams>,
) -> Result<Json<Docs>, ApiError> {
    let mut r = reader(&state, &caller).await?;
    let rows = query::docs::list(&mut r, params.kind.as_deref()).await?;
    Ok(Json(Docs {
        docs: rows
            .into_iter()
            .map(|row| Doc {
                id: row.id,
                kind: row.kind,
                topic: row.topic,
                title: row.title,
                body: row.body,
                refs: row.refs,
            })
            .collect(),
    }))
}
