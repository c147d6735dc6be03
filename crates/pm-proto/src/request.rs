//! Pairs every request with its one response type, Zed-style: a request's `Response` is an
//! associated type, so a handler cannot return, and a client cannot expect, the wrong reply.
//!
//! The table at the bottom is the single place the pairing is written. From it come the
//! [`Request`] impls, [`command_name`] and [`is_mutation`], whose matches are exhaustive: a command
//! added to `envelope.proto` without a line in the table does not compile.

use crate::pb::{self, client_message::Command, reply};

/// A message that travels as one variant of `Reply.result`.
pub trait Response: prost::Message + Default + Clone + Into<reply::Result> {
    /// The response, when `result` is this type's variant.
    fn from_result(result: reply::Result) -> Option<Self>;
}

/// A message that travels as one variant of `ClientMessage.command`.
pub trait Request: prost::Message + Default + Clone + Into<Command> {
    /// The command's field name in `ClientMessage`, for logs and metrics (`"create_work_item"`).
    const NAME: &'static str;
    /// Whether the command writes. Mutations are the ones made idempotent by request id.
    const MUTATION: bool;
    /// The reply on success.
    type Response: Response;

    fn into_command(self) -> Command {
        self.into()
    }

    /// The typed response, when `result` is the variant this request is answered with (an
    /// `Error` or any other variant gives `None`).
    fn response_from(result: reply::Result) -> Option<Self::Response> {
        Self::Response::from_result(result)
    }
}

impl pb::ClientMessage {
    /// Wraps `request` in the envelope with a client-chosen request id.
    pub fn request<R: Request>(request_id: &str, request: R) -> Self {
        Self {
            request_id: request_id.to_owned(),
            command: Some(request.into_command()),
        }
    }
}

macro_rules! responses {
    ($($variant:ident($ty:ident)),+ $(,)?) => {
        $(
            impl From<pb::$ty> for reply::Result {
                fn from(response: pb::$ty) -> Self {
                    reply::Result::$variant(response)
                }
            }

            impl Response for pb::$ty {
                fn from_result(result: reply::Result) -> Option<Self> {
                    match result {
                        reply::Result::$variant(response) => Some(response),
                        _ => None,
                    }
                }
            }
        )+

        /// Fails to compile when `Reply.result` gains a variant that is not listed above.
        #[cfg(test)]
        fn is_listed_response(result: &reply::Result) -> bool {
            match result {
                reply::Result::Error(_) => false,
                $(reply::Result::$variant(_) => true,)+
            }
        }
    };
}

macro_rules! requests {
    (@mutation read) => { false };
    (@mutation write) => { true };
    ($($ty:ident = $name:literal, $kind:ident => $response:ident;)+) => {
        $(
            impl From<pb::$ty> for Command {
                fn from(request: pb::$ty) -> Self {
                    Command::$ty(request)
                }
            }

            impl Request for pb::$ty {
                const NAME: &'static str = $name;
                const MUTATION: bool = requests!(@mutation $kind);
                type Response = pb::$response;
            }
        )+

        /// The command's field name in `ClientMessage` (`"create_work_item"`), for logs and metrics.
        pub fn command_name(command: &Command) -> &'static str {
            match command {
                $(Command::$ty(_) => <pb::$ty as Request>::NAME,)+
            }
        }

        /// Whether the command writes: false for ping, subscribe, unsubscribe, `get_*` and `list_*`.
        pub fn is_mutation(command: &Command) -> bool {
            match command {
                $(Command::$ty(_) => <pb::$ty as Request>::MUTATION,)+
            }
        }

        /// One default-valued instance of every command, in table order.
        #[cfg(test)]
        fn every_command() -> Vec<Command> {
            vec![$(Command::$ty(pb::$ty::default())),+]
        }

        /// For every request: is its own response accepted, and are an error and a foreign
        /// response refused?
        #[cfg(test)]
        fn every_pairing() -> Vec<(&'static str, bool)> {
            fn check<R: Request>() -> bool {
                let own = <R::Response as Default>::default().into();
                let error = reply::Result::Error(pb::Error::default());
                let foreign = if R::Response::from_result(pb::Pong::default().into()).is_some() {
                    pb::Deleted::default().into()
                } else {
                    pb::Pong::default().into()
                };
                R::response_from(own).is_some()
                    && R::response_from(error).is_none()
                    && R::response_from(foreign).is_none()
            }
            vec![$(($name, check::<pb::$ty>())),+]
        }
    };
}

