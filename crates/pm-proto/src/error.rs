use pm_core::RuleViolation;

use crate::pb;

/// Why a message from the wire could not become a domain value.
///
/// Every variant about one input names it in the protocol's own words (`"parent_id"`,
/// `"status"`), so the server can put it in [`pb::Error::field`] unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A message field that must be present was absent (proto3 cannot mark a field required).
    #[error("{field} is required")]
    Missing { field: &'static str },
    /// A value was present but broke a domain rule; the violation names the field.
    #[error(transparent)]
    Rule(#[from] RuleViolation),
    /// An enum field held `UNSPECIFIED` (0) or a number this version of the protocol does not know.
    #[error("{field} has no valid value (got {value})")]
    UnknownEnum { field: &'static str, value: i32 },
    /// The bytes were not a protobuf message of the expected type. The decoder's own description
    /// stays in the source chain for logs; clients only learn that the frame was unreadable.
    #[error("the frame is not a decodable message")]
    Decode(#[source] prost::DecodeError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The input the error is about, when it is about one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Missing { field } | Self::UnknownEnum { field, .. } => Some(field),
            Self::Rule(violation) => violation.field(),
            Self::Decode(_) => None,
        }
    }

    /// The stable code a client sees for this error.
    pub fn code(&self) -> pb::ErrorCode {
        match self {
            Self::Missing { .. } | Self::Rule(_) | Self::UnknownEnum { .. } => {
                pb::ErrorCode::Validation
            }
            Self::Decode(_) => pb::ErrorCode::InvalidMessage,
        }
    }
}

impl From<&Error> for pb::Error {
    fn from(err: &Error) -> Self {
        let cycle = match err {
            Error::Rule(RuleViolation::DependencyCycle { path }) => path.clone(),
            _ => Vec::new(),
        };
        pb::Error {
            code: err.code().into(),
            message: err.to_string(),
            field: err.field().unwrap_or_default().to_owned(),
            cycle,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn a_rule_violation_keeps_the_field_it_names() {
        let err = Error::from(RuleViolation::Invalid {
            field: "parent_id",
            reason: "not a UUID",
        });
        assert_eq!(err.field(), Some("parent_id"));
        let wire = pb::Error::from(&err);
        assert_eq!(wire.code(), pb::ErrorCode::Validation);
        assert_eq!(wire.field, "parent_id");
    }

    #[test]
    fn a_dependency_cycle_travels_as_the_list_of_keys() {
        let path = vec!["WEB-3".to_owned(), "WEB-7".to_owned(), "WEB-3".to_owned()];
        let wire = pb::Error::from(&Error::Rule(RuleViolation::DependencyCycle {
            path: path.clone(),
        }));
        assert_eq!(wire.cycle, path);
        assert_eq!(wire.field, "blocked_id");
    }

    #[test]
    fn an_undecodable_frame_is_an_invalid_message_without_decoder_details() {
        let Err(decode) = pb::ClientMessage::decode(&[0xff_u8, 0xff, 0xff][..]) else {
            panic!("garbage decoded");
        };
        let err = Error::Decode(decode);
        let wire = pb::Error::from(&err);
        assert_eq!(wire.code(), pb::ErrorCode::InvalidMessage);
        assert_eq!(wire.message, "the frame is not a decodable message");
        assert!(wire.field.is_empty());
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn missing_and_unknown_enum_errors_name_their_field() {
        assert_eq!(Error::Missing { field: "project" }.field(), Some("project"));
        assert_eq!(
            Error::UnknownEnum {
                field: "status",
                value: 0
            }
            .field(),
            Some("status")
        );
    }
}
