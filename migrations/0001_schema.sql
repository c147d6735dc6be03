-- The complete data model of one tenant. Each tenant has its own SQLite file, so no table carries a
-- tenant column: isolation is physical.
--
-- Conventions
-- * Timestamps are INTEGER milliseconds since the Unix epoch, UTC. Integers compare and subtract
--   without parsing, index compactly, carry no time-zone ambiguity, and fit every layer losslessly
--   (SQLite INTEGER, protobuf int64, JSON numbers below 2^53).
-- * Entity ids are TEXT UUIDs (version 7, so new rows cluster at the end of indexes).
-- * Every table is STRICT, so a value of the wrong type is an error, not a silent conversion.
-- * Soft delete: `deleted_at` is set instead of removing the row; uniqueness rules that must let a
--   value be reused after deletion are partial indexes over live rows (`WHERE deleted_at IS NULL`).
-- * `version` starts at 1 and is incremented by every update; updates compare it in their WHERE
--   clause (optimistic concurrency).
-- * Limits mirror pm-core's limits.rs: the database is the last line, not the first.

CREATE TABLE projects (
    id               TEXT    NOT NULL PRIMARY KEY,
    key              TEXT    NOT NULL CHECK (length(key) BETWEEN 2 AND 10
                                             AND key GLOB '[A-Z]*' AND key NOT GLOB '*[^A-Z0-9]*'),
    title            TEXT    NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description      TEXT    NOT NULL DEFAULT '' CHECK (length(description) <= 50000),
    status           TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    next_item_number INTEGER NOT NULL DEFAULT 1 CHECK (next_item_number >= 1),
    version          INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at       INTEGER NOT NULL,
    created_by       TEXT    NOT NULL,
    updated_at       INTEGER NOT NULL,
    updated_by       TEXT    NOT NULL,
    deleted_at       INTEGER
) STRICT;

-- A key is unique among live projects only, so a deleted project's key can be reused.
CREATE UNIQUE INDEX projects_live_key ON projects (key) WHERE deleted_at IS NULL;

CREATE TABLE project_members (
    project_id TEXT    NOT NULL REFERENCES projects (id),
    user_id    TEXT    NOT NULL CHECK (length(user_id) BETWEEN 1 AND 128),
    role       TEXT    NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    version    INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL,
    PRIMARY KEY (project_id, user_id)
) STRICT, WITHOUT ROWID;

-- "Which projects may this user see?" runs on every connection's project list.
CREATE INDEX project_members_by_user ON project_members (user_id, project_id);

CREATE TABLE sprints (
    id         TEXT    NOT NULL PRIMARY KEY,
    project_id TEXT    NOT NULL REFERENCES projects (id),
    name       TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    goal       TEXT    NOT NULL DEFAULT '' CHECK (length(goal) <= 1000),
    starts_at  INTEGER,
    ends_at    INTEGER,
    status     TEXT    NOT NULL DEFAULT 'planned'
                       CHECK (status IN ('planned', 'active', 'completed', 'cancelled')),
    version    INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL,
    deleted_at INTEGER,
    CHECK (starts_at IS NULL OR ends_at IS NULL OR ends_at > starts_at),
    -- Target of work_items' composite foreign key: a sprint is only ever used in its own project.
    UNIQUE (project_id, id)
) STRICT;

-- At most one active sprint per project, guaranteed by the database.
CREATE UNIQUE INDEX sprints_one_active_per_project ON sprints (project_id)
    WHERE status = 'active' AND deleted_at IS NULL;

