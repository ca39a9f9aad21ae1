//! `LeadStore` on SQL: customer profiles, leads, consents as evidence, merging two
//! records of one person, and erasure on request.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use super::{
    Backend, ConsentRecord, ConversationSummary, CustomerKey, CustomerRecord, Erasure, LeadFilter,
    LeadRecord, LeadStatus, LeadStore, LeadTx, NewOutboxMessage, QueryContext, Store, StoreError,
    now_ms,
};
use crate::leads::{Band, Email, NationalId, PhoneE164, Profile};

const CUSTOMER_COLUMNS: &str = "id, display_name, phone, phone_verified, email, national_id, city, \
     language, opted_out_at, merged_into, erased_at, created_at, updated_at";

const LEAD_COLUMNS: &str = "id, customer_id, status, interest, signals, score, band, reasons, \
     branch, advisor, channel, conversation_id, handed_off_at, handoff_reason, contact_by, \
     merged_into, revision, created_at, updated_at";

/// Tables whose rows belong to a customer and move with them when two records merge.
const OWNED_TABLES: &[&str] = &[
    "channel_identities",
    "conversations",
    "consents",
    "bookings",
    "outreach",
    "outbox",
];

fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {err}"))
}

fn customer_from_row(row: &AnyRow) -> Result<CustomerRecord, StoreError> {
    let ctx = "reading a customer";
    let phone: Option<String> = row.try_get("phone").context(ctx)?;
    let email: Option<String> = row.try_get("email").context(ctx)?;
    let national_id: Option<String> = row.try_get("national_id").context(ctx)?;
    let verified: i64 = row.try_get("phone_verified").context(ctx)?;
    Ok(CustomerRecord {
        id: row.try_get("id").context(ctx)?,
        profile: Profile {
            name: row.try_get("display_name").context(ctx)?,
            // Values written before validation existed are dropped rather than trusted.
            phone: phone.and_then(|p| PhoneE164::try_from(p).ok()),
            phone_verified: verified != 0,
            email: email.and_then(|e| Email::try_from(e).ok()),
            national_id: national_id.and_then(|n| NationalId::try_from(n).ok()),
            city: row.try_get("city").context(ctx)?,
        },
        language: row.try_get("language").context(ctx)?,
        opted_out_at: row.try_get("opted_out_at").context(ctx)?,
        merged_into: row.try_get("merged_into").context(ctx)?,
        erased_at: row.try_get("erased_at").context(ctx)?,
        created_at: row.try_get("created_at").context(ctx)?,
        updated_at: row.try_get("updated_at").context(ctx)?,
    })
}

fn lead_from_row(row: &AnyRow) -> Result<LeadRecord, StoreError> {
    let ctx = "reading a lead";
    let status: String = row.try_get("status").context(ctx)?;
    let band: String = row.try_get("band").context(ctx)?;
    let interest: String = row.try_get("interest").context(ctx)?;
    let signals: String = row.try_get("signals").context(ctx)?;
    let reasons: String = row.try_get("reasons").context(ctx)?;
    let score: i64 = row.try_get("score").context(ctx)?;
    Ok(LeadRecord {
        id: row.try_get("id").context(ctx)?,
        customer_id: row.try_get("customer_id").context(ctx)?,
        status: LeadStatus::parse(&status)
            .ok_or_else(|| corrupt("lead status", format!("{status:?}")))?,
        interest: serde_json::from_str(&interest).map_err(|e| corrupt("lead interest", e))?,
        signals: serde_json::from_str(&signals).map_err(|e| corrupt("lead signals", e))?,
        score: score.clamp(0, 100) as u8,
        band: Band::parse(&band).ok_or_else(|| corrupt("lead band", format!("{band:?}")))?,
        reasons: serde_json::from_str(&reasons).map_err(|e| corrupt("lead reasons", e))?,
        branch: row.try_get("branch").context(ctx)?,
        advisor: row.try_get("advisor").context(ctx)?,
        channel: row.try_get("channel").context(ctx)?,
        conversation_id: row.try_get("conversation_id").context(ctx)?,
        handed_off_at: row.try_get("handed_off_at").context(ctx)?,
        handoff_reason: row.try_get("handoff_reason").context(ctx)?,
        contact_by: row.try_get("contact_by").context(ctx)?,
        merged_into: row.try_get("merged_into").context(ctx)?,
        revision: row.try_get("revision").context(ctx)?,
        created_at: row.try_get("created_at").context(ctx)?,
        updated_at: row.try_get("updated_at").context(ctx)?,
    })
}

