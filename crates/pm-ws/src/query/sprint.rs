//! Sprints with their totals, and one sprint with its items.

use pm_auth::Identity;
use pm_core::{Project, Sprint, SprintId};
use pm_db::{SqliteConnection, sprint, work_item};
use pm_proto::field;

use super::{Derivations, Item, SprintTotals};
use crate::Result;
use crate::read::authorize_read;

/// Every live sprint of the project `raw` names (any status), oldest first.
pub async fn list(
    conn: &mut SqliteConnection,
    actor: &Identity,
    raw: &str,
) -> Result<(Project, Vec<Sprint>)> {
    let (project, _) = super::project::get(conn, actor, raw).await?;
    let sprints = sprint::list(conn, project.id).await?;
    Ok((project, sprints))
}

/// [`list`] with each sprint's totals (which reads every item of the project).
pub async fn list_with_totals(
    conn: &mut SqliteConnection,
    actor: &Identity,
    raw: &str,
) -> Result<(Project, Vec<(Sprint, SprintTotals)>)> {
    let (project, sprints) = list(conn, actor, raw).await?;
    let items = work_item::list(conn, project.id, &Default::default()).await?;
    let mut totals = super::sprint_totals(&items);
    let sprints = sprints
        .into_iter()
        .map(|s| {
            let t = totals.remove(&s.id).unwrap_or_default();
            (s, t)
        })
        .collect();
    Ok((project, sprints))
}

/// A sprint with its items.
#[derive(Debug, Clone)]
pub struct Detail {
    pub sprint: Sprint,
    pub project: Project,
    pub totals: SprintTotals,
    /// The sprint's live items in number order.
    pub items: Vec<Item>,
}

/// The sprint `raw` names (its id, in the field `sprint`).
pub async fn get(conn: &mut SqliteConnection, actor: &Identity, raw: &str) -> Result<Detail> {
    let id = field::parse(raw, "sprint", SprintId::parse)?;
    let s = sprint::get(conn, id).await?;
    let project = pm_db::project::get(conn, s.project_id).await?;
    authorize_read(conn, actor, &project).await?;
    let mut items = work_item::in_sprint(conn, s.id).await?;
    items.sort_by_key(|i| i.key.number);
    let mut totals = SprintTotals::default();
    for item in &items {
        totals.add(item);
    }
    let derivations = Derivations::load(conn, project.id).await?;
    Ok(Detail {
        sprint: s,
        project,
        totals,
        items: derivations.all(items),
    })
}
