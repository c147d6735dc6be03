use std::sync::Arc;

use pm_core::{
    Comment, CommentBody, CommentId, Description, ItemKey, Priority, Project, ProjectId,
    ProjectKey, ProjectStatus, Sprint, SprintGoal, SprintId, SprintName, SprintStatus, TenantId,
    TimeEntry, TimeEntryId, TimeEntryNote, Timestamp, Title, UserId, WorkItem, WorkItemId,
    WorkItemStatus, WorkItemType,
};
use pm_db::{StorageConfig, TenantDb, TenantManager, project, work_item};
use tempfile::TempDir;

/// A temporary data directory with a tenant manager over it.
pub struct TestStore {
    pub dir: TempDir,
    pub tenants: TenantManager,
}

impl TestStore {
    pub fn new() -> Self {
        Self::with(|_| {})
    }

    pub fn with(adjust: impl FnOnce(&mut StorageConfig)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = StorageConfig::new(dir.path());
        adjust(&mut config);
        Self {
            dir,
            tenants: TenantManager::new(config),
        }
    }

    pub async fn tenant(&self, id: &str) -> Arc<TenantDb> {
        self.tenants.open(&tenant(id)).await.expect("open tenant")
    }
}

pub fn tenant(id: &str) -> TenantId {
    TenantId::parse(id).unwrap()
}

pub fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

pub fn now() -> Timestamp {
    Timestamp::now()
}

pub fn new_project(key: &str) -> Project {
    let at = now();
    Project {
        id: ProjectId::new(),
        key: ProjectKey::parse(key).unwrap(),
        title: Title::parse(&format!("Project {key}")).unwrap(),
        description: Description::parse("The **project**.").unwrap(),
        status: ProjectStatus::Active,
        next_item_number: 1,
        version: 1,
        created_at: at,
        created_by: user("alice"),
        updated_at: at,
        updated_by: user("alice"),
        deleted_at: None,
    }
}

/// Inserts a project in its own write transaction.
pub async fn create_project(db: &TenantDb, key: &str) -> Project {
    let p = new_project(key);
    let mut tx = db.begin_write().await.unwrap();
    project::insert(&mut tx, &p).await.unwrap();
    tx.commit().await.unwrap();
    p
}

pub fn new_item(p: &Project, number: i64, item_type: WorkItemType, title: &str) -> WorkItem {
    let at = now();
    WorkItem {
        id: WorkItemId::new(),
        project_id: p.id,
        key: ItemKey {
            project: p.key.clone(),
            number,
        },
        item_type,
        parent_id: None,
        title: Title::parse(title).unwrap(),
        description: Description::empty(),
        status: WorkItemStatus::Backlog,
        priority: Priority::Medium,
        story_points: None,
        assignee: None,
        sprint_id: None,
        position: "V".to_owned(),
        version: 1,
        created_at: at,
        created_by: user("alice"),
        updated_at: at,
        updated_by: user("alice"),
        deleted_at: None,
    }
}

/// Allocates a number and inserts an item in one write transaction, as a command would.
pub async fn create_item(
    db: &TenantDb,
    p: &Project,
    item_type: WorkItemType,
    title: &str,
    adjust: impl FnOnce(&mut WorkItem),
) -> WorkItem {
    let mut tx = db.begin_write().await.unwrap();
    let (number, _) =
        project::allocate_item_number(&mut tx, p.id, pm_core::WorkItemStatus::Backlog)
            .await
            .unwrap();
    let mut item = new_item(p, number, item_type, title);
    adjust(&mut item);
    work_item::insert(&mut tx, &item).await.unwrap();
    let stored = work_item::get(&mut tx, item.id).await.unwrap();
    tx.commit().await.unwrap();
    stored
}

pub fn new_sprint(p: &Project, name: &str, status: SprintStatus) -> Sprint {
    let at = now();
    Sprint {
        id: SprintId::new(),
        project_id: p.id,
        name: SprintName::parse(name).unwrap(),
        goal: SprintGoal::parse("Ship it").unwrap(),
        starts_at: Some(at),
        ends_at: Some(at.plus_millis(14 * 24 * 3_600_000)),
        status,
        version: 1,
        created_at: at,
        created_by: user("alice"),
        updated_at: at,
        updated_by: user("alice"),
        deleted_at: None,
    }
}

pub fn new_comment(item: &WorkItem, author: &str, body: &str) -> Comment {
    let at = now();
    Comment {
        id: CommentId::new(),
        work_item_id: item.id,
        author: user(author),
        body: CommentBody::parse(body).unwrap(),
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    }
}

pub fn new_time_entry(
    item: &WorkItem,
    who: &str,
    start: Timestamp,
    end: Option<Timestamp>,
) -> TimeEntry {
    TimeEntry {
        id: TimeEntryId::new(),
        work_item_id: item.id,
        user_id: user(who),
        started_at: start,
        ended_at: end,
        duration_ms: end.map(|e| e.as_millis() - start.as_millis()),
        description: TimeEntryNote::parse("work").unwrap(),
        version: 1,
        created_at: start,
        updated_at: start,
        deleted_at: None,
    }
}

/// Appends one change-log entry the way a command does (with an idempotency record of its own),
/// returning its sequence number.
pub async fn append(
    conn: &mut pm_db::SqliteConnection,
    change: &pm_db::change_log::NewChange,
) -> i64 {
    let seqs = pm_db::journal::write(
        conn,
        &[pm_db::journal::Entry {
            change: change.clone(),
            activity: Vec::new(),
        }],
        &receipt(&user("alice"), pm_core::RequestId::new()),
        pm_db::journal::Then::Nothing,
    )
    .await
    .unwrap();
    seqs[0]
}

/// The idempotency record of a test command.
pub fn receipt(user: &UserId, request: pm_core::RequestId) -> pm_db::journal::Receipt<'_> {
    pm_db::journal::Receipt {
        user,
        request,
        command: "test",
        request_digest: &[7; 32],
        result: &[1, 2, 3],
        at: now(),
    }
}