fn to_json<T: serde::Serialize>(what: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| corrupt(what, e))
}

/// Locks `key` until the transaction ends (PostgreSQL; SQLite has one writer anyway).
async fn lock_key(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    key: &str,
) -> Result<(), StoreError> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT 1::BIGINT FROM (SELECT pg_advisory_xact_lock(hashtext($1))) AS l")
            .bind(format!("lead:{key}"))
            .execute(&mut **tx)
            .await
            .context("locking a lead")?;
    }
    Ok(())
}

pub(super) async fn insert_outbox(
    tx: &mut Transaction<'static, Any>,
    message: &NewOutboxMessage,
) -> Result<Option<i64>, StoreError> {
    let ctx = "writing a CRM event to the outbox";
    if message.coalesce
        && let Some(lead_id) = &message.lead_id
    {
        let waiting = sqlx::query(
            "SELECT id FROM outbox WHERE lead_id = $1 AND event = $2 AND status = 'pending' \
             AND attempts = 0 AND body IS NULL LIMIT 1",
        )
        .bind(lead_id)
        .bind(&message.event)
        .fetch_optional(&mut **tx)
        .await
        .context(ctx)?;
        if waiting.is_some() {
            return Ok(None);
        }
    }
    if let Some(key) = &message.dedupe_key {
        let exists = sqlx::query("SELECT id FROM outbox WHERE dedupe_key = $1")
            .bind(key)
            .fetch_optional(&mut **tx)
            .await
            .context(ctx)?;
        if exists.is_some() {
            return Ok(None);
        }
    }
    let webhook_id = format!("msg_{}", uuid::Uuid::now_v7().simple());
    let row = sqlx::query(
        "INSERT INTO outbox (webhook_id, event, lead_id, customer_id, body, dedupe_key, status, \
         attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $8) RETURNING id",
    )
    .bind(&webhook_id)
    .bind(&message.event)
    .bind(message.lead_id.as_deref())
    .bind(message.customer_id.as_deref())
    .bind(message.body.as_deref())
    .bind(message.dedupe_key.as_deref())
    .bind(message.not_before)
    .bind(now_ms())
    .fetch_one(&mut **tx)
    .await
    .context(ctx)?;
    Ok(Some(row.try_get("id").context(ctx)?))
}

/// A lead change in progress: one transaction, the customer (and keys) locked.
struct SqlLeadTx {
    tx: Transaction<'static, Any>,
    backend: Backend,
    customer_id: String,
}

impl SqlLeadTx {
    async fn customer_by_id(&mut self, id: &str) -> Result<Option<CustomerRecord>, StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *self.tx)
        .await
        .context("reading a customer")?
        .as_ref()
        .map(customer_from_row)
        .transpose()
    }

    /// Moves everything of `from` to `into` and marks `from` merged; returns the leads
    /// that were active on `from`, now stored as merged (the caller folds them).
    async fn move_customer(
        &mut self,
        from: &str,
        into: &str,
    ) -> Result<Vec<LeadRecord>, StoreError> {
        let ctx = "merging two records of one customer";
        let moved: Vec<LeadRecord> = sqlx::query(AssertSqlSafe(format!(
            "SELECT {LEAD_COLUMNS} FROM leads WHERE customer_id = $1 \
             AND status IN ('open', 'handed_off') ORDER BY created_at"
        )))
        .bind(from)
        .fetch_all(&mut *self.tx)
        .await
        .context(ctx)?
        .iter()
        .map(lead_from_row)
        .collect::<Result<_, _>>()?;
        // Parked as merged first: the survivor may have an active lead of its own, and
        // a customer has at most one.
        sqlx::query("UPDATE leads SET status = 'merged', customer_id = $1 WHERE customer_id = $2")
            .bind(into)
            .bind(from)
            .execute(&mut *self.tx)
            .await
            .context(ctx)?;
        for table in OWNED_TABLES {
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE {table} SET customer_id = $1 WHERE customer_id = $2"
            )))
            .bind(into)
            .bind(from)
            .execute(&mut *self.tx)
            .await
            .context(ctx)?;
        }
        sqlx::query("UPDATE customers SET merged_into = $1, updated_at = $2 WHERE id = $3")
            .bind(into)
            .bind(now_ms())
            .bind(from)
            .execute(&mut *self.tx)
            .await
            .context(ctx)?;
        Ok(moved)
    }
}

