//! Reconciliation: each person's custody state derived from the events,
//! headcounts, and discrepancy records.
//!
//! Events are replayed in claimed-time order (ties by log index). A
//! correction supersedes the event it names (its `replacement`, if any, takes
//! the original's place) and resolves the discrepancies it lists; nothing is
//! removed from the log. Discrepancy ids are derived from what they are about
//! (kind, person, events), so the same log always yields the same ids and a
//! correction can name them.
//!
//! Invariant (checked by [`Reconciliation::check_invariant`]): every person
//! not released or dead has exactly one current custodian and one location,
//! or an open discrepancy naming them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sallyport_core::{AgencyId, PersonId, SiteId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::LedgerError;
use crate::event::{CustodyEvent, EventKind, EventRef};
use crate::ids::DeviceId;

/// An opened event at its place in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    pub index: u64,
    pub device: DeviceId,
    pub seq: u64,
    pub event: CustodyEvent,
}

impl LoggedEvent {
    pub fn event_ref(&self) -> EventRef {
        EventRef {
            device: self.device.clone(),
            seq: self.seq,
        }
    }
}

/// A device-level problem found at ingest (rollback or fork).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceIncident {
    pub device: DeviceId,
    pub kind: String,
    pub detail: String,
    pub at_size: u64,
}

impl DeviceIncident {
    pub fn from_error(e: &LedgerError, at_size: u64) -> Option<Self> {
        let (device, kind) = match e {
            LedgerError::Rollback { device, .. } => (device, "device_rollback"),
            LedgerError::Fork { device, .. } => (device, "device_fork"),
            _ => return None,
        };
        Some(DeviceIncident {
            device: DeviceId::new(device.clone()).ok()?,
            kind: kind.into(),
            detail: e.to_string(),
            at_size,
        })
    }
}

