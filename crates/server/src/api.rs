//! The REST API under `/api/v1`: JSON in and out, errors as problem details,
//! every route authenticated and authorised through [`crate::auth`].

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{Stream, StreamExt};
use sallyport_core::{Person, PersonId};
use serde::{Deserialize, Serialize};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use utoipa::{IntoParams, ToSchema};

use crate::auth::PrincipalView;
use crate::ingest::{self, SyncAck, SyncBatch, TimelineEntry};
use crate::live::LiveEvent;
use crate::operation::{self, Operation};
use crate::policy::{self, AccessData, Identity};
use crate::problem::{ApiError, Problem};
use crate::readmodel::{self, AlertView, DayProgress, Overview, Schedule, SiteView};
use crate::sitrep::{self, Sitrep};
use crate::state::AppState;
use crate::threat::ThreatPicture;
use sallyport_access::{Action, Label, MarkedRecord, Redacted};

/// A JSON body whose rejections (malformed JSON, wrong type, too large) are problems.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// The authenticated caller (bearer token or dashboard session), rate-limited per caller.
pub struct Caller(pub Arc<Identity>);

impl<S> FromRequestParts<S> for Caller
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let state = AppState::from_ref(state);
        let who = state.auth().authenticate(&parts.headers)?;
        state.check_rate(&who.subject)?;
        Ok(Caller(who))
    }
}

impl Caller {
    /// Cedar: may the caller read the operation picture's `view`?
    pub async fn may_read_picture(&self, state: &AppState, view: &str) -> Result<(), ApiError> {
        may_read_picture(state, &self.0, view).await
    }
    /// Cedar: may the caller do `action` on people's records at all?
    pub fn may_people(&self, state: &AppState, action: &Action) -> Result<(), ApiError> {
        state.policy().people_at_all(&self.0, action)
    }
}

/// Cedar: may `who` read the operation picture's `view` (its label is [`picture_label`])?
pub async fn may_read_picture(
    state: &AppState,
    who: &Identity,
    view: &str,
) -> Result<(), ApiError> {
    let label = picture_label(state).await?;
    state.policy().read_picture(who, view, &label)
}

/// The label of the operation-wide picture, from the stored agencies.
pub async fn picture_label(state: &AppState) -> Result<Arc<Label>, ApiError> {
    typed(state, "picture-label", async || {
        Ok(policy::picture_label(&state.store().agencies().await?))
    })
    .await
}

fn json_bytes(b: Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        b,
    )
        .into_response()
}

/// Serve `key` from the read cache, computing it with `f` on a miss.
async fn cached<T, F>(state: &AppState, key: &str, f: F) -> Result<Response, ApiError>
where
    T: Serialize,
    F: AsyncFnOnce() -> Result<T, ApiError>,
{
    if let Some(b) = state.cache().get(key, state.config().cache_ttl) {
        state.metrics().cache_hits.inc();
        return Ok(json_bytes(b));
    }
    let _flight = state.cache().flight(key).await;
    if let Some(b) = state.cache().get(key, state.config().cache_ttl) {
        state.metrics().cache_hits.inc();
        return Ok(json_bytes(b));
    }
    state.metrics().cache_misses.inc();
    let generation = state.cache().generation();
    let v = f().await?;
    let b = Bytes::from(serde_json::to_vec(&v).map_err(ApiError::internal)?);
    state.cache().put(key, generation, b.clone());
    Ok(json_bytes(b))
}

/// A typed read model from the cache, computed once per generation (single flight per key).
pub async fn typed<T, F>(state: &AppState, key: &str, f: F) -> Result<Arc<T>, ApiError>
where
    T: Send + Sync + 'static,
    F: AsyncFnOnce() -> Result<T, ApiError>,
{
    let ttl = state.config().cache_ttl;
    if let Some(v) = state.cache().get_typed::<T>(key, ttl) {
        return Ok(v);
    }
    let flight_key = format!("typed:{key}");
    let _flight = state.cache().flight(&flight_key).await;
    if let Some(v) = state.cache().get_typed::<T>(key, ttl) {
        return Ok(v);
    }
    let generation = state.cache().generation();
    let v = Arc::new(f().await?);
    state.cache().put_typed(key, generation, v.clone());
    Ok(v)
}