#[async_trait]
impl LeadTx for SqlLeadTx {
    async fn customer(&mut self) -> Result<CustomerRecord, StoreError> {
        let id = self.customer_id.clone();
        self.customer_by_id(&id)
            .await?
            .ok_or_else(|| StoreError::Invalid(format!("there is no customer {id}")))
    }

    async fn duplicates(&mut self, profile: &Profile) -> Result<Vec<CustomerRecord>, StoreError> {
        let phone = profile.phone.as_ref().map(PhoneE164::as_str);
        let email = profile.email.as_ref().map(Email::as_str);
        let national_id = profile.national_id.as_ref().map(NationalId::as_str);
        if phone.is_none() && email.is_none() && national_id.is_none() {
            return Ok(Vec::new());
        }
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id <> $1 \
             AND merged_into IS NULL AND erased_at IS NULL \
             AND (phone = $2 OR email = $3 OR national_id = $4) ORDER BY created_at, id"
        )))
        .bind(&self.customer_id)
        .bind(phone)
        .bind(email)
        .bind(national_id)
        .fetch_all(&mut *self.tx)
        .await
        .context("looking for other records of a customer")?
        .iter()
        .map(customer_from_row)
        .collect()
    }

    async fn absorb(&mut self, other: &str) -> Result<Vec<LeadRecord>, StoreError> {
        lock_key(&mut self.tx, self.backend, other).await?;
        let this = self.customer().await?;
        let Some(that) = self.customer_by_id(other).await? else {
            return Ok(Vec::new());
        };
        // The older record survives: the CRM may already know its id.
        let (survivor, gone) = if (that.created_at, &that.id) < (this.created_at, &this.id) {
            (that, this)
        } else {
            (this, that)
        };
        let mut profile = gone.profile.clone();
        profile.merge(&survivor.profile);
        let moved = self.move_customer(&gone.id, &survivor.id).await?;
        self.customer_id = survivor.id.clone();
        self.save_profile(&profile).await?;
        if let Some(opted_out) = gone
            .opted_out_at
            .filter(|_| survivor.opted_out_at.is_none())
        {
            sqlx::query("UPDATE customers SET opted_out_at = $1 WHERE id = $2")
                .bind(opted_out)
                .bind(&survivor.id)
                .execute(&mut *self.tx)
                .await
                .context("merging two records of one customer")?;
        }
        Ok(moved)
    }

    async fn active_leads(&mut self) -> Result<Vec<LeadRecord>, StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {LEAD_COLUMNS} FROM leads WHERE customer_id = $1 \
             AND status IN ('open', 'handed_off') ORDER BY created_at DESC"
        )))
        .bind(&self.customer_id)
        .fetch_all(&mut *self.tx)
        .await
        .context("reading a customer's lead")?
        .iter()
        .map(lead_from_row)
        .collect()
    }

    async fn save_profile(&mut self, profile: &Profile) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE customers SET display_name = $1, phone = $2, phone_verified = $3, email = $4, \
             national_id = $5, city = $6, updated_at = $7 WHERE id = $8",
        )
        .bind(profile.name.as_deref())
        .bind(profile.phone.as_ref().map(PhoneE164::as_str))
        .bind(i64::from(profile.phone_verified))
        .bind(profile.email.as_ref().map(Email::as_str))
        .bind(profile.national_id.as_ref().map(NationalId::as_str))
        .bind(profile.city.as_deref())
        .bind(now_ms())
        .bind(&self.customer_id)
        .execute(&mut *self.tx)
        .await
        .context("saving a customer's profile")?;
        Ok(())
    }

    async fn save_lead(&mut self, lead: &LeadRecord) -> Result<(), StoreError> {
        let ctx = "saving a lead";
        let updated = sqlx::query(
            "UPDATE leads SET customer_id = $1, status = $2, interest = $3, signals = $4, \
             score = $5, band = $6, reasons = $7, branch = $8, advisor = $9, \
             conversation_id = $10, handed_off_at = $11, handoff_reason = $12, \
             merged_into = $13, revision = $14, updated_at = $15, contact_by = $16 WHERE id = $17",
        )
        .bind(&lead.customer_id)
        .bind(lead.status.as_str())
        .bind(to_json("lead interest", &lead.interest)?)
        .bind(to_json("lead signals", &lead.signals)?)
        .bind(i64::from(lead.score))
        .bind(lead.band.as_str())
        .bind(to_json("lead reasons", &lead.reasons)?)
        .bind(lead.branch.as_deref())
        .bind(lead.advisor.as_deref())
        .bind(lead.conversation_id.as_deref())
        .bind(lead.handed_off_at)
        .bind(lead.handoff_reason.as_deref())
        .bind(lead.merged_into.as_deref())
        .bind(lead.revision)
        .bind(lead.updated_at)
        .bind(lead.contact_by)
        .bind(&lead.id)
        .execute(&mut *self.tx)
        .await
        .context(ctx)?;
        if updated.rows_affected() > 0 {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO leads (id, customer_id, status, interest, signals, score, band, reasons, \
             branch, advisor, channel, conversation_id, handed_off_at, handoff_reason, \
             merged_into, revision, created_at, updated_at, contact_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19)",
        )
        .bind(&lead.id)
        .bind(&lead.customer_id)
        .bind(lead.status.as_str())
        .bind(to_json("lead interest", &lead.interest)?)
        .bind(to_json("lead signals", &lead.signals)?)
        .bind(i64::from(lead.score))
        .bind(lead.band.as_str())
        .bind(to_json("lead reasons", &lead.reasons)?)
        .bind(lead.branch.as_deref())
        .bind(lead.advisor.as_deref())
        .bind(&lead.channel)
        .bind(lead.conversation_id.as_deref())
        .bind(lead.handed_off_at)
        .bind(lead.handoff_reason.as_deref())
        .bind(lead.merged_into.as_deref())
        .bind(lead.revision)
        .bind(lead.created_at)
        .bind(lead.updated_at)
        .bind(lead.contact_by)
        .execute(&mut *self.tx)
        .await
        .context(ctx)?;
        Ok(())
    }

    async fn has_consent(&mut self, purpose: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT id FROM consents WHERE customer_id = $1 AND purpose = $2 \
             AND revoked_at IS NULL LIMIT 1",
        )
        .bind(&self.customer_id)
        .bind(purpose)
        .fetch_optional(&mut *self.tx)
        .await
        .context("reading consents")?;
        Ok(row.is_some())
    }

    async fn first_message_at(&mut self) -> Result<Option<i64>, StoreError> {
        let ctx = "reading when a customer first wrote";
        let row = sqlx::query(
            "SELECT MIN(m.created_at) AS first FROM messages m \
             JOIN conversations c ON c.id = m.conversation_id \
             WHERE c.customer_id = $1 AND m.direction = 'in'",
        )
        .bind(&self.customer_id)
        .fetch_one(&mut *self.tx)
        .await
        .context(ctx)?;
        row.try_get("first").context(ctx)
    }

    async fn assign_advisor(
        &mut self,
        candidates: &[String],
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let ctx = "assigning an advisor";
        if candidates.is_empty() {
            return Ok(None);
        }
        lock_key(&mut self.tx, self.backend, "advisors").await?;
        let mut best: Option<(i64, &String)> = None;
        for advisor in candidates {
            let last: i64 =
                sqlx::query("SELECT last_assigned_at FROM advisor_assignments WHERE advisor = $1")
                    .bind(advisor)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .context(ctx)?
                    .map(|row| row.try_get("last_assigned_at"))
                    .transpose()
                    .context(ctx)?
                    .unwrap_or(i64::MIN);
            if best.is_none_or(|(at, _)| last < at) {
                best = Some((last, advisor));
            }
        }
        let Some((_, advisor)) = best else {
            return Ok(None);
        };
        sqlx::query(
            "INSERT INTO advisor_assignments (advisor, last_assigned_at, assigned) VALUES ($1, $2, 1) \
             ON CONFLICT (advisor) DO UPDATE SET last_assigned_at = $2, \
             assigned = advisor_assignments.assigned + 1",
        )
        .bind(advisor)
        .bind(now)
        .execute(&mut *self.tx)
        .await
        .context(ctx)?;
        Ok(Some(advisor.clone()))
    }

    async fn enqueue(&mut self, message: &NewOutboxMessage) -> Result<Option<i64>, StoreError> {
        insert_outbox(&mut self.tx, message).await
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.tx.commit().await.context("committing a lead change")
    }
}

