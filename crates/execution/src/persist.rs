//! The store side of a run: hand-injected disruptions (table
//! `execution_disruptions`, migration 8001), the plans of a run (table
//! `plans`, owned by the planner CLI), and each person's final custody.

use anyhow::Context as _;
use sallyport_store::Store;
use sallyport_store::sqlx::{self, Row};

use crate::disrupt::Disruption;
use crate::engine::{Outcome, Reason};

/// Record a disruption for the next `sallyport run` to apply.
pub async fn add_disruption(store: &Store, d: &Disruption) -> anyhow::Result<i64> {
    d.check().map_err(|e| anyhow::anyhow!(e))?;
    let json = serde_json::to_string(d)?;
    let row = sqlx::query("INSERT INTO execution_disruptions (day, kind, json, applied) VALUES ($1, $2, $3, 0) RETURNING id")
        .bind(d.day() as i64)
        .bind(d.kind())
        .bind(json)
        .fetch_one(store.pool())
        .await
        .context("cannot record the disruption (is the database initialised?)")?;
    Ok(row.try_get::<i64, _>(0)?)
}

/// Every recorded disruption, oldest first (untrusted rows are re-checked).
pub async fn disruptions(store: &Store) -> anyhow::Result<Vec<(i64, Disruption, bool)>> {
    let rows = sqlx::query("SELECT id, json, applied FROM execution_disruptions ORDER BY id").fetch_all(store.pool()).await?;
    let mut out = Vec::new();
    for r in rows {
        let id: i64 = r.try_get(0)?;
        let json: String = r.try_get(1)?;
        let applied: i64 = r.try_get(2)?;
        let d: Disruption = serde_json::from_str(&json).with_context(|| format!("stored disruption {id} is invalid"))?;
        d.check().map_err(|e| anyhow::anyhow!("stored disruption {id}: {e}"))?;
        out.push((id, d, applied != 0));
    }
    Ok(out)
}

/// Mark disruptions as applied by a run.
pub async fn mark_applied(store: &Store, ids: &[i64]) -> anyhow::Result<()> {
    for id in ids {
        sqlx::query("UPDATE execution_disruptions SET applied = 1 WHERE id = $1").bind(*id).execute(store.pool()).await?;
    }
    Ok(())
}

/// Save every plan of the run (initial + re-plans) in the planner's `plans`
/// table, so `sallyport plan show` shows the final one.
pub async fn save_plans(store: &Store, o: &Outcome) -> anyhow::Result<usize> {
    for (k, (note, problem, plan)) in o.plans.iter().enumerate() {
        let kind = if k == 0 { "solve" } else { "replan" };
        sqlx::query("INSERT INTO plans (created_ms, seed, kind, note, json, problem_json) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(problem.epoch.timestamp_millis())
            .bind(o.seed as i64)
            .bind(kind)
            .bind(format!("execution run: {note}"))
            .bind(serde_json::to_string(plan)?)
            .bind(serde_json::to_string(problem)?)
            .execute(store.pool())
            .await
            .context("cannot save plans (table plans)")?;
    }
    Ok(o.plans.len())
}

/// Update each person's custodian and site to the reconciled end state.
pub async fn save_custody(store: &Store, o: &Outcome) -> anyhow::Result<usize> {
    let mut n = 0;
    for a in &o.accounted {
        if a.outcome == Reason::Deceased.as_str() {
            continue;
        }
        let (Some(site), Some(cust)) = (&a.site, &a.custodian) else { continue };
        let (Ok(site), Ok(cust)) = (sallyport_core::SiteId::new(site.clone()), sallyport_core::AgencyId::new(cust.clone())) else {
            continue;
        };
        store.update_custody(&a.person, &cust, &site).await?;
        n += 1;
    }
    Ok(n)
}
