//! How requests name things: every field that names a project or a work item takes its id (a
//! UUID) or its human key (`WEB`, `WEB-42`) in any letter case. Replies always carry the canonical
//! id and key. A key that names nothing is `NotFound`, like an unknown id.

use pm_core::{ProjectId, ProjectRef, WorkItemId, WorkItemRef};
use pm_db::{SqliteConnection, project, work_item};
use pm_proto::field;

use crate::Result;

/// The project named by `raw` (id or key) in the wire field `name`.
pub(crate) async fn project_id(
    conn: &mut SqliteConnection,
    raw: &str,
    name: &'static str,
) -> Result<ProjectId> {
    match field::parse(raw, name, ProjectRef::parse)? {
        ProjectRef::Id(id) => Ok(id),
        ProjectRef::Key(key) => Ok(project::get_by_key(conn, &key).await?.id),
    }
}

/// The work item named by `raw` (id or key) in the wire field `name`.
pub(crate) async fn work_item_id(
    conn: &mut SqliteConnection,
    raw: &str,
    name: &'static str,
) -> Result<WorkItemId> {
    match field::parse(raw, name, WorkItemRef::parse)? {
        WorkItemRef::Id(id) => Ok(id),
        WorkItemRef::Key(key) => Ok(work_item::get_by_key(conn, &key).await?.id),
    }
}

/// An optional field naming a work item.
pub(crate) async fn opt_work_item_id(
    conn: &mut SqliteConnection,
    raw: Option<&str>,
    name: &'static str,
) -> Result<Option<WorkItemId>> {
    match raw {
        Some(raw) => Ok(Some(work_item_id(conn, raw, name).await?)),
        None => Ok(None),
    }
}
