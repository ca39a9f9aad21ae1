-- Customers, their channel identities, conversations, messages, sessions and the audit log.
-- Times are Unix milliseconds (BIGINT) so both backends store them the same way.

CREATE TABLE customers (
    id           TEXT PRIMARY KEY,
    display_name TEXT,
    phone        TEXT,
    email        TEXT,
    national_id  TEXT,
    language     TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE channel_identities (
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (channel, external_id)
);
CREATE INDEX channel_identities_customer ON channel_identities (customer_id);

CREATE TABLE conversations (
    id               TEXT PRIMARY KEY,
    customer_id      TEXT NOT NULL REFERENCES customers (id),
    channel          TEXT NOT NULL,
    external_id      TEXT NOT NULL,
    started_at       BIGINT NOT NULL,
    last_activity_at BIGINT NOT NULL,
    UNIQUE (channel, external_id)
);
CREATE INDEX conversations_activity ON conversations (last_activity_at DESC);

CREATE TABLE messages (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id    TEXT NOT NULL REFERENCES conversations (id),
    direction          TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    kind               TEXT NOT NULL,
    text               TEXT NOT NULL,
    payload            TEXT,
    buttons            TEXT,
    channel_message_id TEXT,
    reply_to           BIGINT REFERENCES messages (id),
    created_at         BIGINT NOT NULL,
    processed_at       BIGINT,
    delivered_at       BIGINT
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);
CREATE UNIQUE INDEX messages_channel_message ON messages (conversation_id, channel_message_id)
    WHERE channel_message_id IS NOT NULL;
CREATE INDEX messages_pending ON messages (conversation_id, id)
    WHERE direction = 'in' AND processed_at IS NULL;
CREATE INDEX messages_undelivered ON messages (conversation_id, id)
    WHERE direction = 'out' AND delivered_at IS NULL;
CREATE INDEX messages_reply_to ON messages (reply_to);

CREATE TABLE sessions (
    conversation_id  TEXT PRIMARY KEY REFERENCES conversations (id),
    state            TEXT NOT NULL,
    version          BIGINT NOT NULL,
    last_activity_at BIGINT,
    updated_at       BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT,
    detail  TEXT
);
CREATE INDEX audit_log_subject ON audit_log (subject, at);
