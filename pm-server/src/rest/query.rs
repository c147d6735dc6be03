//! Query parameters, read by hand: each error names its parameter, and a parameter the endpoint
//! does not know is refused, so a misspelt filter cannot silently widen a result.

use std::str::FromStr;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;

use super::error::ApiError;

/// An endpoint's parameters, read from the query string.
pub(crate) trait FromQuery: Sized {
    fn from_query(q: &mut QueryReader) -> Result<Self, ApiError>;
}

/// Extracts `T` from the query string; leftover parameters are refused.
pub(crate) struct Params<T>(pub T);

impl<S: Send + Sync, T: FromQuery> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::BadRequest {
                field: None,
                message: "the query string is not valid".to_owned(),
            })?;
        let mut reader = QueryReader { pairs };
        let value = T::from_query(&mut reader)?;
        reader.finish()?;
        Ok(Params(value))
    }
}

/// The query string's pairs not read yet.
pub(crate) struct QueryReader {
    pairs: Vec<(String, String)>,
}

impl QueryReader {
    /// Every value given for `name` (repeated or comma-separated), consumed.
    pub fn list(&mut self, name: &str) -> Vec<String> {
        let mut values = Vec::new();
        self.pairs.retain(|(k, v)| {
            if k == name {
                values.extend(
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                );
                false
            } else {
                true
            }
        });
        values
    }

    /// The one value of `name`, consumed; repeating it is an error.
    pub fn text(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        let mut found = None;
        let mut repeated = false;
        self.pairs.retain(|(k, v)| {
            if k == name {
                repeated |= found.is_some();
                found = Some(v.clone());
                false
            } else {
                true
            }
        });
        if repeated {
            return Err(ApiError::bad_request(name, "given more than once"));
        }
        Ok(found)
    }

    /// The value of `name` parsed as `T`; `expected` says what it should have been.
    pub fn parse<T: FromStr>(&mut self, name: &str, expected: &str) -> Result<Option<T>, ApiError> {
        self.text(name)?
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| ApiError::bad_request(name, format!("expected {expected}")))
            })
            .transpose()
    }

    /// A count between `1` and `max`, `default` when absent.
    pub fn limit(&mut self, name: &str, default: u32, max: u32) -> Result<u32, ApiError> {
        self.bounded(name, default, 1, max)
    }

    /// A number between `min` and `max`, `default` when absent.
    pub fn bounded(
        &mut self,
        name: &str,
        default: u32,
        min: u32,
        max: u32,
    ) -> Result<u32, ApiError> {
        Ok(self.optional_bounded(name, min, max)?.unwrap_or(default))
    }

    /// A number between `min` and `max`, if given.
    pub fn optional_bounded(
        &mut self,
        name: &str,
        min: u32,
        max: u32,
    ) -> Result<Option<u32>, ApiError> {
        let expected = format!("a whole number from {min} to {max}");
        match self.parse::<u32>(name, &expected)? {
            Some(n) if !(min..=max).contains(&n) => {
                Err(ApiError::bad_request(name, format!("expected {expected}")))
            }
            n => Ok(n),
        }
    }

    /// `true` or `false`.
    pub fn flag(&mut self, name: &str) -> Result<Option<bool>, ApiError> {
        self.parse(name, "true or false")
    }

    fn finish(self) -> Result<(), ApiError> {
        match self.pairs.into_iter().next() {
            None => Ok(()),
            Some((name, _)) => Err(ApiError::BadRequest {
                message: format!("{name}: unknown query parameter; see /api/v1/openapi.json"),
                field: Some(name),
            }),
        }
    }
}

/// Parses each value with a pm-core parser (whose error lists the accepted values).
pub(crate) fn parse_each<T>(
    values: &[String],
    name: &str,
    parse: impl Fn(&str) -> pm_core::RuleResult<T>,
) -> Result<Vec<T>, ApiError> {
    values
        .iter()
        .map(|v| parse(v).map_err(|e| ApiError::bad_request(name, e.to_string())))
        .collect()
}

/// Endpoints without query parameters still refuse unknown ones.
impl FromQuery for () {
    fn from_query(_: &mut QueryReader) -> Result<Self, ApiError> {
        Ok(())
    }
}
