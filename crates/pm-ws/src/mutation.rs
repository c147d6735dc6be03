//! The unit of work of every mutation: inside an `IMMEDIATE` transaction (its own savepoint when
//! it shares the transaction with other commands, see [`crate::group_commit`]), the data change,
//! its field-level activity rows, its change-log entries (with their sequence numbers) and, when
//! the command succeeds, the idempotency record. The last three are written together when the
//! command ends. Nothing is published before it commits.

use pm_auth::Identity;
use pm_core::{ActivityAction, ChangeKind, EntityKind, ProjectId, RequestId, Timestamp};
use pm_db::SqliteConnection;
use pm_db::activity::NewActivity;
use pm_db::change_log::{self, NewChange};
use pm_db::journal::{self, Entry, Receipt, Then};
use pm_proto::pb;

use crate::Result;

/// One changed field, for the activity log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldChange {
    pub field: &'static str,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// Collects the fields whose text form differs between two states.
#[derive(Debug, Default)]
pub(crate) struct Diff(pub Vec<FieldChange>);

impl Diff {
    pub fn field<T: ToString + PartialEq>(
        &mut self,
        field: &'static str,
        old: &T,
        new: &T,
    ) -> &mut Self {
        if old != new {
            self.0.push(FieldChange {
                field,
                old: Some(old.to_string()),
                new: Some(new.to_string()),
            });
        }
        self
    }

    pub fn optional<T: ToString + PartialEq>(
        &mut self,
        field: &'static str,
        old: Option<&T>,
        new: Option<&T>,
    ) -> &mut Self {
        if old != new {
            self.0.push(FieldChange {
                field,
                old: old.map(ToString::to_string),
                new: new.map(ToString::to_string),
            });
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One command's view of the write transaction: the connection is inside the batch's
/// transaction (or the command's own savepoint in it, see [`crate::group_commit`]). The command's
/// change-log entries and activity rows are collected as it records them and written by
/// [`Mutation::finish`] together with its idempotency record, in one statement batch.
pub(crate) struct Mutation<'c> {
    pub tx: &'c mut SqliteConnection,
    pub actor: Identity,
    pub request_id: RequestId,
    pub at: Timestamp,
    entries: Vec<Entry>,
    /// One per entry, in the same order; sequence numbers are filled in by `finish`.
    events: Vec<pb::Event>,
}

impl<'c> Mutation<'c> {
    pub fn new(
        tx: &'c mut SqliteConnection,
        actor: Identity,
        request_id: RequestId,
        at: Timestamp,
    ) -> Self {
        Self {
            tx,
            actor,
            request_id,
            at,
            entries: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Records one change of one entity: the change-log entry (which assigns its sequence number),
    /// the event that will be published after commit, and the activity rows.
    pub fn record(
        &mut self,
        project: ProjectId,
        entity: EntityKind,
        entity_id: String,
        action: ActivityAction,
        change: pb::change::Change,
        fields: Vec<FieldChange>,
    ) {
        let row = |field: Option<FieldChange>| NewActivity {
            project_id: Some(project),
            entity,
            entity_id: entity_id.clone(),
            action,
            field: field.as_ref().map(|f| f.field.to_owned()),
            old_value: field.as_ref().and_then(|f| f.old.clone()),
            new_value: field.and_then(|f| f.new),
            actor: self.actor.user.clone(),
            at: self.at,
        };
        let rows: Vec<NewActivity> = if fields.is_empty() {
            vec![row(None)]
        } else {
            fields.into_iter().map(|f| row(Some(f))).collect()
        };
        self.push(project, entity, entity_id, action, change, rows);
    }

    /// Records a change in the change log and as an event, without an activity row: for derived
    /// state (an item's logged time) that is not a field anyone edited.
    pub fn emit(
        &mut self,
        project: ProjectId,
        entity: EntityKind,
        entity_id: String,
        action: ActivityAction,
        change: pb::change::Change,
    ) {
        self.push(project, entity, entity_id, action, change, Vec::new());
    }

    fn push(
        &mut self,
        project: ProjectId,
        entity: EntityKind,
        entity_id: String,
        action: ActivityAction,
        change: pb::change::Change,
        activity: Vec<NewActivity>,
    ) {
        let kind = match action {
            ActivityAction::Deleted => ChangeKind::Deleted,
            ActivityAction::Created | ActivityAction::Updated => ChangeKind::Upserted,
        };
        let change = pb::Change {
            change: Some(change),
        };
        self.entries.push(Entry {
            change: NewChange {
                project_id: Some(project),
                entity,
                entity_id,
                kind,
                payload: pm_proto::encode(&change),
                actor: self.actor.user.clone(),
                request_id: Some(self.request_id),
                at: self.at,
            },
            activity,
        });
        self.events.push(pb::Event {
            seq: 0,
            project_id: project.to_string(),
            actor: self.actor.user.to_string(),
            at: self.at.as_millis(),
            request_id: self.request_id.to_string(),
            change: Some(change),
        });
    }

    /// Ends a successful command: writes its change-log entries, activity rows and idempotency
    /// record (holding `result`), does `then` in the same round trip, and returns the events with
    /// their sequence numbers.
    pub async fn finish(
        self,
        command: &str,
        request_digest: &[u8],
        result: &pb::reply::Result,
        then: Then,
    ) -> Result<Vec<pb::Event>> {
        let Self {
            tx,
            actor,
            request_id,
            at,
            entries,
            mut events,
        } = self;
        let encoded = pm_proto::encode(&pb::Reply {
            request_id: String::new(),
            events: Vec::new(),
            result: Some(result.clone()),
        });
        let seqs = journal::write(
            tx,
            &entries,
            &Receipt {
                user: &actor.user,
                request: request_id,
                command,
                request_digest,
                result: &encoded,
                at,
            },
            then,
        )
        .await?;
        if seqs.len() != events.len() {
            return Err(crate::Error::Internal(
                "the change log returned a sequence number per entry".into(),
            ));
        }
        for (event, seq) in events.iter_mut().zip(seqs) {
            event.seq = u64::try_from(seq).unwrap_or_default();
        }
        Ok(events)
    }
}

/// The event of a change read back from the change log (for replay), identical to the one that was
/// published when it committed.
pub(crate) fn event_from_record(record: &change_log::ChangeRecord) -> pb::Event {
    let change = prost::Message::decode(record.change.payload.as_slice()).ok();
    pb::Event {
        seq: u64::try_from(record.seq).unwrap_or_default(),
        project_id: record
            .change
            .project_id
            .map(|p| p.to_string())
            .unwrap_or_default(),
        actor: record.change.actor.to_string(),
        at: record.change.at.as_millis(),
        request_id: record
            .change
            .request_id
            .map(|r| r.to_string())
            .unwrap_or_default(),
        change,
    }
}