CREATE TABLE work_items (
    id           TEXT    NOT NULL PRIMARY KEY,
    project_id   TEXT    NOT NULL REFERENCES projects (id),
    item_number  INTEGER NOT NULL CHECK (item_number >= 1),
    type         TEXT    NOT NULL CHECK (type IN ('epic', 'story', 'task')),
    parent_id    TEXT,
    title        TEXT    NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description  TEXT    NOT NULL DEFAULT '' CHECK (length(description) <= 50000),
    status       TEXT    NOT NULL DEFAULT 'backlog'
                         CHECK (status IN ('backlog', 'todo', 'in_progress', 'review', 'done')),
    priority     TEXT    NOT NULL DEFAULT 'medium'
                         CHECK (priority IN ('critical', 'high', 'medium', 'low')),
    story_points INTEGER CHECK (story_points BETWEEN 0 AND 100),
    assignee     TEXT    CHECK (assignee IS NULL OR length(assignee) BETWEEN 1 AND 128),
    sprint_id    TEXT,
    position     TEXT    NOT NULL CHECK (length(position) BETWEEN 1 AND 128),
    version      INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at   INTEGER NOT NULL,
    created_by   TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL,
    updated_by   TEXT    NOT NULL,
    deleted_at   INTEGER,
    CHECK (parent_id IS NULL OR parent_id <> id),
    CHECK (type <> 'epic' OR parent_id IS NULL),
    -- Item numbers are never reused, not even after deletion: `WEB-42` always means one item.
    UNIQUE (project_id, item_number),
    UNIQUE (project_id, id),
    -- Parent and sprint must belong to the same project (NULLs are not checked).
    FOREIGN KEY (project_id, parent_id) REFERENCES work_items (project_id, id),
    FOREIGN KEY (project_id, sprint_id) REFERENCES sprints (project_id, id)
) STRICT;

