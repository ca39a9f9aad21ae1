-- Leads: the customer profile grows (city, verified phone, merges, erasure), consents
-- keep the version of the text shown, one active lead per customer, and the CRM outbox
-- written in the same transaction as the lead change it announces.

ALTER TABLE customers ADD COLUMN city TEXT;
ALTER TABLE customers ADD COLUMN phone_verified BIGINT NOT NULL DEFAULT 0;
-- Set when another customer record turned out to be the same person: everything of this
-- one moved there.
ALTER TABLE customers ADD COLUMN merged_into TEXT;
-- Set when the customer's personal data was erased on request.
ALTER TABLE customers ADD COLUMN erased_at BIGINT;
CREATE INDEX customers_email ON customers (email) WHERE email IS NOT NULL;
CREATE INDEX customers_national_id ON customers (national_id) WHERE national_id IS NOT NULL;

ALTER TABLE consents ADD COLUMN version TEXT;

CREATE TABLE leads (
    id              TEXT PRIMARY KEY,
    customer_id     TEXT NOT NULL REFERENCES customers (id),
    -- open (collecting), handed_off (with the CRM, still updated), merged, erased.
    status          TEXT NOT NULL,
    interest        TEXT NOT NULL,
    signals         TEXT NOT NULL,
    score           BIGINT NOT NULL,
    band            TEXT NOT NULL,
    reasons         TEXT NOT NULL,
    branch          TEXT,
    advisor         TEXT,
    channel         TEXT NOT NULL,
    conversation_id TEXT,
    handed_off_at   BIGINT,
    -- Why it was handed off: booking, advisor, score.
    handoff_reason  TEXT,
    -- When the customer was told an advisor would contact them by.
    contact_by      BIGINT,
    merged_into     TEXT,
    revision        BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX leads_active ON leads (customer_id) WHERE status IN ('open', 'handed_off');
CREATE INDEX leads_updated ON leads (updated_at DESC);

-- Round robin among advisors: who got a lead last, and when.
CREATE TABLE advisor_assignments (
    advisor          TEXT PRIMARY KEY,
    last_assigned_at BIGINT NOT NULL,
    assigned         BIGINT NOT NULL
);

CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id      TEXT NOT NULL UNIQUE,
    event           TEXT NOT NULL,
    lead_id         TEXT,
    customer_id     TEXT,
    -- The exact body sent: fixed at the first attempt (or at enqueue) so every retry of a
    -- webhook-id carries the same bytes.
    body            TEXT,
    dedupe_key      TEXT UNIQUE,
    -- pending, delivered, dead.
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_by       TEXT,
    locked_until    BIGINT,
    last_status     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_lead ON outbox (lead_id, id);

-- A CRM endpoint that answered 410 Gone: nothing is sent there until an operator
-- re-enables it (`showroom outbox retry`).
CREATE TABLE crm_endpoints (
    url         TEXT PRIMARY KEY,
    disabled_at BIGINT
);
