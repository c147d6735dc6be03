//! The JSON shapes of the REST API, built from pm-core's entities. Compact by design: absent values
//! are left out rather than written as `null` (so are empty lists and `false` flags), and entities
//! refer to each other by id and human key instead of nesting copies of each other.

use pm_core::{
    ActivityAction, ActivityEntry, DependencyType, EntityKind, Priority, ProjectRole,
    ProjectStatus, SprintStatus, WorkItemStatus, WorkItemType,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::{Array, ArrayBuilder, Object, ObjectBuilder, Type};

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// A string schema whose values are exactly `values`.
pub(crate) fn string_enum(values: impl IntoIterator<Item = &'static str>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .build()
}

/// Schemas of pm-core's enums, generated from their variants so the document cannot drift.
macro_rules! enum_schemas {
    ($($name:ident => $ty:ty),+ $(,)?) => {$(
        pub(crate) fn $name() -> Object {
            string_enum(<$ty>::ALL.iter().map(|v| v.as_str()))
        }
    )+};
}

enum_schemas! {
    item_type_schema => WorkItemType,
    item_status_schema => WorkItemStatus,
    priority_schema => Priority,
    project_status_schema => ProjectStatus,
    project_role_schema => ProjectRole,
    sprint_status_schema => SprintStatus,
    dependency_type_schema => DependencyType,
    entity_kind_schema => EntityKind,
    activity_action_schema => ActivityAction,
}

/// Lists of enum values, for filters that take several.
pub(crate) fn item_types_schema() -> Array {
    ArrayBuilder::new().items(item_type_schema()).build()
}

pub(crate) fn item_statuses_schema() -> Array {
    ArrayBuilder::new().items(item_status_schema()).build()
}

/// How much of each description a response carries.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Descriptions {
    Full,
    /// At most this many characters; 0 leaves descriptions out.
    Chars(usize),
}

impl Descriptions {
    /// The (possibly shortened) text and whether it was shortened.
    pub fn apply(self, text: &str) -> (Option<String>, bool) {
        if text.is_empty() {
            return (None, false);
        }
        match self {
            Descriptions::Full => (Some(text.to_owned()), false),
            Descriptions::Chars(0) => (None, true),
            Descriptions::Chars(max) => match text.char_indices().nth(max) {
                None => (Some(text.to_owned()), false),
                Some((cut, _)) => (Some(format!("{}…", &text[..cut])), true),
            },
        }
    }
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// A project.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Project {
    pub id: String,
    /// Short upper-case code; items are keyed `KEY-NUMBER`.
    pub key: String,
    pub title: String,
    /// Markdown.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<String>,
    #[schema(schema_with = project_status_schema)]
    pub status: &'static str,
    /// The caller's effective role in the project (left out in the change feed).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = project_role_schema)]
    pub my_role: Option<&'static str>,
    pub version: i64,
    /// Milliseconds since the Unix epoch, like every timestamp of the API.
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
}

impl Project {
    pub fn new(p: &pm_core::Project, my_role: Option<ProjectRole>) -> Self {
        Self {
            id: p.id.to_string(),
            key: p.key.to_string(),
            title: p.title.to_string(),
            description: non_empty(&p.description.to_string()),
            status: p.status.as_str(),
            my_role: my_role.map(ProjectRole::as_str),
            version: p.version,
            created_at: p.created_at.as_millis(),
            created_by: p.created_by.to_string(),
            updated_at: p.updated_at.as_millis(),
            updated_by: p.updated_by.to_string(),
        }
    }
}

/// A member of a project.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Member {
    pub user_id: String,
    #[schema(schema_with = project_role_schema)]
    pub role: &'static str,
}

impl From<&pm_core::ProjectMember> for Member {
    fn from(m: &pm_core::ProjectMember) -> Self {
        Self {
            user_id: m.user_id.to_string(),
            role: m.role.as_str(),
        }
    }
}

/// A board column.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SwimLane {
    pub id: String,
    pub name: String,
    /// The status of the items in this column.
    #[schema(schema_with = item_status_schema)]
    pub status: &'static str,
    /// 0-based order on the board.
    pub position: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub wip_limit: Option<u32>,
}

