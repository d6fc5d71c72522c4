//! The stored plans (table `plans`, migration 4001, written by `sallyport plan`
//! and by the execution engine's `save_plans`): the latest plan drives the
//! schedule, the baseline (the latest plan solved from scratch, i.e. the first
//! plan of the latest run) is what progress is measured against.
//!
//! Plans are large (a manifest per sortie): a parsed plan is kept until a newer
//! one is stored, independent of the read-model generation.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use sallyport_planner::Plan;
use sallyport_store::Store;
use sallyport_store::sqlx::{self, Row};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::problem::ApiError;

/// What is known about a stored plan besides its content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlanInfo {
    /// Row id in `plans`.
    pub id: i64,
    /// `solve`, `replan` or `import`.
    pub kind: String,
    pub note: String,
    pub created: DateTime<Utc>,
    pub sorties: u32,
    pub people_moved: u32,
    pub people_unserved: u32,
    pub deadline_misses: u32,
    pub makespan_days: f64,
}

/// A parsed stored plan.
#[derive(Debug)]
pub struct StoredPlan {
    pub info: PlanInfo,
    pub plan: Plan,
}

/// The latest plan and the baseline, as stored.
#[derive(Debug, Clone, Default)]
pub struct Plans {
    pub latest: Option<Arc<StoredPlan>>,
    pub baseline: Option<Arc<StoredPlan>>,
}

/// Parsed plans by row id (rows are never edited, so an id names one content).
#[derive(Default)]
pub struct PlanCache {
    parsed: Mutex<Vec<Arc<StoredPlan>>>,
}

impl PlanCache {
    /// The latest and baseline plans, parsing only rows not seen before.
    pub async fn load(&self, store: &Store) -> Result<Plans, ApiError> {
        let latest = sqlx::query("SELECT CAST(MAX(id) AS BIGINT) FROM plans")
            .fetch_one(store.pool())
            .await
            .map_err(ApiError::internal)?
            .try_get::<Option<i64>, _>(0)
            .map_err(ApiError::internal)?;
        let Some(latest) = latest else {
            return Ok(Plans::default());
        };
        let baseline = sqlx::query(
            "SELECT CAST(MAX(id) AS BIGINT) FROM plans WHERE kind <> 'replan' AND id <= $1",
        )
        .bind(latest)
        .fetch_one(store.pool())
        .await
        .map_err(ApiError::internal)?
        .try_get::<Option<i64>, _>(0)
        .map_err(ApiError::internal)?;
        let latest_plan = self.get(store, latest).await?;
        let baseline_plan = match baseline {
            Some(b) if b == latest => Some(latest_plan.clone()),
            Some(b) => Some(self.get(store, b).await?),
            None => None,
        };
        Ok(Plans {
            latest: Some(latest_plan),
            baseline: baseline_plan,
        })
    }

    async fn get(&self, store: &Store, id: i64) -> Result<Arc<StoredPlan>, ApiError> {
        if let Some(p) = self
            .parsed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|p| p.info.id == id)
        {
            return Ok(p.clone());
        }
        let row = sqlx::query("SELECT id, created_ms, kind, note, json FROM plans WHERE id = $1")
            .bind(id)
            .fetch_one(store.pool())
            .await
            .map_err(ApiError::internal)?;
        let json: String = row.try_get(4).map_err(ApiError::internal)?;
        // Parsing a large plan is CPU work: off the async workers.
        let plan: Plan = tokio::task::spawn_blocking(move || serde_json::from_str::<Plan>(&json))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| {
                ApiError::internal(format!("stored plan {id} is not a valid plan: {e}"))
            })?;
        let created_ms: i64 = row.try_get(1).map_err(ApiError::internal)?;
        let info = PlanInfo {
            id,
            kind: row.try_get(2).map_err(ApiError::internal)?,
            note: row.try_get(3).map_err(ApiError::internal)?,
            created: DateTime::from_timestamp_millis(created_ms).unwrap_or_default(),
            sorties: plan.kpis.sorties,
            people_moved: plan.kpis.people_moved,
            people_unserved: plan.kpis.people_unserved,
            deadline_misses: plan.kpis.deadline_misses,
            makespan_days: plan.kpis.makespan_days,
        };
        let p = Arc::new(StoredPlan { info, plan });
        let mut parsed = self.parsed.lock().unwrap_or_else(|p| p.into_inner());
        parsed.retain(|q| q.info.id != id);
        parsed.push(p.clone());
        // Keep the few most recent (latest and baseline, plus one in flight).
        parsed.sort_by_key(|q| std::cmp::Reverse(q.info.id));
        parsed.truncate(4);
        Ok(p)
    }
}

/// The name a sortie is reported under (`S-0001`), as the execution engine names it.
pub fn sortie_name(id: u32) -> String {
    format!("S-{id:04}")
}