#[async_trait]
impl LeadStore for Store {
    async fn begin_lead(
        &self,
        customer_id: &str,
        keys: &[String],
    ) -> Result<Box<dyn LeadTx>, StoreError> {
        let mut tx = self
            .writer
            .begin()
            .await
            .context("starting a lead change")?;
        // Keys in a fixed order so two changes never wait on each other crosswise.
        let mut ordered: Vec<&str> = keys.iter().map(String::as_str).collect();
        ordered.push(customer_id);
        ordered.sort_unstable();
        ordered.dedup();
        for key in ordered {
            lock_key(&mut tx, self.backend, key).await?;
        }
        // A record merged away meanwhile: work on the one it became.
        let mut customer_id = customer_id.to_owned();
        for _ in 0..8 {
            let merged: Option<String> =
                sqlx::query("SELECT merged_into FROM customers WHERE id = $1")
                    .bind(&customer_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .context("starting a lead change")?
                    .map(|row| row.try_get("merged_into"))
                    .transpose()
                    .context("starting a lead change")?
                    .flatten();
            match merged {
                Some(next) => {
                    lock_key(&mut tx, self.backend, &next).await?;
                    customer_id = next;
                }
                None => break,
            }
        }
        Ok(Box::new(SqlLeadTx {
            tx,
            backend: self.backend,
            customer_id,
        }))
    }

    async fn lead(&self, id: &str) -> Result<Option<LeadRecord>, StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {LEAD_COLUMNS} FROM leads WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .context("reading a lead")?
        .as_ref()
        .map(lead_from_row)
        .transpose()
    }

