//! `OutboxDelivery` and `OutboxStore` on SQL. Workers on any number of instances claim due messages with a
//! lease (`locked_by`, `locked_until`); on PostgreSQL the claim skips rows another
//! worker is claiming at that moment (`FOR UPDATE SKIP LOCKED`), so no message is sent
//! by two workers. Every report back names the worker, so a worker that lost its lease
//! (it stalled past it) cannot overwrite the outcome of the one that took over.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::{
    Backend, OutboxCounts, OutboxDelivery, OutboxFilter, OutboxRecord, OutboxSelection,
    OutboxStatus, OutboxStore, QueryContext, Store, StoreError,
};

const OUTBOX_COLUMNS: &str = "id, webhook_id, event, lead_id, customer_id, body, status, attempts, \
     next_attempt_at, last_status, last_error, created_at, delivered_at";

fn outbox_from_row(row: &AnyRow) -> Result<OutboxRecord, StoreError> {
    let ctx = "reading an outbox message";
    let status: String = row.try_get("status").context(ctx)?;
    Ok(OutboxRecord {
        id: row.try_get("id").context(ctx)?,
        webhook_id: row.try_get("webhook_id").context(ctx)?,
        event: row.try_get("event").context(ctx)?,
        lead_id: row.try_get("lead_id").context(ctx)?,
        customer_id: row.try_get("customer_id").context(ctx)?,
        body: row.try_get("body").context(ctx)?,
        status: OutboxStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("outbox status {status:?}")))?,
        attempts: row.try_get("attempts").context(ctx)?,
        next_attempt_at: row.try_get("next_attempt_at").context(ctx)?,
        last_status: row.try_get("last_status").context(ctx)?,
        last_error: row.try_get("last_error").context(ctx)?,
        created_at: row.try_get("created_at").context(ctx)?,
        delivered_at: row.try_get("delivered_at").context(ctx)?,
    })
}

/// `$first, $first+1, …` for `count` values.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Errors are kept short in the table: the log has the rest.
fn short(error: &str) -> String {
    error.chars().take(500).collect()
}