/// Everyone on record, as stored and as marked records for the policy.
pub struct PeopleIndex {
    pub people: Vec<Person>,
    /// `marked[i]` is `people[i]` with its labels.
    pub marked: Vec<MarkedRecord>,
    pub by_id: std::collections::HashMap<String, usize>,
    /// Distinct whole-record labels (marking classes): (label, legal hold).
    pub classes: Vec<(Label, bool)>,
    /// `class_of[i]` indexes `classes` for `people[i]`.
    pub class_of: Vec<usize>,
    pub access: AccessData,
}

/// The people index, from the cache when fresh.
pub async fn people_index(state: &AppState) -> Result<Arc<PeopleIndex>, ApiError> {
    typed(state, "people-index", async || {
        let people = state.store().people().await?;
        let access = AccessData::load(state.store(), &people, state.policy().overrides()).await?;
        let marked = access.marked(&people);
        let mut classes: Vec<(Label, bool)> = Vec::new();
        let mut class_ix: std::collections::HashMap<(Label, bool), usize> = Default::default();
        let class_of = marked
            .iter()
            .map(|r| {
                let k = (r.label.clone(), r.legal_hold);
                *class_ix.entry(k.clone()).or_insert_with(|| {
                    classes.push(k);
                    classes.len() - 1
                })
            })
            .collect();
        let by_id = people
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.to_string(), i))
            .collect();
        Ok(PeopleIndex {
            people,
            marked,
            by_id,
            classes,
            class_of,
            access,
        })
    })
    .await
}

/// Which marking classes of people `who` may see (Cedar, through the memo).
pub async fn visibility(
    state: &AppState,
    who: &Identity,
) -> Result<(Arc<PeopleIndex>, Vec<bool>), ApiError> {
    let index = people_index(state).await?;
    let mut f = state.policy().filter(who);
    let visible = index
        .classes
        .iter()
        .map(|(l, hold)| f.label_visible(l, *hold))
        .collect();
    Ok((index, visible))
}

fn bits(v: &[bool]) -> String {
    v.iter().map(|b| if *b { '1' } else { '0' }).collect()
}

/// The overview for `who` (counts only the people they may see), from the cache when fresh.
pub async fn overview_model(state: &AppState, who: &Identity) -> Result<Arc<Overview>, ApiError> {
    let (index, visible) = visibility(state, who).await?;
    let key = format!("overview|{}", bits(&visible));
    typed(state, &key, async || {
        let base = typed(state, "overview-base", async || {
            let threat = threat_picture(state).await?;
            let op = operation_model(state).await?;
            readmodel::overview_base(
                state.store(),
                &index,
                &state.recent(),
                &threat,
                op.as_ref().as_ref(),
            )
            .await
        })
        .await?;
        Ok(readmodel::overview(&base, &visible))
    })
    .await
}

/// Per-day progress for `who`.
pub async fn progress_model(
    state: &AppState,
    who: &Identity,
) -> Result<Arc<Vec<DayProgress>>, ApiError> {
    let (index, visible) = visibility(state, who).await?;
    let key = format!("progress|{}", bits(&visible));
    typed(state, &key, async || {
        let base = typed(state, "progress-base", async || {
            let plans = state.plans().load(state.store()).await?;
            let op = operation_model(state).await?;
            readmodel::progress_base(state.store(), &index, &plans, op.as_ref().as_ref()).await
        })
        .await?;
        Ok(readmodel::progress(base.as_ref().as_ref(), &visible))
    })
    .await
}

/// The recorded operation run, from the cache when fresh.
pub async fn operation_model(state: &AppState) -> Result<Arc<Option<Operation>>, ApiError> {
    typed(state, "operation", async || {
        operation::load(state.store()).await
    })
    .await
}