    async fn leads(&self, filter: &LeadFilter) -> Result<Vec<LeadRecord>, StoreError> {
        let mut sql = format!("SELECT {LEAD_COLUMNS} FROM leads WHERE 1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        if filter.status.is_some() {
            sql += &format!(" AND status = ${}", next());
        }
        if filter.band.is_some() {
            sql += &format!(" AND band = ${}", next());
        }
        if filter.customer_id.is_some() {
            sql += &format!(" AND customer_id = ${}", next());
        }
        if filter.since.is_some() {
            sql += &format!(" AND updated_at >= ${}", next());
        }
        sql += &format!(" ORDER BY updated_at DESC, id LIMIT ${}", next());
        let mut query = sqlx::query(AssertSqlSafe(sql));
        if let Some(status) = filter.status {
            query = query.bind(status.as_str());
        }
        if let Some(band) = filter.band {
            query = query.bind(band.as_str());
        }
        if let Some(customer) = &filter.customer_id {
            query = query.bind(customer.clone());
        }
        if let Some(since) = filter.since {
            query = query.bind(since);
        }
        query
            .bind(filter.limit.filter(|l| *l > 0).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .context("listing leads")?
            .iter()
            .map(lead_from_row)
            .collect()
    }

    async fn customer_record(&self, id: &str) -> Result<Option<CustomerRecord>, StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .context("reading a customer")?
        .as_ref()
        .map(customer_from_row)
        .transpose()
    }

