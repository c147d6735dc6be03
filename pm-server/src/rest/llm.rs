//! `/llm/context`: the guide agents read before they use the API (`crate::guide`).

use axum::Json;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::error::{ApiError, Common};
use super::query::{FromQuery, Params, QueryReader};
use super::view::string_enum;
use crate::guide::{self, KINDS};

fn kind_schema() -> utoipa::openapi::Object {
    string_enum(KINDS.iter().copied())
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ContextParams {
    /// Only sections of this kind: domain rules, the API (endpoints, JSON vocabulary, writes), or
    /// worked examples.
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

/// One section of the guide.
#[derive(Serialize, ToSchema)]
pub(crate) struct Doc {
    /// The section's place in the guide, from 1.
    pub id: i64,
    #[schema(schema_with = kind_schema)]
    pub kind: String,
    pub topic: String,
    pub title: String,
    /// Markdown.
    pub body: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Docs {
    pub docs: Vec<Doc>,
}

/// Get the guide for agents: domain rules, the endpoints with their filters and ETags, the JSON
/// vocabulary, how writes happen, and worked examples as API calls.
#[utoipa::path(
    get,
    operation_id = "getLlmContext",
    path = "/llm/context",
    tag = "docs",
    params(ContextParams),
    responses(
        (status = 200, description = "The guide's sections, in order", body = Docs),
        Common
    )
)]
pub(crate) async fn context(
    Caller(_caller): Caller,
    Params(params): Params<ContextParams>,
) -> Result<Json<Docs>, ApiError> {
    let docs = guide::sections(None)
        .into_iter()
        .zip(1..)
        .filter(|(s, _)| params.kind.as_deref().is_none_or(|k| s.kind == k))
        .map(|(s, id)| Doc {
            id,
            kind: s.kind.to_owned(),
            topic: s.topic.to_owned(),
            title: s.title.to_owned(),
            body: s.body,
        })
        .collect();
    Ok(Json(Docs { docs }))
}