/// The operation clock: the end of the latest recorded operation day, else the wall clock.
pub async fn clock(state: &AppState) -> Result<(chrono::DateTime<chrono::Utc>, String), ApiError> {
    Ok(operation::clock(
        operation_model(state).await?.as_ref().as_ref(),
    ))
}

/// The running operation: its run and every recorded day's report.
#[utoipa::path(get, path = "/api/v1/operation", tag = "picture",
    responses((status = 200, body = Option<Operation>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn operation(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.may_read_picture(&state, "operation").await?;
    cached(&state, "operation-json", async || {
        Ok(operation_model(&state).await?.as_ref().clone())
    })
    .await
}

/// Threat per site for the operation clock (threat watch over stored events).
pub async fn threat_picture(state: &AppState) -> Result<Arc<ThreatPicture>, ApiError> {
    let start = state
        .store()
        .scenario()
        .await?
        .map(|s| s.operation.start.date_naive());
    let (now, _) = clock(state).await?;
    state
        .threat()
        .picture(state.store(), start, now, state.config().threat_replay_from)
        .await
}

/// The schedule for `who` (delivered counts only the people they may see).
pub async fn schedule_model(state: &AppState, who: &Identity) -> Result<Arc<Schedule>, ApiError> {
    let (_, visible) = visibility(state, who).await?;
    typed(state, &format!("schedule|{}", bits(&visible)), async || {
        let (now, clock) = clock(state).await?;
        let Some(sc) = state.store().scenario().await? else {
            return Ok(Schedule {
                now,
                clock,
                plan: None,
                baseline: None,
                basis: "no operation loaded".into(),
                start: None,
                end: None,
                aircraft: Vec::new(),
                origins: Vec::new(),
                sorties_landed: 0,
                sorties_airborne: 0,
                sorties_scheduled: 0,
                planned_delivered_by_now: 0,
                delivered: 0,
            });
        };
        let ov = overview_model(state, who).await?;
        let plans = state.plans().load(state.store()).await?;
        let types = state
            .store()
            .aircraft()
            .await?
            .into_iter()
            .map(|a| (a.tail.to_string(), a.type_id.to_string()))
            .collect();
        Ok(readmodel::schedule(&sc, &ov, &plans, now, &clock, &types))
    })
    .await
}

/// The whole picture: totals, sites with headcounts and threat, custody per site and custodian, alerts (counts include only the people the caller may see).
#[utoipa::path(get, path = "/api/v1/overview", tag = "picture",
    responses((status = 200, body = Overview), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 429, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn overview(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.may_read_picture(&state, "overview").await?;
    let (_, visible) = visibility(&state, &caller.0).await?;
    cached(
        &state,
        &format!("overview-json|{}", bits(&visible)),
        async || overview_model(&state, &caller.0).await,
    )
    .await
}

/// Every site with its headcount.
#[utoipa::path(get, path = "/api/v1/sites", tag = "picture",
    responses((status = 200, body = Vec<SiteView>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn sites(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.may_read_picture(&state, "sites").await?;
    let (_, visible) = visibility(&state, &caller.0).await?;
    cached(
        &state,
        &format!("sites-json|{}", bits(&visible)),
        async || Ok(overview_model(&state, &caller.0).await?.sites.clone()),
    )
    .await
}

/// One site.
#[utoipa::path(get, path = "/api/v1/sites/{id}", tag = "picture",
    params(("id" = String, Path, description = "Site id")),
    responses((status = 200, body = SiteView), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn site(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<SiteView>, ApiError> {
    caller.may_read_picture(&state, "sites").await?;
    let ov = overview_model(&state, &caller.0).await?;
    ov.sites
        .iter()
        .find(|s| s.id == id)
        .cloned()
        .map(ApiJson)
        .ok_or_else(|| ApiError::not_found(format!("no site {id:?}")))
}

/// One person's identity, as far as the caller may see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IdentityView {
    pub name_latin: String,
    pub name_ar: String,
    /// Aliases, Latin transliteration.
    pub aliases: Vec<String>,
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub date_of_birth: String,
    pub sex: String,
    pub nationality: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MedicalView {
    pub fit_to_fly: bool,
    pub escort: String,
}

/// An intelligence note (synthetic text only), with its portion marking.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NoteView {
    pub marking: String,
    pub originator: String,
    pub text: String,
}

/// A person as the caller may see them: the custody fields always (a person
/// whose custody label the caller may not read is not shown at all); each
/// other field group only when the policy allows it. Withheld groups are
/// absent; withheld intelligence notes are left out without a trace.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PersonView {
    pub id: String,
    pub custodian: String,
    pub site: String,
    pub category: String,
    pub legal_status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medical: Option<MedicalView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separation_groups: Option<Vec<String>>,
    pub intel_notes: Vec<NoteView>,
    /// Portion marks of what is shown, by JSON pointer (`""` is the record).
    pub markings: std::collections::BTreeMap<String, String>,
}

impl PersonView {
    /// From the access crate's redaction of a marked person.
    pub fn from_redacted(r: &Redacted) -> Result<PersonView, ApiError> {
        let v = &r.value;
        let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let need = |k: &str| {
            text(k).ok_or_else(|| ApiError::internal(format!("redacted person {} lacks {k}", r.id)))
        };
        let identity = match v.get("identity") {
            Some(i) => {
                let i: sallyport_core::Identity =
                    serde_json::from_value(i.clone()).map_err(ApiError::internal)?;
                Some(IdentityView {
                    name_latin: i.name_latin,
                    name_ar: i.name_ar,
                    aliases: i.aliases.into_iter().map(|a| a.name_latin).collect(),
                    date_of_birth: i.date_of_birth.to_string(),
                    sex: i.sex.as_str().into(),
                    nationality: i.nationality.to_string(),
                })
            }
            None => None,
        };
        let medical = match v.get("medical") {
            Some(m) => {
                let m: sallyport_core::Medical =
                    serde_json::from_value(m.clone()).map_err(ApiError::internal)?;
                Some(MedicalView {
                    fit_to_fly: m.fit_to_fly,
                    escort: m.escort.as_str().into(),
                })
            }
            None => None,
        };
        let separation_groups = v.get("separation_groups").map(|g| {
            g.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        });
        let intel_notes = v
            .get("intel_notes")
            .and_then(|n| n.as_array())
            .map(|a| {
                a.iter()
                    .map(|n| NoteView {
                        marking: n["marking"].as_str().unwrap_or_default().into(),
                        originator: n["originator"].as_str().unwrap_or_default().into(),
                        text: n["text"].as_str().unwrap_or_default().into(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(PersonView {
            id: need("id")?,
            custodian: need("custodian")?,
            site: need("site")?,
            category: need("category")?,
            legal_status: need("legal_status")?,
            identity,
            medical,
            risk: text("risk"),
            separation_groups,
            intel_notes,
            markings: r.markings.clone(),
        })
    }

    /// The name to show: the Latin name, or a withheld mark.
    pub fn display_name(&self) -> &str {
        self.identity
            .as_ref()
            .map_or("(identity withheld)", |i| i.name_latin.as_str())
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PeopleQuery {
    /// Only people at this site.
    pub site: Option<String>,
    /// Page size (1..=500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    #[param(minimum = 0)]
    pub offset: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PeoplePage {
    /// People matching the filter that the caller may see, in all pages.
    pub total: u64,
    pub items: Vec<PersonView>,
}

/// The people `who` may see (optionally at one site), redacted, paged.
pub async fn people_page(
    state: &AppState,
    who: &Identity,
    site: Option<&str>,
    offset: usize,
    limit: usize,
) -> Result<PeoplePage, ApiError> {
    let index = people_index(state).await?;
    let mut f = state.policy().filter(who);
    let matching: Vec<&MarkedRecord> = index
        .marked
        .iter()
        .zip(&index.people)
        .filter(|(_, p)| site.is_none_or(|s| p.site.as_str() == s))
        .map(|(r, _)| r)
        .filter(|r| f.visible(r))
        .collect();
    let mut items = Vec::with_capacity(limit.min(matching.len()));
    for r in matching.iter().skip(offset).take(limit) {
        if let Some(red) = f.redact(r) {
            items.push(PersonView::from_redacted(&red)?);
        }
    }
    Ok(PeoplePage {
        total: matching.len() as u64,
        items,
    })
}

/// People in custody that the caller may see, paged and field-redacted.
#[utoipa::path(get, path = "/api/v1/people", tag = "people", params(PeopleQuery),
    responses((status = 200, body = PeoplePage), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn people(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<PeopleQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    caller.may_people(&state, &Action::Read)?;
    let Query(q) = q?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be within 1..=500, got {limit}"
        )));
    }
    let offset = q.offset.unwrap_or(0) as usize;
    // Cached per principal (equal attributes get equal decisions).
    let key = format!("people|{:x}|{:?}&{limit}&{offset}", caller.0.key, q.site);
    let who = caller.0.clone();
    cached(&state, &key, async || {
        people_page(&state, &who, q.site.as_deref(), offset, limit as usize).await
    })
    .await
}

/// Everything the caller may see of everyone, field-redacted, as one JSON document.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PeopleExport {
    pub generated_at: chrono::DateTime<chrono::Utc>,
    /// Who the export was made for.
    pub subject: String,
    pub agency: String,
    /// People in the export (only those the caller may see).
    pub total: u64,
    pub items: Vec<PersonView>,
}

/// Export the people the caller may see, field-redacted (JSON download).
#[utoipa::path(get, path = "/api/v1/export/people", tag = "people",
    responses((status = 200, body = PeopleExport), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn export_people(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.may_people(&state, &Action::Read)?;
    let page = people_page(&state, &caller.0, None, 0, usize::MAX).await?;
    audit_read(&caller.0, "export", page.items.len());
    let doc = PeopleExport {
        generated_at: chrono::Utc::now(),
        subject: caller.0.subject.clone(),
        agency: caller.0.principal.agency.clone(),
        total: page.total,
        items: page.items,
    };
    let body = serde_json::to_vec(&doc).map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"people-{}.json\"",
                    chrono::Utc::now().date_naive()
                ),
            ),
        ],
        body,
    )
        .into_response())
}

/// SEAM for the access crate's audit log (not in `sallyport-access` yet):
/// every read of people's data is logged as a structured `sallyport::audit`
/// event with who read what.
pub fn audit_read(who: &Identity, what: &str, people: usize) {
    tracing::info!(
        target: "sallyport::audit",
        subject = %who.subject,
        agency = %who.principal.agency,
        roles = %policy::roles(&who.principal),
        action = "read",
        what,
        people,
        "people's data read"
    );
}

/// Biometric enrolment as far as the server knows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EnrolmentView {
    /// `enrolled`, `not_enrolled` or `unknown` (no biometric record store connected).
    pub status: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PersonDetail {
    pub person: PersonView,
    pub timeline: Vec<TimelineEntry>,
    pub biometrics: EnrolmentView,
}

/// Assemble a person's page data as `who` may see it. A person the caller
/// may not see is answered exactly like one that does not exist (404).
pub async fn person_model(
    state: &AppState,
    who: &Identity,
    id: &str,
) -> Result<PersonDetail, ApiError> {
    PersonId::new(id).map_err(|e| ApiError::bad_request(format!("person id: {}", e.rule)))?;
    let index = people_index(state).await?;
    let missing = || ApiError::not_found(format!("no person {id:?}"));
    let &i = index.by_id.get(id).ok_or_else(missing)?;
    let red = state
        .policy()
        .filter(who)
        .redact(&index.marked[i])
        .ok_or_else(missing)?;
    audit_read(who, id, 1);
    Ok(PersonDetail {
        person: PersonView::from_redacted(&red)?,
        timeline: ingest::timeline(state.store(), id).await?,
        biometrics: EnrolmentView {
            status: "unknown".into(),
            detail: "biometric enrolment records are not connected to this server yet".into(),
        },
    })
}

/// One person: identity, custody timeline, biometric enrolment — the fields the caller may see.
#[utoipa::path(get, path = "/api/v1/people/{id}", tag = "people",
    params(("id" = String, Path, description = "Person id, e.g. P-000001")),
    responses((status = 200, body = PersonDetail), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn person(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<PersonDetail>, ApiError> {
    caller.may_people(&state, &Action::Read)?;
    Ok(ApiJson(person_model(&state, &caller.0, &id).await?))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AircraftTypeView {
    pub id: String,
    pub name: String,
    pub seats: u32,
    pub cruise_kmh: u32,
    pub range_km: u32,
    pub night_capable: bool,
    pub needs_runway: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AircraftView {
    pub tail: String,
    #[serde(rename = "type")]
    pub type_id: String,
    pub base: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FleetView {
    pub types: Vec<AircraftTypeView>,
    pub aircraft: Vec<AircraftView>,
}

/// Aircraft types and airframes.
#[utoipa::path(get, path = "/api/v1/fleet", tag = "picture",
    responses((status = 200, body = FleetView), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn fleet(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.may_read_picture(&state, "fleet").await?;
    cached(&state, "fleet", async || {
        let types = state.store().aircraft_types().await?;
        let aircraft = state.store().aircraft().await?;
        Ok(FleetView {
            types: types
                .into_iter()
                .map(|t| AircraftTypeView {
                    id: t.id.to_string(),
                    name: t.name,
                    seats: t.seats,
                    cruise_kmh: t.cruise_kmh,
                    range_km: t.range_km,
                    night_capable: t.night_capable,
                    needs_runway: t.needs_runway,
                })
                .collect(),
            aircraft: aircraft
                .into_iter()
                .map(|a| AircraftView {
                    tail: a.tail.to_string(),
                    type_id: a.type_id.to_string(),
                    base: a.base.to_string(),
                })
                .collect(),
        })
    })
    .await
}

/// The schedule: the latest stored plan's sorties per aircraft with times and status by the operation clock, and every origin's progress against the plan.
#[utoipa::path(get, path = "/api/v1/schedule", tag = "picture",
    responses((status = 200, body = Schedule), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn schedule(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.may_read_picture(&state, "schedule").await?;
    let (_, visible) = visibility(&state, &caller.0).await?;
    cached(
        &state,
        &format!("schedule-json|{}", bits(&visible)),
        async || schedule_model(&state, &caller.0).await,
    )
    .await
}

/// Threat per site from threat watch over the stored conflict events, with the basis and recent level changes.
#[utoipa::path(get, path = "/api/v1/threat", tag = "picture",
    responses((status = 200, body = ThreatPicture), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn threat(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<ApiJson<ThreatPicture>, ApiError> {
    caller.may_read_picture(&state, "threat").await?;
    Ok(ApiJson(threat_picture(&state).await?.as_ref().clone()))
}

/// People delivered per day against the baseline plan.
#[utoipa::path(get, path = "/api/v1/progress", tag = "picture",
    responses((status = 200, body = Vec<DayProgress>), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn progress(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.may_read_picture(&state, "progress").await?;
    let (_, visible) = visibility(&state, &caller.0).await?;
    cached(
        &state,
        &format!("progress-json|{}", bits(&visible)),
        async || progress_model(&state, &caller.0).await,
    )
    .await
}

/// Recent alerts, newest first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "picture",
    responses((status = 200, body = Vec<AlertView>), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn alerts(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<ApiJson<Vec<AlertView>>, ApiError> {
    caller.may_read_picture(&state, "alerts").await?;
    Ok(ApiJson(
        overview_model(&state, &caller.0).await?.alerts.clone(),
    ))
}

fn device_id(device: &str) -> Result<(), ApiError> {
    sallyport_core::SiteId::new(device)
        .map(|_| ())
        .map_err(|e| ApiError::bad_request(format!("device id: {}", e.rule)))
}

/// Submit a batch of custody events from a field device (idempotent per device and seq).
#[utoipa::path(post, path = "/api/v1/devices/{device}/events", tag = "field",
    params(("device" = String, Path, description = "Field device id")),
    request_body = SyncBatch,
    responses((status = 200, body = SyncAck, description = "Committed; safe to forget the events"),
        (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn device_sync(
    State(state): State<AppState>,
    caller: Caller,
    Path(device): Path<String>,
    ApiJson(batch): ApiJson<SyncBatch>,
) -> Result<ApiJson<SyncAck>, ApiError> {
    caller.may_people(&state, &Action::Write)?;
    device_id(&device)?;
    let (ack, moves) = ingest::sync(state.store(), &device, &batch, |agencies, people| {
        may_write_custody(&state, &caller.0, agencies, &batch, people)
    })
    .await?;
    state.metrics().field_events_accepted.inc_by(ack.accepted);
    state
        .metrics()
        .field_events_duplicate
        .inc_by(ack.duplicates);
    if ack.accepted > 0 {
        state.cache().invalidate();
        for (site, custodian, kind, people) in moves {
            state.publish(LiveEvent::Custody {
                site,
                custodian,
                people,
                kind: kind.as_str().into(),
                device: Some(device.clone()),
            });
        }
    }
    Ok(ApiJson(ack))
}

/// Cedar: may `who` write the custody of every person the batch names? A
/// person the caller may not see is reported like an unknown one (422); a
/// visible person whose record the caller may not change is a 403.
///
/// `agencies` and the batch's `people` are as the ingest read them inside its
/// write transaction, so the decision holds at commit; a sync costs O(batch), not
/// O(registry). (The cached people index is no help here: every accepted
/// batch moves people, so it is stale by the next batch, and rebuilding it
/// for all 6,000 people per batch throttled field sync.)
fn may_write_custody(
    state: &AppState,
    who: &Identity,
    agencies: &[sallyport_core::Agency],
    batch: &SyncBatch,
    people: &[sallyport_core::Person],
) -> Result<(), ApiError> {
    let access = AccessData::from_parts(agencies.to_vec(), people, state.policy().overrides());
    let marked = access.marked(people);
    let by_id: std::collections::HashMap<&str, usize> =
        people.iter().enumerate().map(|(i, p)| (p.id.as_str(), i)).collect();
    let mut f = state.policy().filter(who);
    for (i, e) in batch.events.iter().enumerate() {
        let Some(&k) = by_id.get(e.person.as_str()) else {
            continue; // unknown: the ingest names it
        };
        let rec = &marked[k];
        if !f.visible(rec) {
            return Err(ApiError::unprocessable(format!(
                "events[{i}].person: no person {:?}",
                e.person
            )));
        }
        let d = state.policy().decide(
            who,
            &Action::Write,
            &rec.kind,
            "custody",
            &rec.label,
            rec.legal_hold,
        );
        if !d.allowed {
            return Err(policy::denied(
                who,
                &Action::Write,
                &format!("events[{i}].person {}", e.person),
                &d,
            ));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeviceState {
    pub device: String,
    /// Highest sequence number stored; re-send everything above it.
    pub high_water: u64,
}

/// What the server holds from a device.
#[utoipa::path(get, path = "/api/v1/devices/{device}", tag = "field",
    params(("device" = String, Path, description = "Field device id")),
    responses((status = 200, body = DeviceState), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn device_state(
    State(state): State<AppState>,
    caller: Caller,
    Path(device): Path<String>,
) -> Result<ApiJson<DeviceState>, ApiError> {
    caller.may_people(&state, &Action::Write)?;
    device_id(&device)?;
    let high_water = ingest::high_water(state.store(), &device).await?;
    Ok(ApiJson(DeviceState { device, high_water }))
}

/// Live updates as Server-Sent Events (`sortie_progress`, `custody`, `alert`, `refresh`).
#[utoipa::path(get, path = "/api/v1/live", tag = "picture",
    responses((status = 200, content_type = "text/event-stream", body = LiveEvent, description = "One JSON `LiveEvent` per SSE message"), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn live(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    caller.may_read_picture(&state, "live").await?;
    let guard = SseGuard::new(state.clone());
    let hello =
        futures_util::stream::once(async { Ok(Event::default().event("hello").data("{}")) });
    let events = BroadcastStream::new(state.bus().subscribe()).map(move |m| {
        let _keep = &guard;
        Ok(match m {
            Ok(ev) => Event::default()
                .event(ev.name())
                .json_data(&ev)
                .unwrap_or_else(|_| Event::default().event("refresh").data("{}")),
            Err(BroadcastStreamRecvError::Lagged(_)) => Event::default()
                .event("refresh")
                .data("{\"type\":\"refresh\",\"what\":\"lagged\"}"),
        })
    });
    let events = events.take_until(state.shutting_down());
    Ok(
        Sse::new(hello.chain(events))
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(15))),
    )
}

struct SseGuard(AppState);
impl SseGuard {
    fn new(s: AppState) -> Self {
        s.metrics().sse_clients.inc();
        SseGuard(s)
    }
}
impl Drop for SseGuard {
    fn drop(&mut self) {
        self.0.metrics().sse_clients.dec();
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SitrepQuery {
    /// The day (UTC), `YYYY-MM-DD`; default today.
    #[param(value_type = Option<String>, format = Date)]
    pub date: Option<chrono::NaiveDate>,
}

/// The daily situation report as data.
#[utoipa::path(get, path = "/api/v1/sitrep", tag = "picture", params(SitrepQuery),
    responses((status = 200, body = Sitrep), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn sitrep_json(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<SitrepQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<ApiJson<Sitrep>, ApiError> {
    caller.may_read_picture(&state, "sitrep").await?;
    let Query(q) = q?;
    Ok(ApiJson(sitrep::build(&state, &caller.0, q.date).await?))
}

/// The daily situation report as a PDF.
#[utoipa::path(get, path = "/api/v1/sitrep.pdf", tag = "picture", params(SitrepQuery),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn sitrep_pdf(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<SitrepQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    caller.may_read_picture(&state, "sitrep").await?;
    let Query(q) = q?;
    let rep = sitrep::build(&state, &caller.0, q.date).await?;
    let pdf = tokio::task::spawn_blocking(move || sitrep::pdf(&rep))
        .await
        .map_err(ApiError::internal)??;
    let name = format!(
        "attachment; filename=\"sitrep-{}.pdf\"",
        chrono::Utc::now().date_naive()
    );
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        pdf,
    )
        .into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(max_length = 200)]
    pub username: String,
    #[schema(max_length = 200)]
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub principal: PrincipalView,
    pub expires_in_s: u64,
}

/// Log in with a username and password; returns a bearer token.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = LoginRequest,
    responses((status = 200, body = SessionView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<ApiJson<SessionView>, ApiError> {
    state.check_rate(&format!("login:{}", req.username))?;
    let (token, who) = state.auth().login(&req.username, &req.password)?;
    Ok(ApiJson(SessionView {
        token,
        principal: PrincipalView::from(who.as_ref()),
        expires_in_s: crate::auth::SESSION_TTL.as_secs(),
    }))
}

/// Who am I?
#[utoipa::path(get, path = "/api/v1/session", tag = "session",
    responses((status = 200, body = PrincipalView), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn whoami(caller: Caller) -> ApiJson<PrincipalView> {
    ApiJson(PrincipalView::from(caller.0.as_ref()))
}
