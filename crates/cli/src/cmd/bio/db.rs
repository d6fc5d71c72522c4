//! Enrolled finger templates in the store (table `bio_templates`, migrations 3001–3003),
//! each with its print's ridge field (`ridge_field`, SPRF v1) and candidate minutiae
//! (`candidates`, SPCM v1) when it was enrolled from an image, so that stored prints
//! score as `bio eval` scores the images.

use anyhow::{Result, bail};
use sallyport_biometrics::extract::RidgeField;
use sallyport_biometrics::sample::{self, Sample};
use sallyport_biometrics::template::Template;
use sallyport_store::Store;
use sallyport_store::sqlx::{self, Row};

/// One finger to enrol.
pub struct Enrolment {
    pub position: u8,
    /// Template, and the print's ridge field and candidate minutiae when enrolled from
    /// an image.
    pub sample: Sample,
    pub source: String,
}

/// A stored template.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stored {
    pub person: String,
    pub position: u8,
    pub minutiae: usize,
    pub quality: u8,
    pub source: String,
    #[serde(skip)]
    pub sample: Sample,
}

/// Stores every finger of one person in one transaction. Refuses, storing nothing, when
/// the person is unknown, a position repeats, or a position is already enrolled (unless
/// `replace`).
pub async fn enrol(store: &Store, person: &str, fingers: &[Enrolment], replace: bool, now_ms: i64) -> Result<()> {
    let mut tx = store.begin_write().await?;
    let known: i64 = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM people WHERE id = $1").bind(person.to_string()).fetch_one(&mut *tx).await?.try_get(0)?;
    if known == 0 {
        bail!("no person {person:?} in the store: load the operation's people first");
    }
    for (i, f) in fingers.iter().enumerate() {
        if fingers[..i].iter().any(|g| g.position == f.position) {
            bail!("finger position {} given twice ({} and {})", f.position, fingers[..i].iter().find(|g| g.position == f.position).map(|g| g.source.as_str()).unwrap_or(""), f.source);
        }
        let exists: i64 = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM bio_templates WHERE person_id = $1 AND finger_position = $2")
            .bind(person.to_string())
            .bind(f.position as i64)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if exists > 0 {
            if !replace {
                bail!("{person} already has finger {} enrolled; use --replace to overwrite (nothing was stored)", f.position);
            }
            sqlx::query("DELETE FROM bio_templates WHERE person_id = $1 AND finger_position = $2").bind(person.to_string()).bind(f.position as i64).execute(&mut *tx).await?;
        }
        let t = &f.sample.template;
        sqlx::query(
            "INSERT INTO bio_templates (person_id, finger_position, template, format, minutiae, quality, source_file, enrolled_at_ms, ridge_field, candidates) \
             VALUES ($1, $2, $3, 'SPFT1', $4, $5, $6, $7, $8, $9)",
        )
        .bind(person.to_string())
        .bind(f.position as i64)
        .bind(t.to_bytes())
        .bind(t.minutiae.len() as i64)
        .bind(t.quality as i64)
        .bind(f.source.clone())
        .bind(now_ms)
        .bind(f.sample.field.as_ref().map(RidgeField::to_bytes))
        .bind(f.sample.candidates.as_deref().map(sample::candidates_to_bytes))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Every stored template (optionally of one person), by person then position. A stored
/// template that does not parse is an error naming the row.
pub async fn templates(store: &Store, person: Option<&str>) -> Result<Vec<Stored>> {
    let sql = "SELECT person_id, finger_position, template, source_file, ridge_field, candidates FROM bio_templates";
    let rows = match person {
        Some(p) => sqlx::query(&format!("{sql} WHERE person_id = $1 ORDER BY person_id, finger_position")).bind(p.to_string()).fetch_all(store.pool()).await?,
        None => sqlx::query(&format!("{sql} ORDER BY person_id, finger_position")).fetch_all(store.pool()).await?,
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let person: String = r.try_get(0)?;
        let position: i64 = r.try_get(1)?;
        let bytes: Vec<u8> = r.try_get(2)?;
        let source: String = r.try_get(3)?;
        let field: Option<Vec<u8>> = r.try_get(4)?;
        let candidates: Option<Vec<u8>> = r.try_get(5)?;
        let template = Template::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("stored template of {person} finger {position} is corrupt: {e}"))?;
        let field = field
            .map(|b| RidgeField::from_bytes(&b))
            .transpose()
            .map_err(|e| anyhow::anyhow!("stored ridge field of {person} finger {position} is corrupt: {e}"))?;
        let candidates = candidates
            .map(|b| sample::candidates_from_bytes(&b))
            .transpose()
            .map_err(|e| anyhow::anyhow!("stored candidate minutiae of {person} finger {position} are corrupt: {e}"))?;
        out.push(Stored { person, position: position as u8, minutiae: template.minutiae.len(), quality: template.quality, source, sample: Sample { template, field, candidates } });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sallyport_biometrics::template::{Minutia, MinutiaKind};

    fn tpl(n: u16) -> Template {
        Template {
            width: 400,
            height: 400,
            ppi: 500,
            quality: 60,
            minutiae: (0..n).map(|i| Minutia { x: 10 + i * 7, y: 20 + i * 5, direction: (i * 13) as u8, kind: MinutiaKind::Ending, quality: 70 }).collect(),
        }
    }

    /// A SYNTHETIC person with the agency and site the schema requires.
    async fn person(store: &Store, id: &str) {
        for sql in [
            "INSERT INTO agencies (id, name, kind, country) VALUES ('AG-T', 'Test agency', 'police', 'XXX')",
            "INSERT INTO sites (id, name, kind, lat, lon, population, holding_capacity, refuel, runway, operator) \
             VALUES ('ST-T', 'Test site', 'camp', 0, 0, 0, 10, 0, 0, 'AG-T')",
        ] {
            sqlx::query(sql).execute(store.pool()).await.expect("insert test agency/site");
        }
        sqlx::query(
            "INSERT INTO people (id, name_ar, name_latin, date_of_birth, sex, nationality, category, risk, fit_to_fly, escort, legal_status, custodian, site) \
             VALUES ($1, 'اختبار', 'SYNTHETIC PERSON', '1990-01-01', 'male', 'XXX', 'adult_male', 'low', 1, 'none', 'detained', 'AG-T', 'ST-T')",
        )
        .bind(id.to_string())
        .execute(store.pool())
        .await
        .expect("insert a synthetic person");
    }

    #[tokio::test]
    async fn enrol_stores_and_refuses_without_partial_writes() {
        for db in sallyport_store::testing::backends().await {
            let s = &db.store;
            person(s, "P-0001").await;
            let f = |pos, n| Enrolment { position: pos, sample: Sample::from_template(tpl(n)), source: format!("f{pos}.iso") };
            let field = RidgeField { w: 3, h: 2, cells: vec![0, 1, 90, 180, 0, 45] };
            // unknown person: nothing stored
            let e = enrol(s, "P-9999", &[f(1, 20)], false, 1).await.unwrap_err();
            assert!(e.to_string().contains("no person"), "{}: {e}", db.name);
            let cands = tpl(45).minutiae;
            let with_field = Enrolment { sample: Sample { template: tpl(30), field: Some(field.clone()), candidates: Some(cands.clone()) }, source: "f2.png".into(), position: 2 };
            enrol(s, "P-0001", &[f(1, 20), with_field], false, 1).await.unwrap();
            let t = templates(s, Some("P-0001")).await.unwrap();
            assert_eq!(t.iter().map(|t| (t.position, t.minutiae)).collect::<Vec<_>>(), vec![(1, 20), (2, 30)], "{}", db.name);
            assert_eq!(t[0].sample.template, tpl(20));
            assert_eq!((t[0].sample.field.as_ref(), t[1].sample.field.as_ref()), (None, Some(&field)), "{}: the ridge field round-trips", db.name);
            assert_eq!((t[0].sample.candidates.as_ref(), t[1].sample.candidates.as_ref()), (None, Some(&cands)), "{}: the candidates round-trip", db.name);
            // a batch with one conflicting finger stores none of the batch
            let e = enrol(s, "P-0001", &[f(3, 10), f(2, 11)], false, 2).await.unwrap_err();
            assert!(e.to_string().contains("already has finger 2"), "{}: {e}", db.name);
            assert_eq!(templates(s, None).await.unwrap().len(), 2, "{}", db.name);
            // duplicate position within a batch
            assert!(enrol(s, "P-0001", &[f(4, 10), f(4, 11)], false, 2).await.is_err());
            // replace overwrites
            enrol(s, "P-0001", &[f(2, 11)], true, 3).await.unwrap();
            let t = templates(s, None).await.unwrap();
            assert_eq!(t.iter().map(|t| (t.position, t.minutiae)).collect::<Vec<_>>(), vec![(1, 20), (2, 11)], "{}", db.name);
            // a stored field that does not parse is an error naming the row, not a silent None
            sqlx::query("UPDATE bio_templates SET ridge_field = $1 WHERE finger_position = 1").bind(b"SPRF\x01".to_vec()).execute(s.pool()).await.unwrap();
            let e = templates(s, None).await.unwrap_err().to_string();
            assert!(e.contains("ridge field of P-0001 finger 1 is corrupt"), "{}: {e}", db.name);
            sqlx::query("UPDATE bio_templates SET ridge_field = NULL, candidates = $1 WHERE finger_position = 1").bind(b"SPCM\x01\x02\x00".to_vec()).execute(s.pool()).await.unwrap();
            let e = templates(s, None).await.unwrap_err().to_string();
            assert!(e.contains("candidate minutiae of P-0001 finger 1 are corrupt"), "{}: {e}", db.name);
        }
    }
}