/// The people a sortie was planned to carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub sortie: String,
    pub people: Vec<PersonId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    Site(SiteId),
    InTransit(String),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Site(s) => write!(f, "{s}"),
            Location::InTransit(s) => write!(f, "in transit on {s}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    InCustody,
    Released,
    Dead,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustodyState {
    pub person: PersonId,
    pub status: Status,
    pub custodian: Option<AgencyId>,
    pub location: Option<Location>,
    /// The event that last changed custodian or location.
    pub last_event: Option<EventRef>,
    pub last_time_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscrepancyKind {
    /// Claimed at two places (or moved without a recorded transfer).
    TwoPlaces,
    /// A hand-over or intake names a different custodian than the current one.
    ConflictingCustodian,
    /// A custody event for someone never taken into custody.
    NoCustody,
    BoardedNeverArrived,
    ManifestedNeverBoarded,
    BoardedNotOnManifest,
    /// 1:1 verification below threshold.
    IdentityMismatch,
    /// A custody event after release or death.
    AfterRelease,
    DeviceRollback,
    DeviceFork,
    /// A resolution left the person without custodian or location.
    UnknownCustody,
}

impl DiscrepancyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TwoPlaces => "two_places",
            Self::ConflictingCustodian => "conflicting_custodian",
            Self::NoCustody => "no_custody",
            Self::BoardedNeverArrived => "boarded_never_arrived",
            Self::ManifestedNeverBoarded => "manifested_never_boarded",
            Self::BoardedNotOnManifest => "boarded_not_on_manifest",
            Self::IdentityMismatch => "identity_mismatch",
            Self::AfterRelease => "after_release",
            Self::DeviceRollback => "device_rollback",
            Self::DeviceFork => "device_fork",
            Self::UnknownCustody => "unknown_custody",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discrepancy {
    pub id: String,
    pub kind: DiscrepancyKind,
    pub person: Option<PersonId>,
    pub device: Option<DeviceId>,
    pub sortie: Option<String>,
    pub detail: String,
    pub events: Vec<EventRef>,
    /// The correction that resolved it; `None` = open.
    pub resolved_by: Option<EventRef>,
}

impl Discrepancy {
    pub fn is_open(&self) -> bool {
        self.resolved_by.is_none()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SortieCount {
    pub manifested: u64,
    pub boarded: u64,
    pub arrived: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headcounts {
    /// People currently held at each site.
    pub per_site: BTreeMap<String, u64>,
    /// People currently in transit, per sortie.
    pub in_transit: BTreeMap<String, u64>,
    pub per_sortie: BTreeMap<String, SortieCount>,
    /// Per UTC day (YYYY-MM-DD) of claimed time: event kind → count.
    pub per_day: BTreeMap<String, BTreeMap<String, u64>>,
    pub released: u64,
    pub dead: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation {
    pub people: BTreeMap<PersonId, CustodyState>,
    pub discrepancies: Vec<Discrepancy>,
    pub headcounts: Headcounts,
}

fn disc_id(kind: DiscrepancyKind, subject: &str, events: &[EventRef]) -> String {
    let mut h = Sha256::new();
    h.update(kind.as_str());
    h.update([0]);
    h.update(subject);
    for e in events {
        h.update([0]);
        h.update(e.to_string());
    }
    let d = h.finalize();
    format!("D-{}", hex::encode(&d[..6]))
}

struct Builder {
    discs: Vec<Discrepancy>,
    seen: HashSet<String>,
}

impl Builder {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        kind: DiscrepancyKind,
        person: Option<&PersonId>,
        device: Option<&DeviceId>,
        sortie: Option<&str>,
        events: Vec<EventRef>,
        detail: String,
    ) {
        let subject = format!(
            "{}|{}|{}",
            person.map(|p| p.as_str()).unwrap_or(""),
            device.map(|d| d.as_str()).unwrap_or(""),
            sortie.unwrap_or("")
        );
        let id = disc_id(kind, &subject, &events);
        if self.seen.insert(id.clone()) {
            self.discs.push(Discrepancy {
                id,
                kind,
                person: person.cloned(),
                device: device.cloned(),
                sortie: sortie.map(str::to_string),
                detail,
                events,
                resolved_by: None,
            });
        }
    }
}

fn day_of(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "invalid-date".into())
}

/// Derive custody state, headcounts and discrepancies from the log.
pub fn reconcile(
    events: &[LoggedEvent],
    manifests: &[Manifest],
    incidents: &[DeviceIncident],
) -> Reconciliation {
    // Corrections: what is superseded, what replaces it, what is resolved.
    let mut superseded: HashMap<EventRef, Option<EventKind>> = HashMap::new();
    let mut resolutions: BTreeMap<String, EventRef> = BTreeMap::new();
    let by_ref: HashMap<EventRef, &LoggedEvent> =
        events.iter().map(|e| (e.event_ref(), e)).collect();
    let mut replacements_for_missing: Vec<(EventRef, &LoggedEvent, EventKind)> = Vec::new();
    for e in events {
        if let EventKind::Correction {
            corrects,
            resolves,
            replacement,
            ..
        } = &e.event.kind
        {
            for id in resolves {
                resolutions
                    .entry(id.clone())
                    .or_insert_with(|| e.event_ref());
            }
            match corrects {
                Some(r) if by_ref.contains_key(r) => {
                    superseded.insert(r.clone(), replacement.as_deref().cloned());
                }
                _ => {
                    if let Some(k) = replacement {
                        replacements_for_missing.push((e.event_ref(), e, (**k).clone()));
                    }
                }
            }
        }
    }
    // The raw stream (as recorded) and the effective one (corrections applied).
    let mut raw: Vec<(i64, u64, EventRef, &PersonId, EventKind)> = Vec::new();
    let mut stream: Vec<(i64, u64, EventRef, &PersonId, EventKind)> = Vec::new();
    for e in events {
        let r = e.event_ref();
        if !matches!(e.event.kind, EventKind::Correction { .. }) {
            raw.push((
                e.event.claimed_time_ms,
                e.index,
                r.clone(),
                &e.event.person,
                e.event.kind.clone(),
            ));
        }
        match superseded.get(&r) {
            Some(Some(k)) => stream.push((
                e.event.claimed_time_ms,
                e.index,
                r,
                &e.event.person,
                k.clone(),
            )),
            Some(None) => {}
            None => {
                if !matches!(e.event.kind, EventKind::Correction { .. }) {
                    stream.push((
                        e.event.claimed_time_ms,
                        e.index,
                        r,
                        &e.event.person,
                        e.event.kind.clone(),
                    ));
                }
            }
        }
    }
    for (r, e, k) in replacements_for_missing {
        stream.push((e.event.claimed_time_ms, e.index, r, &e.event.person, k));
    }
    stream.sort_by_key(|a| (a.0, a.1));
    raw.sort_by_key(|a| (a.0, a.1));
    // Discrepancies seen in the raw history stay listed (open until a
    // correction names them) even if the corrected replay no longer shows them.
    let raw_pass = replay(&raw, manifests);
    let mut out = replay(&stream, manifests);
    let mut b = Builder {
        discs: raw_pass.discs,
        seen: raw_pass.seen,
    };
    for d in out.discs.drain(..) {
        if b.seen.insert(d.id.clone()) {
            b.discs.push(d);
        }
    }
    let Pass { people, mut hc, .. } = out;
    for inc in incidents {
        let kind = if inc.kind == "device_fork" {
            DiscrepancyKind::DeviceFork
        } else {
            DiscrepancyKind::DeviceRollback
        };
        b.add(
            kind,
            None,
            Some(&inc.device),
            None,
            vec![],
            inc.detail.clone(),
        );
    }
    for d in &mut b.discs {
        d.resolved_by = resolutions.get(&d.id).cloned();
    }
    // Guarantee the invariant: a person left without custodian or location and
    // no open discrepancy gets one.
    let open_people: HashSet<PersonId> = b
        .discs
        .iter()
        .filter(|d| d.is_open())
        .filter_map(|d| d.person.clone())
        .collect();
    let mut extra = Vec::new();
    for st in people.values() {
        if st.status == Status::InCustody
            && (st.custodian.is_none() || st.location.is_none())
            && !open_people.contains(&st.person)
        {
            extra.push(st.clone());
        }
    }
    for st in extra {
        b.add(
            DiscrepancyKind::UnknownCustody,
            Some(&st.person),
            None,
            None,
            st.last_event.iter().cloned().collect(),
            format!("{} has no known custodian or location", st.person),
        );
        for d in b.discs.iter_mut() {
            if d.kind == DiscrepancyKind::UnknownCustody && d.person.as_ref() == Some(&st.person) {
                d.resolved_by = None;
            }
        }
    }

    for st in people.values() {
        match (st.status, &st.location) {
            (Status::Released, _) => hc.released += 1,
            (Status::Dead, _) => hc.dead += 1,
            (Status::InCustody, Some(Location::Site(s))) => {
                *hc.per_site.entry(s.to_string()).or_default() += 1
            }
            (Status::InCustody, Some(Location::InTransit(s))) => {
                *hc.in_transit.entry(s.clone()).or_default() += 1
            }
            (Status::InCustody, None) => {}
        }
    }
    Reconciliation {
        people,
        discrepancies: b.discs,
        headcounts: hc,
    }
}

impl Reconciliation {
    pub fn open(&self) -> impl Iterator<Item = &Discrepancy> {
        self.discrepancies.iter().filter(|d| d.is_open())
    }

    /// Every person in custody has one custodian and one location, or an open discrepancy.
    pub fn check_invariant(&self) -> Result<(), String> {
        let open: HashSet<&PersonId> = self.open().filter_map(|d| d.person.as_ref()).collect();
        for st in self.people.values() {
            if st.status == Status::InCustody
                && (st.custodian.is_none() || st.location.is_none())
                && !open.contains(&st.person)
            {
                return Err(format!(
                    "{} has no custodian/location and no open discrepancy",
                    st.person
                ));
            }
        }
        Ok(())
    }
}

struct Pass {
    people: BTreeMap<PersonId, CustodyState>,
    discs: Vec<Discrepancy>,
    seen: HashSet<String>,
    hc: Headcounts,
}

type Step<'a> = (i64, u64, EventRef, &'a PersonId, EventKind);

fn replay(stream: &[Step<'_>], manifests: &[Manifest]) -> Pass {
    let mut b = Builder {
        discs: vec![],
        seen: HashSet::new(),
    };
    let mut people: BTreeMap<PersonId, CustodyState> = BTreeMap::new();
    let mut boarded: BTreeMap<String, BTreeSet<PersonId>> = BTreeMap::new();
    let mut arrived: BTreeMap<String, BTreeSet<PersonId>> = BTreeMap::new();
    let mut departed: BTreeSet<String> = BTreeSet::new();
    let mut board_ref: HashMap<(PersonId, String), EventRef> = HashMap::new();
    let mut hc = Headcounts::default();

    for (t, _, r, person, kind) in stream {
        *hc.per_day
            .entry(day_of(*t))
            .or_default()
            .entry(kind.name().to_string())
            .or_default() += 1;
        let st = people
            .entry((*person).clone())
            .or_insert_with(|| CustodyState {
                person: (*person).clone(),
                status: Status::InCustody,
                custodian: None,
                location: None,
                last_event: None,
                last_time_ms: *t,
            });
        let prev = st.last_event.clone();
        let both = |r: &EventRef| prev.iter().cloned().chain([r.clone()]).collect::<Vec<_>>();
        let moves_custody = !matches!(
            kind,
            EventKind::Enrolled { .. }
                | EventKind::IdentityVerified { .. }
                | EventKind::Medical { .. }
                | EventKind::Incident { .. }
                | EventKind::Correction { .. }
        );
        if st.status != Status::InCustody && moves_custody {
            b.add(
                DiscrepancyKind::AfterRelease,
                Some(person),
                None,
                None,
                both(r),
                format!(
                    "{} recorded for {person} after {:?}",
                    kind.name(),
                    st.status
                ),
            );
        }
        let expect_site = |st: &CustodyState, site: &SiteId, b: &mut Builder| {
            if let Some(loc) = &st.location
                && *loc != Location::Site(site.clone())
            {
                b.add(
                    DiscrepancyKind::TwoPlaces,
                    Some(person),
                    None,
                    None,
                    both(r),
                    format!(
                        "{person} is {loc} (per {}) but {r} places them at {site}",
                        prev.as_ref().map(|p| p.to_string()).unwrap_or_default()
                    ),
                );
            }
        };
        let no_custody = |st: &CustodyState, b: &mut Builder| {
            if st.custodian.is_none() {
                b.add(
                    DiscrepancyKind::NoCustody,
                    Some(person),
                    None,
                    None,
                    vec![r.clone()],
                    format!(
                        "{r} ({}) for {person}, who was never taken into custody",
                        kind.name()
                    ),
                );
            }
        };
        match kind {
            EventKind::TakenIntoCustody { custodian, site } => {
                if st.custodian.is_some() {
                    expect_site(st, site, &mut b);
                    if st.custodian.as_ref() != Some(custodian) {
                        b.add(DiscrepancyKind::ConflictingCustodian, Some(person), None, None, both(r), format!("{r} says {custodian} took {person} into custody but the custodian is {}", st.custodian.as_ref().map(|c| c.to_string()).unwrap_or_default()));
                    }
                }
                st.custodian = Some(custodian.clone());
                st.location = Some(Location::Site(site.clone()));
            }
            EventKind::HandedOver { from, to, site, .. } => {
                no_custody(st, &mut b);
                expect_site(st, site, &mut b);
                if st.custodian.is_some() && st.custodian.as_ref() != Some(from) {
                    b.add(
                        DiscrepancyKind::ConflictingCustodian,
                        Some(person),
                        None,
                        None,
                        both(r),
                        format!(
                            "{r} hands {person} over from {from} but the custodian is {}",
                            st.custodian
                                .as_ref()
                                .map(|c| c.to_string())
                                .unwrap_or_default()
                        ),
                    );
                }
                st.custodian = Some(to.clone());
                st.location = Some(Location::Site(site.clone()));
            }
            EventKind::Boarded { sortie, site } => {
                no_custody(st, &mut b);
                expect_site(st, site, &mut b);
                boarded
                    .entry(sortie.clone())
                    .or_default()
                    .insert((*person).clone());
                board_ref.insert(((*person).clone(), sortie.clone()), r.clone());
                st.location = Some(Location::InTransit(sortie.clone()));
            }
            EventKind::Departed { sortie, .. } => {
                departed.insert(sortie.clone());
                if st.location != Some(Location::InTransit(sortie.clone())) {
                    b.add(
                        DiscrepancyKind::TwoPlaces,
                        Some(person),
                        None,
                        Some(sortie),
                        both(r),
                        format!(
                            "{r}: {person} departed on {sortie} without boarding it (was {})",
                            st.location
                                .as_ref()
                                .map(|l| l.to_string())
                                .unwrap_or("nowhere".into())
                        ),
                    );
                    st.location = Some(Location::InTransit(sortie.clone()));
                }
            }
            EventKind::Arrived { sortie, site } => {
                no_custody(st, &mut b);
                departed.insert(sortie.clone());
                arrived
                    .entry(sortie.clone())
                    .or_default()
                    .insert((*person).clone());
                if st.location != Some(Location::InTransit(sortie.clone())) {
                    b.add(
                        DiscrepancyKind::TwoPlaces,
                        Some(person),
                        None,
                        Some(sortie),
                        both(r),
                        format!(
                            "{r}: {person} arrived on {sortie} at {site} but was {}",
                            st.location
                                .as_ref()
                                .map(|l| l.to_string())
                                .unwrap_or("nowhere".into())
                        ),
                    );
                }
                st.location = Some(Location::Site(site.clone()));
            }
            EventKind::PlacedInHolding { site, .. } => {
                no_custody(st, &mut b);
                expect_site(st, site, &mut b);
                st.location = Some(Location::Site(site.clone()));
            }
            EventKind::Released { .. } => st.status = Status::Released,
            EventKind::Died { .. } => st.status = Status::Dead,
            EventKind::IdentityVerified {
                score_milli,
                threshold_milli,
            } => {
                if score_milli < threshold_milli {
                    b.add(DiscrepancyKind::IdentityMismatch, Some(person), None, None, vec![r.clone()], format!("{r}: 1:1 score {score_milli}‰ below threshold {threshold_milli}‰ for {person}"));
                }
            }
            EventKind::Enrolled { .. }
            | EventKind::Medical { .. }
            | EventKind::Incident { .. }
            | EventKind::Correction { .. } => {}
        }
        if moves_custody {
            st.last_event = Some(r.clone());
        }
        st.last_time_ms = *t;
    }

    for st in people.values() {
        if let (Status::InCustody, Some(Location::InTransit(s))) = (st.status, &st.location)
            && arrived.get(s).is_some_and(|a| !a.is_empty())
        {
            let evs = board_ref
                .get(&(st.person.clone(), s.clone()))
                .cloned()
                .into_iter()
                .collect();
            b.add(
                DiscrepancyKind::BoardedNeverArrived,
                Some(&st.person),
                None,
                Some(s),
                evs,
                format!(
                    "{} boarded {s}, which has landed, but never arrived",
                    st.person
                ),
            );
        }
    }
    for m in manifests {
        let on: BTreeSet<&PersonId> = m.people.iter().collect();
        let boarded_here = boarded.get(&m.sortie);
        let sc = hc.per_sortie.entry(m.sortie.clone()).or_default();
        sc.manifested = on.len() as u64;
        if departed.contains(&m.sortie) {
            for p in &on {
                if !boarded_here.is_some_and(|s| s.contains(*p)) {
                    b.add(
                        DiscrepancyKind::ManifestedNeverBoarded,
                        Some(p),
                        None,
                        Some(&m.sortie),
                        vec![],
                        format!(
                            "{p} is on the manifest of {} but never boarded it",
                            m.sortie
                        ),
                    );
                }
            }
        }
        for p in boarded_here.into_iter().flatten() {
            if !on.contains(p) {
                let evs = board_ref
                    .get(&(p.clone(), m.sortie.clone()))
                    .cloned()
                    .into_iter()
                    .collect();
                b.add(
                    DiscrepancyKind::BoardedNotOnManifest,
                    Some(p),
                    None,
                    Some(&m.sortie),
                    evs,
                    format!("{p} boarded {} but is not on its manifest", m.sortie),
                );
            }
        }
    }
    for (s, set) in &boarded {
        hc.per_sortie.entry(s.clone()).or_default().boarded = set.len() as u64;
    }
    for (s, set) in &arrived {
        hc.per_sortie.entry(s.clone()).or_default().arrived = set.len() as u64;
    }
    Pass {
        people,
        discs: b.discs,
        seen: b.seen,
        hc,
    }
}
