-- The identity of this database's change history. Sequence numbers are comparable only within one
-- epoch: a restore from a backup replaces it (`pm-server restore`, or the server itself when it finds
-- a database whose history went back), so a client holding a sequence number of the replaced history
-- is told to take a fresh snapshot instead of resuming into changes it never saw.
CREATE TABLE history (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    epoch TEXT    NOT NULL CHECK (length(epoch) = 32)
) STRICT;

INSERT INTO history (id, epoch) VALUES (1, lower(hex(randomblob(16))));

INSERT INTO llm_context (kind, topic, title, body, refs) VALUES
('schema', 'history', 'History epoch',
 'One row: `epoch`, a random identity of this database''s change history. Sequence numbers are comparable only within one epoch; restoring a backup starts a new one, and a client holding a `seq` of another epoch reloads instead of resuming.',
 'history history.epoch');
