//! The demo tenant: a realistic project at the scale of a real team's board, created through the
//! same command service every client uses (so it also fills the activity and change logs).

use std::time::Duration;

use anyhow::{Context, bail};
use pm_auth::Identity;
use pm_core::{TenantId, TenantRole, Timestamp, UserId};
use pm_proto::pb::{self, client_message::Command, reply};
use pm_ws::Service;

pub const TENANT: &str = "demo";
pub const USER: &str = "demo";
const PROJECT_KEY: &str = "SHOP";

/// Team members besides the demo admin, with their project roles.
const TEAM: [(&str, pb::ProjectRole); 4] = [
    ("alice", pb::ProjectRole::Admin),
    ("bob", pb::ProjectRole::Editor),
    ("carol", pb::ProjectRole::Editor),
    ("dave", pb::ProjectRole::Viewer),
];

/// Epics, each with its stories; every story gets a few tasks.
const EPICS: [(&str, [&str; 5]); 8] = [
    (
        "Checkout redesign",
        [
            "One-page checkout form",
            "Address autocomplete",
            "Saved payment methods",
            "Order summary sidebar",
            "Guest checkout",
        ],
    ),
    (
        "Search and discovery",
        [
            "Typo-tolerant product search",
            "Faceted filters",
            "Search suggestions",
            "Recently viewed products",
            "Category landing pages",
        ],
    ),
    (
        "Mobile app launch",
        [
            "Push notification opt-in",
            "Biometric sign-in",
            "Offline cart",
            "App store listing",
            "Deep links from email",
        ],
    ),
    (
        "Payments platform",
        [
            "Card payments via new provider",
            "Refunds from the admin panel",
            "3-D Secure challenges",
            "Payment retries",
            "Currency conversion",
        ],
    ),
    (
        "Performance",
        [
            "Image CDN",
            "Lazy-load product grids",
            "Cache product pages",
            "Trim JavaScript bundle",
            "Database query budget",
        ],
    ),
    (
        "Accessibility",
        [
            "Keyboard navigation in menus",
            "Screen reader labels",
            "Colour contrast audit",
            "Focus management in dialogs",
            "Accessible form errors",
        ],
    ),
    (
        "Customer accounts",
        [
            "Order history page",
            "Wish lists",
            "Account deletion",
            "Email preferences",
            "Two-factor authentication",
        ],
    ),
    (
        "Analytics",
        [
            "Conversion funnel dashboard",
            "Event tracking plan",
            "A/B test framework",
            "Weekly revenue report",
            "Consent-aware tracking",
        ],
    ),
];

const TASK_VERBS: [&str; 4] = ["Design", "Implement", "Write tests for", "Document"];

const PRIORITIES: [pb::Priority; 4] = [
    pb::Priority::High,
    pb::Priority::Medium,
    pb::Priority::Medium,
    pb::Priority::Low,
];

