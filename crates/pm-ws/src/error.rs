use pm_core::{EntityKind, RuleViolation};
use pm_db::Conflict;
use pm_proto::pb;

/// Why a command was refused. Each variant maps to exactly one protocol [`pb::ErrorCode`]; the
/// message sent to clients is written here, never taken from an internal error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    Validation {
        field: Option<&'static str>,
        message: String,
        /// For dependency cycles: the cycle by human keys.
        cycle: Vec<String>,
    },
    #[error("{entity} not found")]
    NotFound { entity: EntityKind },
    #[error("{message}")]
    Conflict {
        message: String,
        current_version: Option<i64>,
        /// Boxed: entity states are large and conflicts are rare.
        current: Option<Box<pb::error::Current>>,
    },
    #[error("permission denied: {0}")]
    PermissionDenied(&'static str),
    #[error("rate limited")]
    RateLimited { retry_after_ms: u32 },
    #[error("the frame is not a valid request")]
    InvalidMessage,
    #[error("the server is busy; retry shortly")]
    Unavailable(#[source] pm_db::Error),
    /// The tenant's write queue is full: retry after `retry_after_ms`, with the same request id.
    #[error("too many changes are waiting; retry shortly")]
    Overloaded { retry_after_ms: u32 },
    /// A failure that is not the client's doing. Its cause is logged once, where it is mapped to
    /// a reply; the client only learns that it happened.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn validation(field: &'static str, message: impl Into<String>) -> Self {
        Error::Validation {
            field: Some(field),
            message: message.into(),
            cycle: Vec::new(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Error::Conflict {
            message: message.into(),
            current_version: None,
            current: None,
        }
    }

    pub fn code(&self) -> pb::ErrorCode {
        match self {
            Error::Validation { .. } => pb::ErrorCode::Validation,
            Error::NotFound { .. } => pb::ErrorCode::NotFound,
            Error::Conflict { .. } => pb::ErrorCode::Conflict,
            Error::PermissionDenied(_) => pb::ErrorCode::PermissionDenied,
            Error::RateLimited { .. } => pb::ErrorCode::RateLimited,
            Error::InvalidMessage => pb::ErrorCode::InvalidMessage,
            Error::Unavailable(_) | Error::Overloaded { .. } => pb::ErrorCode::Unavailable,
            Error::Internal(_) => pb::ErrorCode::Internal,
        }
    }

    /// The error as it travels to the client.
    pub fn to_wire(&self) -> pb::Error {
        let mut wire = pb::Error {
            code: self.code().into(),
            message: self.to_string(),
            ..Default::default()
        };
        match self {
            Error::Validation { field, cycle, .. } => {
                wire.field = field.unwrap_or_default().to_owned();
                wire.cycle = cycle.clone();
            }
            Error::Conflict {
                current_version,
                current,
                ..
            } => {
                wire.current_version = *current_version;
                wire.current = current.as_deref().cloned();
            }
            Error::RateLimited { retry_after_ms } | Error::Overloaded { retry_after_ms } => {
                wire.retry_after_ms = *retry_after_ms;
            }
            _ => {}
        }
        wire
    }
}

impl From<RuleViolation> for Error {
    fn from(v: RuleViolation) -> Self {
        let cycle = match &v {
            RuleViolation::DependencyCycle { path } => path.clone(),
            _ => Vec::new(),
        };
        Error::Validation {
            field: v.field(),
            message: v.to_string(),
            cycle,
        }
    }
}

impl From<pm_proto::Error> for Error {
    fn from(e: pm_proto::Error) -> Self {
        match e {
            pm_proto::Error::Rule(v) => v.into(),
            pm_proto::Error::Decode(_) => Error::InvalidMessage,
            other => Error::Validation {
                field: other.field(),
                message: other.to_string(),
                cycle: Vec::new(),
            },
        }
    }
}

impl From<pm_db::Error> for Error {
    fn from(e: pm_db::Error) -> Self {
        match e {
            pm_db::Error::NotFound { entity } => Error::NotFound { entity },
            pm_db::Error::Conflict(c) => conflict(c),
            pm_db::Error::BrokenReference { entity } => Error::Validation {
                field: None,
                message: format!("the referenced {entity} does not exist in this project"),
                cycle: Vec::new(),
            },
            pm_db::Error::InvalidTenant(v) => v.into(),
            pm_db::Error::Unavailable(_) => Error::Unavailable(e),
            other => Error::Internal(Box::new(other)),
        }
    }
}

fn conflict(c: Conflict) -> Error {
    let message = match &c {
        Conflict::StaleVersion {
            entity,
            current_version,
        } => {
            return Error::Conflict {
                message: format!(
                    "the {entity} was changed by someone else (now at version {current_version})"
                ),
                current_version: Some(*current_version),
                current: None,
            };
        }
        Conflict::ProjectKeyTaken => "a live project already uses this key",
        Conflict::AlreadyMember => "the user is already a member of the project",
        Conflict::ActiveSprintExists => "the project already has an active sprint",
        Conflict::TimerAlreadyRunning => "the user already has a running timer",
        Conflict::DuplicateDependency => "these items are already linked this way",
    };
    Error::conflict(message)
}
