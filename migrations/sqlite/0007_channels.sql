-- Telegram and Viber: replies that ask for the phone (channels show their "share my
-- phone" button under them), button payloads too long for a Telegram callback (kept
-- here under a short key), and one-time tokens that carry a web conversation over to
-- Telegram or Viber.
ALTER TABLE messages ADD COLUMN asks_contact INTEGER NOT NULL DEFAULT 0;

CREATE TABLE button_payloads (
    key        TEXT PRIMARY KEY,
    payload    TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE link_tokens (
    token_hash      TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    customer_id     TEXT NOT NULL REFERENCES customers (id),
    channel         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER,
    used_by         TEXT
);
CREATE INDEX link_tokens_conversation ON link_tokens (conversation_id);
