-- Messages the bot sends on its own (reminders, outreach) carry a key, so a retry after
-- a crash or a repeated request never sends them twice.
ALTER TABLE messages ADD COLUMN dedupe_key TEXT;
CREATE UNIQUE INDEX messages_dedupe_key ON messages (dedupe_key) WHERE dedupe_key IS NOT NULL;

-- What a customer agreed to (`contact`, `marketing`…), on which channel, with the exact
-- text shown. A revoked consent keeps its row.
CREATE TABLE consents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    purpose     TEXT NOT NULL,
    channel     TEXT NOT NULL,
    text        TEXT NOT NULL,
    granted_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX consents_customer ON consents (customer_id, purpose);

CREATE INDEX customers_phone ON customers (phone) WHERE phone IS NOT NULL;

-- Messages the CRM/ERP asked us to send (`POST /api/v1/outreach`), with the flow their
-- "Book now" button starts.
CREATE TABLE outreach (
    id              TEXT PRIMARY KEY,
    customer_id     TEXT NOT NULL REFERENCES customers (id),
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    flow_id         TEXT,
    flow_values     TEXT,
    language        TEXT NOT NULL,
    message         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    idempotency_key TEXT UNIQUE
);
CREATE INDEX outreach_customer ON outreach (customer_id, created_at);