impl From<&pm_core::SwimLane> for SwimLane {
    fn from(l: &pm_core::SwimLane) -> Self {
        Self {
            id: l.id.to_string(),
            name: l.name.clone(),
            status: l.status.as_str(),
            position: l.position,
            wip_limit: l.wip_limit,
        }
    }
}

/// A work item: an epic, a story or a task.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkItem {
    pub id: String,
    /// `KEY-NUMBER`, e.g. `WEB-42`; accepted wherever an item id is.
    pub key: String,
    #[serde(rename = "type")]
    #[schema(schema_with = item_type_schema)]
    pub item_type: &'static str,
    pub title: String,
    #[schema(schema_with = item_status_schema)]
    pub status: &'static str,
    #[schema(schema_with = priority_schema)]
    pub priority: &'static str,
    /// Story points, 0 to 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub points: Option<u32>,
    /// User id.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub assignee: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub sprint_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub parent_id: Option<String>,
    /// Present (and true) while an item that blocks this one is not done.
    #[serde(skip_serializing_if = "is_false")]
    pub blocked: bool,
    /// Milliseconds of finished time entries; left out when none.
    #[serde(skip_serializing_if = "is_zero")]
    pub logged_ms: i64,
    /// Markdown, possibly shortened (see `description_truncated`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<String>,
    /// Present (and true) when `description` was shortened or left out; the work-item endpoint
    /// returns it whole.
    #[serde(skip_serializing_if = "is_false")]
    pub description_truncated: bool,
    /// Order within the item's board column: compare as byte strings.
    pub position: String,
    pub version: i64,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
}

/// What is derived for an item rather than stored on it.
pub(crate) type Derived = pm_proto::WorkItemDerived;

impl WorkItem {
    /// An item of the shared read path.
    pub fn of(i: &pm_ws::query::Item, descriptions: Descriptions) -> Self {
        Self::new(&i.item, i.derived, descriptions)
    }

    pub fn new(w: &pm_core::WorkItem, derived: Derived, descriptions: Descriptions) -> Self {
        let (description, description_truncated) = descriptions.apply(&w.description.to_string());
        Self {
            id: w.id.to_string(),
            key: w.key.to_string(),
            item_type: w.item_type.as_str(),
            title: w.title.to_string(),
            status: w.status.as_str(),
            priority: w.priority.as_str(),
            points: w.story_points.map(|p| p.get()),
            assignee: w.assignee.as_ref().map(ToString::to_string),
            sprint_id: w.sprint_id.map(|s| s.to_string()),
            parent_id: w.parent_id.map(|p| p.to_string()),
            blocked: derived.blocked,
            logged_ms: derived.logged_ms,
            description,
            description_truncated,
            position: w.position.clone(),
            version: w.version,
            created_at: w.created_at.as_millis(),
            created_by: w.created_by.to_string(),
            updated_at: w.updated_at.as_millis(),
            updated_by: w.updated_by.to_string(),
        }
    }
}

/// A reference to a work item.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ItemRef {
    pub id: String,
    pub key: String,
    pub title: String,
    #[serde(rename = "type")]
    #[schema(schema_with = item_type_schema)]
    pub item_type: &'static str,
    #[schema(schema_with = item_status_schema)]
    pub status: &'static str,
}

impl From<&pm_core::WorkItem> for ItemRef {
    fn from(w: &pm_core::WorkItem) -> Self {
        Self {
            id: w.id.to_string(),
            key: w.key.to_string(),
            title: w.title.to_string(),
            item_type: w.item_type.as_str(),
            status: w.status.as_str(),
        }
    }
}

/// Counts and story points of a sprint's items.
#[derive(Debug, Default, Serialize, ToSchema)]
pub(crate) struct SprintTotals {
    pub items: u32,
    pub done_items: u32,
    pub points: u32,
    pub done_points: u32,
}

impl From<pm_ws::query::SprintTotals> for SprintTotals {
    fn from(t: pm_ws::query::SprintTotals) -> Self {
        Self {
            items: t.items,
            done_items: t.done_items,
            points: t.points,
            done_points: t.done_points,
        }
    }
}

