//! When two records of one customer become one, so do their leads: the one the CRM
//! already has survives, else the oldest; the others are stored as merged into it, and
//! the CRM hears about each one it had. The leads desk does this when it finds a
//! duplicate; the channel linker when a customer carries a conversation to Telegram or
//! Viber.

use crate::store::{LeadRecord, LeadStatus, LeadTx, StoreError};

/// The surviving lead (its facts filled in from the others, not saved yet) and the ids
/// of the merged leads the CRM had, which need a `lead.updated`.
pub struct MergedLeads {
    pub kept: LeadRecord,
    pub announced: Vec<String>,
}

/// Folds the customer's active leads and `folded` (the gone record's, already parked by
/// the store) into one; `None` when there is no lead at all. The merged ones are saved.
pub async fn merge_leads(
    tx: &mut dyn LeadTx,
    customer_id: &str,
    folded: Vec<LeadRecord>,
    now_ms: i64,
) -> Result<Option<MergedLeads>, StoreError> {
    let mut candidates = tx.active_leads().await?;
    candidates.extend(folded);
    candidates.sort_by_key(|lead| {
        (
            lead.status != LeadStatus::HandedOff,
            lead.created_at,
            lead.id.clone(),
        )
    });
    let mut candidates = candidates.into_iter();
    let Some(mut kept) = candidates.next() else {
        return Ok(None);
    };
    let mut announced = Vec::new();
    kept.customer_id = customer_id.to_owned();
    for mut other in candidates {
        // The surviving lead's facts win; the other fills what it lacks.
        let mut interest = other.interest.clone();
        interest.merge(&kept.interest);
        kept.interest = interest;
        kept.signals.extend(other.signals.iter().copied());
        if other.status == LeadStatus::HandedOff {
            // The CRM has this one: tell it where it went.
            announced.push(other.id.clone());
        }
        other.status = LeadStatus::Merged;
        other.merged_into = Some(kept.id.clone());
        other.customer_id = customer_id.to_owned();
        other.updated_at = now_ms;
        other.revision += 1;
        tx.save_lead(&other).await?;
    }
    Ok(Some(MergedLeads { kept, announced }))
}