impl Store {
    /// Claims the rows `candidates` selects (a `SELECT id … ` with `$1` = now and
    /// optionally more arguments bound by `bind`), leasing them to `worker`.
    async fn claim(
        &self,
        candidates: &str,
        ids: &[i64],
        worker: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<OutboxRecord>, StoreError> {
        let ctx = "claiming CRM messages to deliver";
        let skip_locked = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let n = 4 + ids.len();
        let sql = format!(
            "UPDATE outbox SET locked_by = $2, locked_until = $3 WHERE id IN (\
             {candidates} AND status = 'pending' \
             AND (locked_until IS NULL OR locked_until < $1) ORDER BY id LIMIT ${n}{skip_locked}) \
             RETURNING {OUTBOX_COLUMNS}"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(now)
            .bind(worker)
            .bind(lease_until);
        for id in ids {
            query = query.bind(*id);
        }
        let mut claimed = query
            .bind(limit)
            .fetch_all(&self.writer)
            .await
            .context(ctx)?
            .iter()
            .map(outbox_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|m| m.id);
        Ok(claimed)
    }

    /// Runs an update of one claimed message, only while `worker` holds it.
    async fn report(
        &self,
        sql: &str,
        id: i64,
        worker: &str,
        bind: impl FnOnce(
            sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
        ) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
        ctx: &'static str,
    ) -> Result<bool, StoreError> {
        let query = sqlx::query(AssertSqlSafe(sql.to_owned()))
            .bind(id)
            .bind(worker.to_owned());
        let done = bind(query).execute(&self.writer).await.context(ctx)?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl OutboxDelivery for Store {
    async fn claim_due(
        &self,
        worker: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<OutboxRecord>, StoreError> {
        self.claim(
            "SELECT id FROM outbox WHERE next_attempt_at <= $1",
            &[],
            worker,
            now,
            lease_until,
            limit,
        )
        .await
    }

    async fn claim_ids(
        &self,
        worker: &str,
        ids: &[i64],
        now: i64,
        lease_until: i64,
    ) -> Result<Vec<OutboxRecord>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let candidates = format!(
            "SELECT id FROM outbox WHERE id IN ({})",
            placeholders(4, ids.len())
        );
        self.claim(&candidates, ids, worker, now, lease_until, ids.len() as i64)
            .await
    }

    async fn set_body(&self, id: i64, worker: &str, body: &str) -> Result<(), StoreError> {
        let body = body.to_owned();
        self.report(
            "UPDATE outbox SET body = $3 WHERE id = $1 AND locked_by = $2 AND body IS NULL",
            id,
            worker,
            |q| q.bind(body),
            "fixing the body of a CRM message",
        )
        .await?;
        Ok(())
    }

    async fn record_delivered(
        &self,
        id: i64,
        worker: &str,
        status: u16,
        at: i64,
    ) -> Result<bool, StoreError> {
        self.report(
            "UPDATE outbox SET status = 'delivered', delivered_at = $3, last_status = $4, \
             last_error = NULL, attempts = attempts + 1, locked_by = NULL, locked_until = NULL \
             WHERE id = $1 AND locked_by = $2",
            id,
            worker,
            |q| q.bind(at).bind(i64::from(status)),
            "recording a delivered CRM message",
        )
        .await
    }

    async fn schedule_retry(
        &self,
        id: i64,
        worker: &str,
        next_attempt_at: i64,
        status: Option<u16>,
        error: &str,
    ) -> Result<(), StoreError> {
        let error = short(error);
        self.report(
            "UPDATE outbox SET next_attempt_at = $3, last_status = $4, last_error = $5, \
             attempts = attempts + 1, locked_by = NULL, locked_until = NULL \
             WHERE id = $1 AND locked_by = $2",
            id,
            worker,
            |q| {
                q.bind(next_attempt_at)
                    .bind(status.map(i64::from))
                    .bind(error)
            },
            "scheduling a CRM retry",
        )
        .await?;
        Ok(())
    }

    async fn mark_dead(
        &self,
        id: i64,
        worker: &str,
        status: Option<u16>,
        error: &str,
    ) -> Result<(), StoreError> {
        let error = short(error);
        self.report(
            "UPDATE outbox SET status = 'dead', last_status = $3, last_error = $4, \
             attempts = attempts + 1, locked_by = NULL, locked_until = NULL \
             WHERE id = $1 AND locked_by = $2",
            id,
            worker,
            |q| q.bind(status.map(i64::from)).bind(error),
            "parking a CRM message as a dead letter",
        )
        .await?;
        Ok(())
    }

    async fn release(&self, id: i64, worker: &str, next_attempt_at: i64) -> Result<(), StoreError> {
        self.report(
            "UPDATE outbox SET next_attempt_at = $3, locked_by = NULL, locked_until = NULL \
             WHERE id = $1 AND locked_by = $2",
            id,
            worker,
            |q| q.bind(next_attempt_at),
            "giving back a CRM message",
        )
        .await?;
        Ok(())
    }

    async fn endpoint_disabled_at(&self, url: &str) -> Result<Option<i64>, StoreError> {
        let ctx = "reading the CRM endpoint's state";
        sqlx::query("SELECT disabled_at FROM crm_endpoints WHERE url = $1")
            .bind(url)
            .fetch_optional(&self.pool)
            .await
            .context(ctx)?
            .map(|row| row.try_get("disabled_at"))
            .transpose()
            .context(ctx)
            .map(Option::flatten)
    }

    async fn set_endpoint_disabled(&self, url: &str, at: Option<i64>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO crm_endpoints (url, disabled_at) VALUES ($1, $2) \
             ON CONFLICT (url) DO UPDATE SET disabled_at = $2",
        )
        .bind(url)
        .bind(at)
        .execute(&self.writer)
        .await
        .context("recording the CRM endpoint's state")?;
        Ok(())
    }
}

#[async_trait]
impl OutboxStore for Store {
    async fn outbox_message(&self, id: i64) -> Result<Option<OutboxRecord>, StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .context("reading an outbox message")?
        .as_ref()
        .map(outbox_from_row)
        .transpose()
    }

    async fn list_outbox(&self, filter: &OutboxFilter) -> Result<Vec<OutboxRecord>, StoreError> {
        let mut sql = format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE 1 = 1");
        let mut n = 0;
        if filter.status.is_some() {
            n += 1;
            sql += &format!(" AND status = ${n}");
        }
        if filter.lead_id.is_some() {
            n += 1;
            sql += &format!(" AND lead_id = ${n}");
        }
        if filter.customer_id.is_some() {
            n += 1;
            sql += &format!(" AND customer_id = ${n}");
        }
        sql += &format!(" ORDER BY id DESC LIMIT ${}", n + 1);
        let mut query = sqlx::query(AssertSqlSafe(sql));
        if let Some(status) = filter.status {
            query = query.bind(status.as_str());
        }
        if let Some(lead) = &filter.lead_id {
            query = query.bind(lead.clone());
        }
        if let Some(customer) = &filter.customer_id {
            query = query.bind(customer.clone());
        }
        query
            .bind(filter.limit.filter(|l| *l > 0).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .context("listing the outbox")?
            .iter()
            .map(outbox_from_row)
            .collect()
    }

    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let ctx = "counting the outbox";
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
            .fetch_all(&self.pool)
            .await
            .context(ctx)?;
        let mut counts = OutboxCounts::default();
        for row in rows {
            let status: String = row.try_get("status").context(ctx)?;
            let n: i64 = row.try_get("n").context(ctx)?;
            match OutboxStatus::parse(&status) {
                Some(OutboxStatus::Pending) => counts.pending = n,
                Some(OutboxStatus::Delivered) => counts.delivered = n,
                Some(OutboxStatus::Dead) => counts.dead = n,
                None => return Err(StoreError::Corrupt(format!("outbox status {status:?}"))),
            }
        }
        Ok(counts)
    }

    async fn retry_outbox(&self, which: &OutboxSelection, now: i64) -> Result<u64, StoreError> {
        requeue(self, which, now, &["dead", "pending"], "attempts = 0,").await
    }

    async fn replay_outbox(&self, which: &OutboxSelection, now: i64) -> Result<u64, StoreError> {
        requeue(self, which, now, &["delivered"], "delivered_at = NULL,").await
    }
}

/// Puts messages in `statuses` back to pending, due `now`, with `reset` applied. A
/// pending message a worker holds right now is left to it: taking it back could send it
/// twice.
async fn requeue(
    store: &Store,
    which: &OutboxSelection,
    now: i64,
    statuses: &[&str],
    reset: &str,
) -> Result<u64, StoreError> {
    let ctx = "putting CRM messages back in line";
    let status_list = statuses
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let head = format!(
        "UPDATE outbox SET status = 'pending', {reset} next_attempt_at = $1, locked_by = NULL, \
         locked_until = NULL WHERE status IN ({status_list}) \
         AND (status <> 'pending' OR locked_until IS NULL OR locked_until < $1)"
    );
    let done = match which {
        OutboxSelection::Ids(ids) if ids.is_empty() => return Ok(0),
        OutboxSelection::Ids(ids) => {
            let sql = format!("{head} AND id IN ({})", placeholders(2, ids.len()));
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(now);
            for id in ids {
                query = query.bind(*id);
            }
            query.execute(&store.writer).await.context(ctx)?
        }
        OutboxSelection::All { since } => {
            let sql = format!("{head} AND created_at >= $2");
            sqlx::query(AssertSqlSafe(sql))
                .bind(now)
                .bind(since.unwrap_or(i64::MIN))
                .execute(&store.writer)
                .await
                .context(ctx)?
        }
    };
    Ok(done.rows_affected())
}
