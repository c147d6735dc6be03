use pm_core::{StoryPoints, position_between};

use super::*;

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn user_id(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

fn key(text: &str) -> ItemKey {
    ItemKey::parse(text).unwrap()
}

fn project() -> Project {
    Project {
        id: ProjectId::new(),
        key: ProjectKey::parse("WEB").unwrap(),
        title: Title::parse("Website relaunch").unwrap(),
        description: Description::parse("# Goals\n\n- faster pages\n").unwrap(),
        status: ProjectStatus::Active,
        next_item_number: 0,
        version: 3,
        created_at: ts(T0),
        created_by: user_id("alice@example.com"),
        updated_at: ts(T0 + 60_000),
        updated_by: user_id("bob@example.com"),
        deleted_at: None,
    }
}

fn work_item(parent: Option<WorkItemId>, sprint: Option<SprintId>) -> WorkItem {
    WorkItem {
        id: WorkItemId::new(),
        project_id: ProjectId::new(),
        key: key("WEB-42"),
        item_type: WorkItemType::Story,
        parent_id: parent,
        title: Title::parse("Log in with a passkey").unwrap(),
        description: Description::parse("As a user I want…\n\n```\ncode\n```").unwrap(),
        status: WorkItemStatus::InProgress,
        priority: Priority::High,
        story_points: parent.map(|_| StoryPoints::new(5).unwrap()),
        assignee: sprint.map(|_| user_id("carol")),
        sprint_id: sprint,
        position: position_between(None, None).unwrap(),
        version: 7,
        created_at: ts(T0),
        created_by: user_id("alice@example.com"),
        updated_at: ts(T0 + 1),
        updated_by: user_id("alice@example.com"),
        deleted_at: None,
    }
}

fn sprint(dates: bool) -> Sprint {
    Sprint {
        id: SprintId::new(),
        project_id: ProjectId::new(),
        name: SprintName::parse("Sprint 12").unwrap(),
        goal: SprintGoal::parse(if dates { "Ship passkeys" } else { "" }).unwrap(),
        starts_at: dates.then(|| ts(T0)),
        ends_at: dates.then(|| ts(T0 + 14 * 86_400_000)),
        status: if dates {
            SprintStatus::Active
        } else {
            SprintStatus::Planned
        },
        version: 2,
        created_at: ts(T0),
        created_by: user_id("alice@example.com"),
        updated_at: ts(T0 + 5),
        updated_by: user_id("bob@example.com"),
        deleted_at: None,
    }
}

fn time_entry(finished: bool) -> TimeEntry {
    TimeEntry {
        id: TimeEntryId::new(),
        work_item_id: WorkItemId::new(),
        user_id: user_id("bob@example.com"),
        started_at: ts(T0),
        ended_at: finished.then(|| ts(T0 + 90_000)),
        duration_ms: finished.then_some(90_000),
        description: TimeEntryNote::parse(if finished { "pairing" } else { "" }).unwrap(),
        version: 1,
        created_at: ts(T0),
        updated_at: ts(T0 + 90_000),
        deleted_at: None,
    }
}

#[test]
fn a_project_round_trips_except_for_the_server_side_item_counter() {
    let original = project();
    let wire = pb::Project::from(&original);
    assert_eq!(wire.status(), pb::ProjectStatus::Active);
    assert_eq!(Project::try_from(&wire).unwrap(), original);

    let counted = Project {
        next_item_number: 43,
        ..project()
    };
    let back = Project::try_from(pb::Project::from(&counted)).unwrap();
    assert_eq!(
        back,
        Project {
            next_item_number: 0,
            ..counted
        }
    );
}

#[test]
fn an_archived_project_round_trips() {
    let original = Project {
        status: ProjectStatus::Archived,
        ..project()
    };
    assert_eq!(
        Project::try_from(pb::Project::from(&original)).unwrap(),
        original
    );
}

#[test]
fn a_member_round_trips() {
    for role in ProjectRole::ALL {
        let original = ProjectMember {
            project_id: ProjectId::new(),
            user_id: user_id("dave"),
            role: *role,
            version: 1,
            created_at: ts(T0),
            created_by: user_id("alice@example.com"),
            updated_at: ts(T0),
            updated_by: user_id("alice@example.com"),
        };
        let wire = pb::Member::from(&original);
        assert_eq!(ProjectMember::try_from(&wire).unwrap(), original);
    }
}

#[test]
fn a_work_item_round_trips_with_and_without_its_optional_fields() {
    for original in [
        work_item(None, None),
        work_item(Some(WorkItemId::new()), Some(SprintId::new())),
    ] {
        let wire = pb::WorkItem::from_domain(&original, WorkItemDerived::default());
        assert_eq!(WorkItem::try_from(&wire).unwrap(), original);
    }
}

#[test]
fn a_work_item_carries_its_key_as_text_and_number_and_its_derived_fields() {
    let item = work_item(Some(WorkItemId::new()), None);
    let derived = WorkItemDerived {
        blocked: true,
        logged_ms: 5_400_000,
    };
    let wire = pb::WorkItem::from_domain(&item, derived);
    assert_eq!(wire.key, "WEB-42");
    assert_eq!(wire.number, 42);
    assert!(wire.blocked);
    assert_eq!(wire.logged_ms, 5_400_000);
    assert_eq!(wire.story_points, Some(5));
    assert_eq!(wire.parent_id, item.parent_id.map(|id| id.to_string()));
    assert_eq!(wire.assignee, None);
    assert_eq!(wire.r#type(), pb::WorkItemType::Story);
}

#[test]
fn a_work_item_whose_number_disagrees_with_its_key_is_refused() {
    let mut wire = pb::WorkItem::from_domain(&work_item(None, None), WorkItemDerived::default());
    wire.number = 41;
    assert_eq!(
        WorkItem::try_from(&wire).unwrap_err().field(),
        Some("number")
    );
}

#[test]
fn a_work_item_with_an_unspecified_status_is_refused_by_field() {
    let mut wire = pb::WorkItem::from_domain(&work_item(None, None), WorkItemDerived::default());
    wire.status = 0;
    assert_eq!(
        WorkItem::try_from(&wire).unwrap_err(),
        Error::UnknownEnum {
            field: "status",
            value: 0
        }
    );
}

#[test]
fn a_work_item_with_invalid_fields_names_the_wire_field() {
    let good = pb::WorkItem::from_domain(&work_item(None, None), WorkItemDerived::default());
    type Spoil = fn(&mut pb::WorkItem);
    let cases: [(&str, Spoil); 6] = [
        ("parent_id", |w| w.parent_id = Some("WEB-1".into())),
        ("assignee", |w| w.assignee = Some(String::new())),
        ("title", |w| w.title = "   ".into()),
        ("story_points", |w| w.story_points = Some(101)),
        ("key", |w| w.key = "web-42".into()),
        ("created_by", |w| w.created_by = " padded".into()),
    ];
    for (field, spoil) in cases {
        let mut wire = good.clone();
        spoil(&mut wire);
        assert_eq!(WorkItem::try_from(&wire).unwrap_err().field(), Some(field));
    }
}

#[test]
fn an_item_ref_summarises_a_work_item() {
    let item = work_item(None, None);
    let r = pb::ItemRef::from(&item);
    assert_eq!(r.id, item.id.to_string());
    assert_eq!(r.key, "WEB-42");
    assert_eq!(r.title, "Log in with a passkey");
    assert_eq!(r.status(), pb::WorkItemStatus::InProgress);
}

#[test]
fn a_sprint_round_trips_with_and_without_dates() {
    for original in [sprint(true), sprint(false)] {
        let wire = pb::Sprint::from(&original);
        assert_eq!(wire.starts_at.is_some(), original.starts_at.is_some());
        assert_eq!(Sprint::try_from(&wire).unwrap(), original);
    }
}

#[test]
fn a_comment_round_trips_and_shows_the_project_it_was_given() {
    let original = Comment {
        id: CommentId::new(),
        work_item_id: WorkItemId::new(),
        author: user_id("erin"),
        body: CommentBody::parse("Looks good **to me**.\n").unwrap(),
        version: 2,
        created_at: ts(T0),
        updated_at: ts(T0 + 10),
        deleted_at: None,
    };
    let project_id = ProjectId::new();
    let wire = pb::Comment::from_domain(&original, project_id);
    assert_eq!(wire.project_id, project_id.to_string());
    assert_eq!(Comment::try_from(&wire).unwrap(), original);
}

#[test]
fn an_empty_comment_body_is_refused() {
    let wire = pb::Comment {
        id: CommentId::new().to_string(),
        work_item_id: WorkItemId::new().to_string(),
        author: "erin".into(),
        ..Default::default()
    };
    assert_eq!(Comment::try_from(&wire).unwrap_err().field(), Some("body"));
}

#[test]
fn a_running_and_a_finished_time_entry_round_trip() {
    let project_id = ProjectId::new();
    for original in [time_entry(false), time_entry(true)] {
        let wire = pb::TimeEntry::from_domain(&original, project_id);
        assert_eq!(wire.ended_at.is_none(), original.ended_at.is_none());
        assert_eq!(wire.project_id, project_id.to_string());
        assert_eq!(TimeEntry::try_from(&wire).unwrap(), original);
    }
}

#[test]
fn a_dependency_round_trips_and_shows_the_keys_it_was_given() {
    for dep_type in DependencyType::ALL {
        let original = Dependency {
            id: DependencyId::new(),
            project_id: ProjectId::new(),
            blocking_id: WorkItemId::new(),
            blocked_id: WorkItemId::new(),
            dep_type: *dep_type,
            created_at: ts(T0),
            created_by: user_id("alice@example.com"),
            deleted_at: None,
        };
        let wire = pb::Dependency::from_domain(&original, &key("WEB-3"), &key("WEB-7"));
        assert_eq!(
            (wire.blocking_key.as_str(), wire.blocked_key.as_str()),
            ("WEB-3", "WEB-7")
        );
        assert_eq!(Dependency::try_from(&wire).unwrap(), original);
    }
}

#[test]
fn a_swim_lane_round_trips_with_and_without_a_wip_limit() {
    for wip_limit in [None, Some(3)] {
        let original = SwimLane {
            id: SwimLaneId::new(),
            project_id: ProjectId::new(),
            name: "In progress".into(),
            status: WorkItemStatus::InProgress,
            position: 2,
            wip_limit,
        };
        let wire = pb::SwimLane::from(&original);
        assert_eq!(wire.position, 2);
        assert_eq!(SwimLane::try_from(&wire).unwrap(), original);
    }
}

#[test]
fn a_swim_lane_without_a_name_is_refused() {
    let lane = SwimLane {
        id: SwimLaneId::new(),
        project_id: ProjectId::new(),
        name: "Done".into(),
        status: WorkItemStatus::Done,
        position: 4,
        wip_limit: None,
    };
    let wire = pb::SwimLane {
        name: String::new(),
        ..pb::SwimLane::from(&lane)
    };
    assert_eq!(
        SwimLane::try_from(wire),
        Err(Error::Missing { field: "name" })
    );
}

#[test]
fn an_entity_survives_encoding_to_bytes_and_back() {
    use prost::Message;

    let original = work_item(Some(WorkItemId::new()), Some(SprintId::new()));
    let bytes = pb::WorkItem::from_domain(&original, WorkItemDerived::default()).encode_to_vec();
    let decoded = pb::WorkItem::decode(bytes.as_slice()).unwrap();
    assert_eq!(WorkItem::try_from(decoded).unwrap(), original);
}