responses! {
    Pong(Pong),
    Subscribed(Subscribed),
    Unsubscribed(Unsubscribed),
    Snapshot(Snapshot),
    Deleted(Deleted),
    Project(ProjectResponse),
    ProjectList(ProjectList),
    Member(MemberResponse),
    MemberList(MemberList),
    MemberRemoved(MemberRemoved),
    WorkItem(WorkItemResponse),
    WorkItemDetail(WorkItemDetail),
    WorkItemList(WorkItemList),
    Sprint(SprintResponse),
    SprintList(SprintList),
    SprintDetail(SprintDetail),
    SprintCompleted(SprintCompleted),
    SprintBurndown(SprintBurndown),
    Comment(CommentResponse),
    CommentList(CommentList),
    Timer(TimerResponse),
    TimeEntry(TimeEntryResponse),
    TimeEntryList(TimeEntryList),
    RunningTimer(RunningTimer),
    TimeTotals(TimeTotals),
    Dependency(DependencyResponse),
    DependencyList(DependencyList),
    ActivityList(ActivityList),
}

requests! {
    Ping = "ping", read => Pong;
    Subscribe = "subscribe", read => Subscribed;
    Unsubscribe = "unsubscribe", read => Unsubscribed;
    GetSnapshot = "get_snapshot", read => Snapshot;

    CreateProject = "create_project", write => ProjectResponse;
    UpdateProject = "update_project", write => ProjectResponse;
    ArchiveProject = "archive_project", write => ProjectResponse;
    UnarchiveProject = "unarchive_project", write => ProjectResponse;
    DeleteProject = "delete_project", write => Deleted;
    ListProjects = "list_projects", read => ProjectList;
    GetProject = "get_project", read => ProjectResponse;

    AddMember = "add_member", write => MemberResponse;
    ChangeMemberRole = "change_member_role", write => MemberResponse;
    RemoveMember = "remove_member", write => MemberRemoved;
    ListMembers = "list_members", read => MemberList;

    CreateWorkItem = "create_work_item", write => WorkItemResponse;
    UpdateWorkItem = "update_work_item", write => WorkItemResponse;
    MoveWorkItem = "move_work_item", write => WorkItemResponse;
    DeleteWorkItem = "delete_work_item", write => Deleted;
    GetWorkItem = "get_work_item", read => WorkItemDetail;
    ListWorkItems = "list_work_items", read => WorkItemList;

    CreateSprint = "create_sprint", write => SprintResponse;
    UpdateSprint = "update_sprint", write => SprintResponse;
    StartSprint = "start_sprint", write => SprintResponse;
    CompleteSprint = "complete_sprint", write => SprintCompleted;
    CancelSprint = "cancel_sprint", write => SprintResponse;
    DeleteSprint = "delete_sprint", write => Deleted;
    ListSprints = "list_sprints", read => SprintList;
    GetSprint = "get_sprint", read => SprintDetail;
    GetSprintBurndown = "get_sprint_burndown", read => SprintBurndown;

    AddComment = "add_comment", write => CommentResponse;
    EditComment = "edit_comment", write => CommentResponse;
    DeleteComment = "delete_comment", write => Deleted;
    ListComments = "list_comments", read => CommentList;

    StartTimer = "start_timer", write => TimerResponse;
    StopTimer = "stop_timer", write => TimerResponse;
    AddTimeEntry = "add_time_entry", write => TimeEntryResponse;
    EditTimeEntry = "edit_time_entry", write => TimeEntryResponse;
    DeleteTimeEntry = "delete_time_entry", write => Deleted;
    ListTimeEntries = "list_time_entries", read => TimeEntryList;
    GetRunningTimer = "get_running_timer", read => RunningTimer;
    GetTimeTotals = "get_time_totals", read => TimeTotals;

    AddDependency = "add_dependency", write => DependencyResponse;
    RemoveDependency = "remove_dependency", write => Deleted;
    ListDependencies = "list_dependencies", read => DependencyList;

    ListActivity = "list_activity", read => ActivityList;
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use prost::Message;

    use super::*;

    const ENVELOPE_PROTO: &str = include_str!("../../../proto/pm/v1/envelope.proto");

    /// The fields of one `oneof` in envelope.proto, by field name: (type name, field number).
    fn oneof_fields(oneof: &str) -> BTreeMap<String, (String, u32)> {
        let start = format!("oneof {oneof} {{");
        let body = ENVELOPE_PROTO
            .split_once(start.as_str())
            .and_then(|(_, rest)| rest.split_once('}'))
            .map(|(body, _)| body)
            .expect("the oneof is in envelope.proto");
        body.lines()
            .filter_map(|line| {
                // "    CreateProject create_project = 20;"
                let line = line.trim().strip_suffix(';')?;
                let (decl, number) = line.split_once(" = ")?;
                let (ty, name) = decl.split_once(' ')?;
                Some((name.to_owned(), (ty.to_owned(), number.parse().ok()?)))
            })
            .collect()
    }

    /// The field number of the first field in an encoded message. With an empty request id (a
    /// proto3 default, so not encoded) that is the envelope's `oneof` variant.
    fn first_tag(mut encoded: &[u8]) -> u32 {
        prost::encoding::decode_key(&mut encoded).unwrap().0
    }

    #[test]
    fn every_command_of_the_proto_is_paired_under_its_field_name_and_number() {
        let proto = oneof_fields("command");
        let commands = every_command();
        assert_eq!(
            commands.len(),
            proto.len(),
            "the table and envelope.proto differ in size"
        );
        for command in commands {
            let name = command_name(&command);
            let (_, number) = proto
                .get(name)
                .unwrap_or_else(|| panic!("{name} is not in the proto"));
            let message = pb::ClientMessage {
                request_id: String::new(),
                command: Some(command),
            };
            assert_eq!(first_tag(&message.encode_to_vec()), *number, "{name}");
        }
    }

    #[test]
    fn command_names_are_unique_and_snake_case() {
        let names: Vec<_> = every_command().iter().map(command_name).collect();
        let unique: BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
        for name in names {
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{name}"
            );
        }
    }

    #[test]
    fn every_request_accepts_its_own_response_and_refuses_errors_and_other_responses() {
        for (name, ok) in every_pairing() {
            assert!(ok, "{name}");
        }
    }

    #[test]
    fn every_reply_variant_of_the_proto_is_a_listed_response() {
        let proto = oneof_fields("result");
        let responses: BTreeSet<_> = proto
            .values()
            .filter(|(ty, _)| ty != "Error")
            .map(|(ty, _)| ty.clone())
            .collect();
        // Each listed response type encodes under a field of the proto's `Reply.result`.
        let numbers: BTreeSet<_> = proto.values().map(|(_, n)| *n).collect();
        for (ty, result) in sample_responses() {
            assert!(is_listed_response(&result), "{ty}");
            let reply = pb::Reply {
                request_id: String::new(),
                events: Vec::new(),
                result: Some(result),
            };
            assert!(numbers.contains(&first_tag(&reply.encode_to_vec())), "{ty}");
            assert!(
                responses.contains(ty),
                "{ty} is not a response in the proto"
            );
        }
        assert_eq!(sample_responses().len(), responses.len());
    }

    fn sample_responses() -> Vec<(&'static str, reply::Result)> {
        macro_rules! samples {
            ($($ty:ident),+) => { vec![$((stringify!($ty), pb::$ty::default().into())),+] };
        }
        samples!(
            Pong,
            Subscribed,
            Unsubscribed,
            Snapshot,
            Deleted,
            ProjectResponse,
            ProjectList,
            MemberResponse,
            MemberList,
            MemberRemoved,
            WorkItemResponse,
            WorkItemDetail,
            WorkItemList,
            SprintResponse,
            SprintList,
            SprintDetail,
            SprintCompleted,
            SprintBurndown,
            CommentResponse,
            CommentList,
            TimerResponse,
            TimeEntryResponse,
            TimeEntryList,
            RunningTimer,
            TimeTotals,
            DependencyResponse,
            DependencyList,
            ActivityList
        )
    }

    #[test]
    fn only_ping_subscriptions_gets_and_lists_are_not_mutations() {
        for command in every_command() {
            let name = command_name(&command);
            let reads = matches!(name, "ping" | "subscribe" | "unsubscribe")
                || name.starts_with("get_")
                || name.starts_with("list_");
            assert_eq!(is_mutation(&command), !reads, "{name}");
        }
    }

    #[test]
    fn a_typed_request_wraps_into_its_command_and_its_response_unwraps_from_a_reply() {
        let request = pb::CreateWorkItem {
            title: "Fix login".into(),
            ..Default::default()
        };
        let message = pb::ClientMessage::request("r-1", request.clone());
        assert_eq!(message.request_id, "r-1");
        assert_eq!(message.command, Some(Command::CreateWorkItem(request)));

        let item = pb::WorkItem {
            title: "Fix login".into(),
            ..Default::default()
        };
        let result = pb::WorkItemResponse {
            work_item: Some(item.clone()),
        }
        .into();
        let response = pb::CreateWorkItem::response_from(result).unwrap();
        assert_eq!(response.work_item, Some(item));
        assert_eq!(<pb::CreateWorkItem as Request>::NAME, "create_work_item");
    }
}