/// Creates the demo tenant's project if it does not exist yet. Returns whether it seeded.
pub async fn seed(service: &Service) -> anyhow::Result<bool> {
    let admin = identity(USER, TenantRole::Admin)?;
    let mut s = Seeder {
        service,
        actor: admin,
    };
    // Opened here first so that a data directory the server cannot use is reported with its
    // path and the operating system's reason, which a command's reply does not carry.
    service
        .tenants()
        .open(&s.actor.tenant)
        .await
        .with_context(|| format!("cannot open the demo tenant {TENANT:?}"))?;
    match s
        .call(pb::GetProject {
            project: PROJECT_KEY.into(),
        })
        .await
    {
        Ok(_) => return Ok(false),
        Err(e) if e.code() == pb::ErrorCode::NotFound => {}
        Err(e) => bail!("cannot read the demo tenant: {} ({})", e.message, e.field),
    }
    let project = s
        .ok(pb::CreateProject {
            key: PROJECT_KEY.into(),
            title: "Web shop".into(),
            description: "Everything the web shop team is building this quarter.\n\n\
                          - **Board**: one column per status\n- **Sprints**: two weeks each"
                .into(),
        })
        .await?;
    let Some(reply::Result::Project(project)) = Some(project) else {
        bail!("unexpected reply")
    };
    let project = project.project.context("project")?;
    for (user, role) in TEAM {
        s.ok(pb::AddMember {
            project_id: project.id.clone(),
            user_id: user.into(),
            role: role.into(),
        })
        .await?;
    }
    let now = Timestamp::now();
    let day = 86_400_000;
    let sprint = |name: &str, goal: &str, start: i64| pb::CreateSprint {
        project_id: project.id.clone(),
        name: name.into(),
        goal: goal.into(),
        starts_at: Some(start),
        ends_at: Some(start + 14 * day),
    };
    let active = sprint_id(
        s.ok(sprint(
            "Sprint 14",
            "Ship the one-page checkout",
            now.as_millis() - 5 * day,
        ))
        .await?,
    )?;
    let planned = sprint_id(
        s.ok(sprint(
            "Sprint 15",
            "Search that forgives typos",
            now.as_millis() + 9 * day,
        ))
        .await?,
    )?;

    let mut stories = Vec::new();
    let mut n = 0usize;
    let people = ["alice", "bob", "carol", "demo"];
    for (e, (epic_title, story_titles)) in EPICS.iter().enumerate() {
        let epic = item_id(
            s.ok(pb::CreateWorkItem {
                project_id: project.id.clone(),
                r#type: pb::WorkItemType::Epic.into(),
                title: (*epic_title).into(),
                description: format!(
                    "## Goal\n\n{epic_title} for the web shop.\n\n## Success measures\n\n- Conversion up\n- Support tickets down"
                ),
                priority: Some(PRIORITIES[e % 4].into()),
                ..Default::default()
            })
            .await?,
        )?;
        for (k, story_title) in story_titles.iter().enumerate() {
            n += 1;
            // The first two epics are in flight: their stories are planned in the sprints.
            let sprint = match (e, k) {
                (0, _) | (1, 0..=1) => Some(active.clone()),
                (1, _) | (2, 0..=1) => Some(planned.clone()),
                _ => None,
            };
            let status = match (e, k) {
                (0, 0) => pb::WorkItemStatus::Done,
                (0, 1) => pb::WorkItemStatus::Review,
                (0, 2) | (1, 0) => pb::WorkItemStatus::InProgress,
                (0, _) | (1, 1) => pb::WorkItemStatus::Todo,
                _ => pb::WorkItemStatus::Backlog,
            };
            let story = item_id(
                s.ok(pb::CreateWorkItem {
                    project_id: project.id.clone(),
                    r#type: pb::WorkItemType::Story.into(),
                    parent_id: Some(epic.clone()),
                    title: (*story_title).into(),
                    description: format!(
                        "As a shopper I want **{}** so that buying is quicker.\n\n### Acceptance criteria\n\n- [ ] Works on mobile\n- [ ] Tracked in analytics",
                        story_title.to_lowercase()
                    ),
                    status: Some(status.into()),
                    priority: Some(PRIORITIES[(e + k) % 4].into()),
                    story_points: Some([1, 2, 3, 5, 8][(e + k) % 5]),
                    assignee: Some(people[n % people.len()].into()),
                    sprint_id: sprint.clone(),
                })
                .await?,
            )?;
            for (t, verb) in TASK_VERBS.iter().enumerate().take(3 + (e + k) % 2) {
                let task_status = if status == pb::WorkItemStatus::Done
                    || (status != pb::WorkItemStatus::Backlog && t == 0)
                {
                    pb::WorkItemStatus::Done
                } else {
                    status
                };
                s.ok(pb::CreateWorkItem {
                    project_id: project.id.clone(),
                    r#type: pb::WorkItemType::Task.into(),
                    parent_id: Some(story.clone()),
                    title: format!("{verb} {}", story_title.to_lowercase()),
                    description: format!("Part of *{story_title}*."),
                    status: Some(task_status.into()),
                    priority: Some(PRIORITIES[(e + k + t) % 4].into()),
                    assignee: Some(people[(n + t) % people.len()].into()),
                    sprint_id: sprint.clone(),
                    ..Default::default()
                })
                .await?;
            }
            stories.push(story);
        }
    }
    // A chain of blockers and a few related links (always earlier → later: no cycles).
    for w in stories.windows(2).step_by(4) {
        s.ok(pb::AddDependency {
            blocking_id: w[0].clone(),
            blocked_id: w[1].clone(),
            r#type: pb::DependencyType::Blocks.into(),
        })
        .await?;
    }
    for pair in stories.chunks(7) {
        if let [a, .., b] = pair {
            s.ok(pb::AddDependency {
                blocking_id: a.clone(),
                blocked_id: b.clone(),
                r#type: pb::DependencyType::RelatesTo.into(),
            })
            .await?;
        }
    }
    // Conversation and logged time from the team.
    for (i, story) in stories.iter().take(12).enumerate() {
        let author = identity(people[i % 3], TenantRole::Editor)?;
        let mut as_author = Seeder {
            service,
            actor: author,
        };
        as_author
            .ok(pb::AddComment {
                work_item_id: story.clone(),
                body: [
                    "Looks good to me.",
                    "Can we split this? It feels like two stories.",
                    "Blocked on the design review on Thursday.",
                ][i % 3]
                    .into(),
            })
            .await?;
        let hours = i64::try_from(1 + i % 4).unwrap_or(1);
        let started = now.as_millis() - i64::try_from(i + 1).unwrap_or(1) * day;
        as_author
            .ok(pb::AddTimeEntry {
                work_item_id: story.clone(),
                started_at: started,
                ended_at: Some(started + hours * 3_600_000),
                duration_ms: None,
                description: "Pairing session".into(),
            })
            .await?;
    }
    s.ok(pb::StartSprint {
        sprint_id: active,
        version: 1,
    })
    .await?;
    tracing::info!(
        tenant = TENANT,
        project = PROJECT_KEY,
        "seeded the demo tenant"
    );
    Ok(true)
}

