use pm_core::{EntityKind, RuleViolation};

/// Why a write was refused because of the state already stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// The entity changed since the caller read it: `current_version` is what is stored now.
    StaleVersion {
        entity: EntityKind,
        current_version: i64,
    },
    /// A live project already uses this key.
    ProjectKeyTaken,
    /// The user already belongs to the project.
    AlreadyMember,
    /// The project already has an active sprint.
    ActiveSprintExists,
    /// The user already has a running timer.
    TimerAlreadyRunning,
    /// The same live link between these two items already exists.
    DuplicateDependency,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{entity} not found")]
    NotFound { entity: EntityKind },
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    /// A reference to another row does not hold (unknown row, or a row in another project).
    #[error("a referenced {entity} does not exist in this project")]
    BrokenReference { entity: EntityKind },
    /// A value reached the database that its CHECK constraints refuse; the callers validate first,
    /// so this means a bug in a caller, reported without writing anything.
    #[error("a value was refused by a database constraint")]
    ConstraintViolated,
    #[error("invalid tenant id")]
    InvalidTenant(#[source] RuleViolation),
    /// A stored value could not be read back into its domain type.
    #[error("stored {column} is not valid")]
    Corrupt { column: &'static str },
    // The variants below say their cause in their own message (and do not also report it as a
    // `source`, which would print it twice): logs and operators see one line that names the file
    // and the operating system's or SQLite's reason, wherever the error is displayed.
    /// The database is busy or locked beyond the busy timeout, or the pool is closing.
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(sqlx::migrate::MigrateError),
    /// A file or directory of the data directory cannot be used.
    #[error("cannot use {}: {cause}", path.display())]
    Storage {
        path: std::path::PathBuf,
        cause: std::io::Error,
    },
    /// A database file cannot be opened or created.
    #[error("cannot open the database {}: {cause}", path.display())]
    Open {
        path: std::path::PathBuf,
        cause: sqlx::Error,
    },
    #[error("file system error: {0}")]
    Io(std::io::Error),
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::Io(err)
    }
}

impl Error {
    /// An IO failure on `path`.
    pub fn storage(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_owned();
        move |cause| Error::Storage { path, cause }
    }

    /// A failure to open the database at `path`.
    pub fn open(path: &std::path::Path) -> impl FnOnce(sqlx::Error) -> Self {
        let path = path.to_owned();
        move |cause| Error::Open { path, cause }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        use sqlx::error::ErrorKind;
        match &err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
                Error::Unavailable(err)
            }
            sqlx::Error::Database(db) => match db.kind() {
                ErrorKind::CheckViolation | ErrorKind::NotNullViolation => {
                    Error::ConstraintViolated
                }
                _ if is_busy(db.code().as_deref()) => Error::Unavailable(err),
                _ => Error::Database(err),
            },
            _ => Error::Database(err),
        }
    }
}

/// SQLITE_BUSY (5) and SQLITE_LOCKED (6), including their extended codes.
fn is_busy(code: Option<&str>) -> bool {
    code.and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| matches!(c & 0xff, 5 | 6))
}

/// Translates a failed write: a UNIQUE violation becomes `on_unique`, a FOREIGN KEY violation a
/// broken reference to `referenced`; anything else goes through the general mapping.
pub(crate) fn on_constraint(
    err: sqlx::Error,
    on_unique: Conflict,
    referenced: EntityKind,
) -> Error {
    use sqlx::error::ErrorKind;
    if let sqlx::Error::Database(db) = &err {
        match db.kind() {
            ErrorKind::UniqueViolation => return Error::Conflict(on_unique),
            ErrorKind::ForeignKeyViolation => return Error::BrokenReference { entity: referenced },
            _ => {}
        }
    }
    Error::from(err)
}

/// Translates a failed write where no UNIQUE rule is expected to apply.
pub(crate) fn on_reference(err: sqlx::Error, referenced: EntityKind) -> Error {
    if let sqlx::Error::Database(db) = &err
        && db.kind() == sqlx::error::ErrorKind::ForeignKeyViolation
    {
        return Error::BrokenReference { entity: referenced };
    }
    Error::from(err)
}