    async fn find_customers(&self, key: &CustomerKey) -> Result<Vec<String>, StoreError> {
        let ctx = "looking up a customer";
        let (sql, value): (&str, String) = match key {
            CustomerKey::Phone(phone) => (
                "SELECT COALESCE(merged_into, id) AS id FROM customers WHERE phone = $1",
                phone.as_str().to_owned(),
            ),
            CustomerKey::Email(email) => (
                "SELECT COALESCE(merged_into, id) AS id FROM customers WHERE email = $1",
                email.as_str().to_owned(),
            ),
            CustomerKey::NationalId(id) => (
                "SELECT COALESCE(merged_into, id) AS id FROM customers WHERE national_id = $1",
                id.as_str().to_owned(),
            ),
            CustomerKey::Id(id) => (
                "SELECT COALESCE(merged_into, id) AS id FROM customers WHERE id = $1",
                id.clone(),
            ),
            CustomerKey::Channel {
                channel,
                external_id,
            } => {
                let rows = sqlx::query(
                    "SELECT COALESCE(c.merged_into, c.id) AS id FROM channel_identities i \
                     JOIN customers c ON c.id = i.customer_id \
                     WHERE i.channel = $1 AND i.external_id = $2",
                )
                .bind(channel)
                .bind(external_id)
                .fetch_all(&self.pool)
                .await
                .context(ctx)?;
                return ids_of(&rows, ctx);
            }
        };
        let rows = sqlx::query(sql)
            .bind(value)
            .fetch_all(&self.pool)
            .await
            .context(ctx)?;
        ids_of(&rows, ctx)
    }

    async fn consents(&self, customer_id: &str) -> Result<Vec<ConsentRecord>, StoreError> {
        let ctx = "reading consents";
        sqlx::query(
            "SELECT purpose, channel, text, version, granted_at, revoked_at FROM consents \
             WHERE customer_id = $1 ORDER BY granted_at, id",
        )
        .bind(customer_id)
        .fetch_all(&self.pool)
        .await
        .context(ctx)?
        .iter()
        .map(|row| {
            Ok(ConsentRecord {
                purpose: row.try_get("purpose").context(ctx)?,
                channel: row.try_get("channel").context(ctx)?,
                text: row.try_get("text").context(ctx)?,
                version: row.try_get("version").context(ctx)?,
                granted_at: row.try_get("granted_at").context(ctx)?,
                revoked_at: row.try_get("revoked_at").context(ctx)?,
            })
        })
        .collect()
    }

    async fn channel_identities(
        &self,
        customer_id: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let ctx = "reading a customer's channel identities";
        sqlx::query(
            "SELECT channel, external_id FROM channel_identities WHERE customer_id = $1 \
             ORDER BY created_at, channel, external_id",
        )
        .bind(customer_id)
        .fetch_all(&self.pool)
        .await
        .context(ctx)?
        .iter()
        .map(|row| {
            Ok((
                row.try_get("channel").context(ctx)?,
                row.try_get("external_id").context(ctx)?,
            ))
        })
        .collect()
    }

    async fn conversations_of(
        &self,
        customer_id: &str,
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        let ctx = "reading a customer's conversations";
        sqlx::query(
            "SELECT c.id, c.customer_id, c.channel, c.started_at, c.last_activity_at, \
             (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count \
             FROM conversations c WHERE c.customer_id = $1 ORDER BY c.started_at, c.id",
        )
        .bind(customer_id)
        .fetch_all(&self.pool)
        .await
        .context(ctx)?
        .iter()
        .map(|row| {
            let channel: String = row.try_get("channel").context(ctx)?;
            Ok(ConversationSummary {
                id: row.try_get("id").context(ctx)?,
                customer_id: row.try_get("customer_id").context(ctx)?,
                channel: crate::engine::ChannelKind::parse(&channel)
                    .ok_or_else(|| corrupt("conversation channel", format!("{channel:?}")))?,
                started_at: row.try_get("started_at").context(ctx)?,
                last_activity_at: row.try_get("last_activity_at").context(ctx)?,
                message_count: row.try_get("message_count").context(ctx)?,
            })
        })
        .collect()
    }