-- The board: a project's live items by column, in card order.
CREATE INDEX work_items_board ON work_items (project_id, status, position) WHERE deleted_at IS NULL;
CREATE INDEX work_items_by_parent ON work_items (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX work_items_by_sprint ON work_items (sprint_id) WHERE sprint_id IS NOT NULL;
CREATE INDEX work_items_by_assignee ON work_items (project_id, assignee) WHERE assignee IS NOT NULL;

CREATE TABLE comments (
    id           TEXT    NOT NULL PRIMARY KEY,
    work_item_id TEXT    NOT NULL REFERENCES work_items (id),
    author       TEXT    NOT NULL CHECK (length(author) BETWEEN 1 AND 128),
    body         TEXT    NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
    version      INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    deleted_at   INTEGER
) STRICT;

CREATE INDEX comments_by_item ON comments (work_item_id, created_at);

CREATE TABLE time_entries (
    id           TEXT    NOT NULL PRIMARY KEY,
    work_item_id TEXT    NOT NULL REFERENCES work_items (id),
    user_id      TEXT    NOT NULL CHECK (length(user_id) BETWEEN 1 AND 128),
    started_at   INTEGER NOT NULL,
    -- NULL while the timer runs.
    ended_at     INTEGER,
    duration_ms  INTEGER GENERATED ALWAYS AS (ended_at - started_at) STORED,
    description  TEXT    NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
    version      INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    deleted_at   INTEGER,
    CHECK (ended_at IS NULL OR ended_at > started_at),
    CHECK (ended_at IS NULL OR ended_at - started_at <= 86400000)
) STRICT;

-- At most one running timer per user, guaranteed by the database even when two devices start one
-- at the same instant.
CREATE UNIQUE INDEX time_entries_one_running_per_user ON time_entries (user_id)
    WHERE ended_at IS NULL AND deleted_at IS NULL;
CREATE INDEX time_entries_by_item ON time_entries (work_item_id, started_at);
CREATE INDEX time_entries_by_user ON time_entries (user_id, started_at);

CREATE TABLE dependencies (
    id          TEXT    NOT NULL PRIMARY KEY,
    project_id  TEXT    NOT NULL REFERENCES projects (id),
    blocking_id TEXT    NOT NULL,
    blocked_id  TEXT    NOT NULL,
    -- For the undirected `relates_to`, the pair is stored in id order so (a, b) and (b, a) are one.
    type        TEXT    NOT NULL CHECK (type IN ('blocks', 'relates_to')),
    created_at  INTEGER NOT NULL,
    created_by  TEXT    NOT NULL,
    deleted_at  INTEGER,
    deleted_by  TEXT,
    CHECK (blocking_id <> blocked_id),
    CHECK (type <> 'relates_to' OR blocking_id < blocked_id),
    FOREIGN KEY (project_id, blocking_id) REFERENCES work_items (project_id, id),
    FOREIGN KEY (project_id, blocked_id) REFERENCES work_items (project_id, id)
) STRICT;

-- Unique among live links only, so a removed link can be added again.
CREATE UNIQUE INDEX dependencies_live_unique ON dependencies (blocking_id, blocked_id, type)
    WHERE deleted_at IS NULL;
CREATE INDEX dependencies_by_blocked ON dependencies (blocked_id) WHERE deleted_at IS NULL;
CREATE INDEX dependencies_by_project ON dependencies (project_id) WHERE deleted_at IS NULL;

CREATE TABLE swim_lanes (
    id         TEXT    NOT NULL PRIMARY KEY,
    project_id TEXT    NOT NULL REFERENCES projects (id),
    name       TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    status     TEXT    NOT NULL
                       CHECK (status IN ('backlog', 'todo', 'in_progress', 'review', 'done')),
    position   INTEGER NOT NULL CHECK (position >= 0),
    wip_limit  INTEGER CHECK (wip_limit IS NULL OR wip_limit >= 1),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (project_id, position),
    UNIQUE (project_id, status)
) STRICT;

-- One row per changed field (or per created/deleted entity, with no field), written in the same
-- transaction as the change it describes.
CREATE TABLE activity_log (
    id         INTEGER NOT NULL PRIMARY KEY,
    -- The change-log entry written with this row. Not a foreign key: old change-log entries are
    -- purged while the activity history is kept.
    seq        INTEGER,
    project_id TEXT,
    entity     TEXT    NOT NULL CHECK (entity IN ('project', 'member', 'work_item', 'sprint',
                                                  'comment', 'time_entry', 'dependency', 'swim_lane')),
    entity_id  TEXT    NOT NULL,
    action     TEXT    NOT NULL CHECK (action IN ('created', 'updated', 'deleted')),
    field      TEXT,
    old_value  TEXT,
    new_value  TEXT,
    actor      TEXT    NOT NULL,
    at         INTEGER NOT NULL
) STRICT;

CREATE INDEX activity_by_project ON activity_log (project_id, id);
CREATE INDEX activity_by_entity ON activity_log (entity, entity_id, id);
CREATE INDEX activity_by_actor ON activity_log (actor, id);
CREATE INDEX activity_by_time ON activity_log (at);

-- The per-tenant sequence of committed changes. AUTOINCREMENT makes `seq` strictly increasing and
-- never reused, even after old rows are purged; with the single writer per tenant and the row
-- inserted in the change's own transaction, committed sequence numbers have no gaps.
CREATE TABLE change_log (
    seq        INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    project_id TEXT,
    entity     TEXT    NOT NULL CHECK (entity IN ('project', 'member', 'work_item', 'sprint',
                                                  'comment', 'time_entry', 'dependency', 'swim_lane')),
    entity_id  TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('upserted', 'deleted')),
    -- The encoded change (a protobuf message owned by pm-proto); opaque to the database.
    payload    BLOB    NOT NULL,
    actor      TEXT    NOT NULL,
    request_id TEXT,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX change_log_by_project ON change_log (project_id, seq);
CREATE INDEX change_log_by_time ON change_log (created_at);

-- Replies to mutations, so a retried request id gets the original reply and causes no second write.
-- Keyed by user as well, so one user's request id can never fetch another user's reply.
CREATE TABLE idempotency_keys (
    user_id    TEXT    NOT NULL,
    request_id TEXT    NOT NULL,
    command    TEXT    NOT NULL,
    response   BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, request_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- Documentation for LLM agents, served by the REST API. `refs` lists, space-separated, every
-- `table` and `table.column` the row talks about; a test checks each one exists in this schema.
CREATE TABLE llm_context (
    id    INTEGER NOT NULL PRIMARY KEY,
    kind  TEXT    NOT NULL CHECK (kind IN ('schema', 'rule', 'example')),
    topic TEXT    NOT NULL,
    title TEXT    NOT NULL,
    body  TEXT    NOT NULL,
    refs  TEXT    NOT NULL DEFAULT ''
) STRICT;