fn identity(user: &str, role: TenantRole) -> anyhow::Result<Identity> {
    Ok(Identity {
        tenant: TenantId::parse(TENANT).map_err(|e| anyhow::anyhow!("{e}"))?,
        user: UserId::parse(user).map_err(|e| anyhow::anyhow!("{e}"))?,
        role,
        expires_at: Timestamp::now()
            .plus_millis(i64::try_from(Duration::from_secs(3600).as_millis()).unwrap_or(0)),
    })
}

fn sprint_id(result: reply::Result) -> anyhow::Result<String> {
    match result {
        reply::Result::Sprint(s) => Ok(s.sprint.context("sprint")?.id),
        other => bail!("unexpected reply {other:?}"),
    }
}

fn item_id(result: reply::Result) -> anyhow::Result<String> {
    match result {
        reply::Result::WorkItem(w) => Ok(w.work_item.context("work item")?.id),
        other => bail!("unexpected reply {other:?}"),
    }
}

struct Seeder<'a> {
    service: &'a Service,
    actor: Identity,
}

impl Seeder<'_> {
    async fn call(&mut self, command: impl Into<Command>) -> Result<reply::Result, pb::Error> {
        let request_id = uuid::Uuid::now_v7().to_string();
        let outcome = self
            .service
            .execute(&self.actor, &request_id, command.into(), None)
            .await;
        match outcome.result {
            reply::Result::Error(e) => Err(e),
            other => Ok(other),
        }
    }

    async fn ok(&mut self, command: impl Into<Command>) -> anyhow::Result<reply::Result> {
        self.call(command)
            .await
            .map_err(|e| anyhow::anyhow!("seeding the demo failed: {} ({})", e.message, e.field))
    }
}