    async fn erase_customer(
        &self,
        customer_id: &str,
        at: i64,
        notice: &NewOutboxMessage,
    ) -> Result<Erasure, StoreError> {
        let ctx = "erasing a customer's personal data";
        let mut tx = self.writer.begin().await.context(ctx)?;
        lock_key(&mut tx, self.backend, customer_id).await?;
        // The record and every record merged into it.
        let customers: Vec<String> =
            sqlx::query("SELECT id FROM customers WHERE id = $1 OR merged_into = $1 ORDER BY id")
                .bind(customer_id)
                .fetch_all(&mut *tx)
                .await
                .context(ctx)?
                .iter()
                .map(|row| row.try_get("id"))
                .collect::<Result<_, _>>()
                .context(ctx)?;
        let mut erasure = Erasure {
            customers: customers.clone(),
            ..Erasure::default()
        };
        for id in &customers {
            let leads: Vec<String> = sqlx::query("SELECT id FROM leads WHERE customer_id = $1")
                .bind(id)
                .fetch_all(&mut *tx)
                .await
                .context(ctx)?
                .iter()
                .map(|row| row.try_get("id"))
                .collect::<Result<_, _>>()
                .context(ctx)?;
            erasure.leads.extend(leads);
            // What the person wrote and what the bot wrote back (it repeats names and
            // numbers) goes; that a message was exchanged, and when, stays for counts.
            let messages = sqlx::query(
                "UPDATE messages SET text = '', payload = NULL, buttons = NULL, citations = NULL \
                 WHERE conversation_id IN (SELECT id FROM conversations WHERE customer_id = $1) \
                 AND text <> ''",
            )
            .bind(id)
            .execute(&mut *tx)
            .await
            .context(ctx)?;
            erasure.messages += messages.rows_affected();
            sqlx::query(
                "UPDATE sessions SET state = '{}' WHERE conversation_id IN \
                 (SELECT id FROM conversations WHERE customer_id = $1)",
            )
            .bind(id)
            .execute(&mut *tx)
            .await
            .context(ctx)?;
            let bookings = sqlx::query(
                "UPDATE bookings SET name = '', phone = NULL, plate = NULL WHERE customer_id = $1",
            )
            .bind(id)
            .execute(&mut *tx)
            .await
            .context(ctx)?;
            erasure.bookings += bookings.rows_affected();
            sqlx::query(
                "UPDATE leads SET status = 'erased', interest = '{}', reasons = '[]', \
                 updated_at = $1 WHERE customer_id = $2",
            )
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await
            .context(ctx)?;
            // Lead events not sent yet would carry the data: they are not sent.
            sqlx::query(
                "UPDATE outbox SET status = 'dead', body = NULL, \
                 last_error = 'not sent: the personal data was erased' \
                 WHERE customer_id = $1 AND status = 'pending'",
            )
            .bind(id)
            .execute(&mut *tx)
            .await
            .context(ctx)?;
            sqlx::query(
                "UPDATE outbox SET body = NULL WHERE customer_id = $1 AND event <> 'privacy.erased'",
            )
            .bind(id)
            .execute(&mut *tx)
            .await
            .context(ctx)?;
            sqlx::query(
                "UPDATE customers SET display_name = NULL, phone = NULL, phone_verified = 0, \
                 email = NULL, national_id = NULL, city = NULL, erased_at = $1, updated_at = $1 \
                 WHERE id = $2",
            )
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await
            .context(ctx)?;
            // The audit log keeps what happened and when, not the details.
            sqlx::query("UPDATE audit_log SET detail = NULL WHERE subject = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .context(ctx)?;
            // Consents stay as evidence of what was agreed and when; they name nobody now.
            sqlx::query(
                "UPDATE consents SET revoked_at = COALESCE(revoked_at, $1) WHERE customer_id = $2",
            )
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await
            .context(ctx)?;
        }
        insert_outbox(&mut tx, notice).await?;
        tx.commit().await.context(ctx)?;
        Ok(erasure)
    }
}

fn ids_of(rows: &[AnyRow], ctx: &'static str) -> Result<Vec<String>, StoreError> {
    let mut ids: Vec<String> = rows
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<_, _>>()
        .context(ctx)?;
    ids.sort();
    ids.dedup();
    Ok(ids)
}