/// A sprint.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Sprint {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub goal: Option<String>,
    #[schema(schema_with = sprint_status_schema)]
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub starts_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub ends_at: Option<i64>,
    pub version: i64,
    /// Left out in the change feed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub totals: Option<SprintTotals>,
}

impl Sprint {
    pub fn new(s: &pm_core::Sprint, totals: Option<SprintTotals>) -> Self {
        Self {
            id: s.id.to_string(),
            name: s.name.to_string(),
            goal: non_empty(&s.goal.to_string()),
            status: s.status.as_str(),
            starts_at: s.starts_at.map(|t| t.as_millis()),
            ends_at: s.ends_at.map(|t| t.as_millis()),
            version: s.version,
            totals,
        }
    }
}

/// A link between two work items.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Dependency {
    pub id: String,
    /// `blocks`: `blocking` must be done before `blocked`; `relates_to`: a plain link.
    #[serde(rename = "type")]
    #[schema(schema_with = dependency_type_schema)]
    pub dep_type: &'static str,
    /// Key of the blocking (or first) item.
    pub blocking: String,
    /// Key of the blocked (or second) item.
    pub blocked: String,
    pub blocking_id: String,
    pub blocked_id: String,
}

impl Dependency {
    /// A link of the shared read path.
    pub fn of(l: &pm_ws::query::project::Link) -> Self {
        Self::new(&l.link, &l.blocking.to_string(), &l.blocked.to_string())
    }

    pub fn new(d: &pm_core::Dependency, blocking_key: &str, blocked_key: &str) -> Self {
        Self {
            id: d.id.to_string(),
            dep_type: d.dep_type.as_str(),
            blocking: blocking_key.to_owned(),
            blocked: blocked_key.to_owned(),
            blocking_id: d.blocking_id.to_string(),
            blocked_id: d.blocked_id.to_string(),
        }
    }
}

/// A comment on a work item.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Comment {
    pub id: String,
    pub work_item_id: String,
    pub author: String,
    /// Markdown.
    pub body: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&pm_core::Comment> for Comment {
    fn from(c: &pm_core::Comment) -> Self {
        Self {
            id: c.id.to_string(),
            work_item_id: c.work_item_id.to_string(),
            author: c.author.to_string(),
            body: c.body.to_string(),
            version: c.version,
            created_at: c.created_at.as_millis(),
            updated_at: c.updated_at.as_millis(),
        }
    }
}

/// Time logged (or being logged) on a work item.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TimeEntry {
    pub id: String,
    pub work_item_id: String,
    pub user_id: String,
    pub started_at: i64,
    /// Left out while the timer runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub ended_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub duration_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<String>,
    pub version: i64,
}

impl From<&pm_core::TimeEntry> for TimeEntry {
    fn from(t: &pm_core::TimeEntry) -> Self {
        Self {
            id: t.id.to_string(),
            work_item_id: t.work_item_id.to_string(),
            user_id: t.user_id.to_string(),
            started_at: t.started_at.as_millis(),
            ended_at: t.ended_at.map(|e| e.as_millis()),
            duration_ms: t.duration_ms,
            description: non_empty(&t.description.to_string()),
            version: t.version,
        }
    }
}

/// One changed field of one entity, or the creation or deletion of a whole entity.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Activity {
    /// Increasing; activity pages by it, newest first.
    pub id: i64,
    /// The change-log sequence number of the change, when it is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub seq: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub project_id: Option<String>,
    #[schema(schema_with = entity_kind_schema)]
    pub entity: &'static str,
    pub entity_id: String,
    #[schema(schema_with = activity_action_schema)]
    pub action: &'static str,
    /// The changed field, for updates.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub old_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub new_value: Option<String>,
    pub actor: String,
    pub at: i64,
}

impl From<&ActivityEntry> for Activity {
    fn from(a: &ActivityEntry) -> Self {
        Self {
            id: a.id,
            seq: a.seq,
            project_id: a.project_id.map(|p| p.to_string()),
            entity: a.entity.as_str(),
            entity_id: a.entity_id.clone(),
            action: a.action.as_str(),
            field: a.field.clone(),
            old_value: a.old_value.clone(),
            new_value: a.new_value.clone(),
            actor: a.actor.to_string(),
            at: a.at.as_millis(),
        }
    }
}
