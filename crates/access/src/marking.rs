//! Security markings as structured labels (the shape of CAPCO/ISM banner and
//! portion marks, and of NATO STANAG 4774 confidentiality labels).
//!
//! A [`Marking`] is a classification [`Level`], a set of need-to-know
//! compartments, dissemination controls (`NOFORN`, `ORCON`, `RELIDO`) and a
//! `REL TO` set of countries (ISO 3166 alpha-3) or organisations (agency ids).
//!
//! Grammar (banner, `Display`): `LEVEL[//COMPARTMENT[/COMPARTMENT…]][//DISSEM[/DISSEM…]]`
//! where DISSEM is `NOFORN`, `ORCON`, `RELIDO` or `REL TO A, B, …`.
//! Portion: the same inside parentheses with abbreviated levels
//! (`U R C S TS`) and controls (`NF OC`): `(S//HVD//REL TO USA, IRQ)`.
//!
//! Parsing never panics; a bad marking is refused with a [`MarkingError`]
//! naming the offending token and its character position.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Classification levels, lowest first (the derive order is the dominance order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Level {
    Unclassified,
    Restricted,
    Confidential,
    Secret,
    TopSecret,
}

impl Level {
    pub const ALL: [Level; 5] =
        [Level::Unclassified, Level::Restricted, Level::Confidential, Level::Secret, Level::TopSecret];

    /// Banner spelling: `TOP SECRET`.
    pub fn banner(self) -> &'static str {
        match self {
            Level::Unclassified => "UNCLASSIFIED",
            Level::Restricted => "RESTRICTED",
            Level::Confidential => "CONFIDENTIAL",
            Level::Secret => "SECRET",
            Level::TopSecret => "TOP SECRET",
        }
    }

    /// Portion spelling: `TS`.
    pub fn portion(self) -> &'static str {
        match self {
            Level::Unclassified => "U",
            Level::Restricted => "R",
            Level::Confidential => "C",
            Level::Secret => "S",
            Level::TopSecret => "TS",
        }
    }

    /// Rank used by the policy (`0` = UNCLASSIFIED … `4` = TOP SECRET).
    pub fn rank(self) -> i64 {
        self as i64
    }

    /// Parse either spelling (`SECRET` or `S`), as used for clearances.
    pub fn parse(s: &str) -> Result<Level, MarkingError> {
        let t = s.trim();
        Level::ALL
            .into_iter()
            .find(|l| l.banner() == t || l.portion() == t)
            .ok_or_else(|| MarkingError::new(s, 0, t, "unknown classification level (expected one of UNCLASSIFIED, RESTRICTED, CONFIDENTIAL, SECRET, TOP SECRET or U, R, C, S, TS)"))
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.banner())
    }
}

/// A marking that could not be parsed: which token, where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad marking {input:?}: {reason}: {token:?} at position {position}")]
pub struct MarkingError {
    /// The whole input (truncated to 200 characters).
    pub input: String,
    /// Character offset (0-based) of the offending token within the input.
    pub position: usize,
    pub token: String,
    pub reason: String,
}

impl MarkingError {
    fn new(input: &str, position: usize, token: &str, reason: impl Into<String>) -> Self {
        MarkingError {
            input: input.chars().take(200).collect(),
            position,
            token: token.chars().take(64).collect(),
            reason: reason.into(),
        }
    }
}

/// Longest marking accepted (defence against hostile input).
pub const MAX_MARKING_LEN: usize = 1024;

/// A structured security label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Marking {
    pub level: Level,
    /// Need-to-know compartments: a reader needs every one.
    #[serde(default)]
    pub compartments: BTreeSet<String>,
    /// Not releasable to foreign nationals (relative to the originator's country).
    #[serde(default)]
    pub noforn: bool,
    /// Originator controlled: release outside the reading audience needs the originator.
    #[serde(default)]
    pub orcon: bool,
    /// Releasable by information disclosure official.
    #[serde(default)]
    pub relido: bool,
    /// Countries (alpha-3) and organisations (agency ids) the record may be released to.
    #[serde(default)]
    pub rel_to: BTreeSet<String>,
}

impl Marking {
    /// A marking with only a level.
    pub fn new(level: Level) -> Self {
        Marking {
            level,
            compartments: BTreeSet::new(),
            noforn: false,
            orcon: false,
            relido: false,
            rel_to: BTreeSet::new(),
        }
    }

    pub fn unclassified() -> Self {
        Marking::new(Level::Unclassified)
    }

    pub fn with_rel_to<I: IntoIterator<Item = S>, S: Into<String>>(mut self, to: I) -> Self {
        self.rel_to.extend(to.into_iter().map(Into::into));
        self
    }

    pub fn with_compartments<I: IntoIterator<Item = S>, S: Into<String>>(mut self, c: I) -> Self {
        self.compartments.extend(c.into_iter().map(Into::into));
        self
    }

    pub fn with_noforn(mut self) -> Self {
        self.noforn = true;
        self
    }

    /// Check the structural rules the parser enforces, for values built in code.
    pub fn validate(&self) -> Result<(), MarkingError> {
        let text = self.banner();
        Marking::parse(&text).map(|_| ())
    }

    /// Banner line: `SECRET//HVD//REL TO IRQ, USA`.
    pub fn banner(&self) -> String {
        self.render(false)
    }

    /// Portion mark: `(S//HVD//REL TO IRQ, USA)`.
    pub fn portion(&self) -> String {
        format!("({})", self.render(true))
    }

    fn render(&self, portion: bool) -> String {
        let mut s = String::from(if portion { self.level.portion() } else { self.level.banner() });
        if !self.compartments.is_empty() {
            s.push_str("//");
            s.push_str(&self.compartments.iter().cloned().collect::<Vec<_>>().join("/"));
        }
        let mut dissem: Vec<String> = Vec::new();
        if self.noforn {
            dissem.push(if portion { "NF" } else { "NOFORN" }.into());
        }
        if self.orcon {
            dissem.push(if portion { "OC" } else { "ORCON" }.into());
        }
        if self.relido {
            dissem.push("RELIDO".into());
        }
        if !self.rel_to.is_empty() {
            dissem.push(format!("REL TO {}", self.rel_to.iter().cloned().collect::<Vec<_>>().join(", ")));
        }
        if !dissem.is_empty() {
            s.push_str("//");
            s.push_str(&dissem.join("/"));
        }
        s
    }

    /// Parse a banner line or (if it starts with `(`) a portion mark.
    pub fn parse(input: &str) -> Result<Marking, MarkingError> {
        Parser { input }.parse()
    }
}

impl fmt::Display for Marking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.banner())
    }
}

impl FromStr for Marking {
    type Err = MarkingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Marking::parse(s)
    }
}

const DISSEM_WORDS: [&str; 5] = ["NOFORN", "ORCON", "RELIDO", "NF", "OC"];

/// A compartment name: `HVD`, `CT-NES`, `SI-G`.
pub(crate) fn valid_compartment(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && b[0].is_ascii_uppercase()
        && b.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'-')
        && !t.ends_with('-')
        && !t.contains("--")
}

/// A REL TO entry: a country trigraph (`IRQ`) or organisation / agency id (`US-FBI`, `NATO`).
fn valid_rel_to(t: &str) -> bool {
    valid_compartment(t) && t.len() >= 2
}

/// Levenshtein distance, for "did you mean" on misspelt controls.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let v = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
            cur.push(v);
        }
        prev = cur;
    }
    prev[b.len()]
}

struct Parser<'a> {
    input: &'a str,
}

impl Parser<'_> {
    fn err(&self, byte_pos: usize, token: &str, reason: impl Into<String>) -> MarkingError {
        let pos = self.input.get(..byte_pos).map_or(0, |p| p.chars().count());
        MarkingError::new(self.input, pos, token, reason)
    }

    fn parse(&self) -> Result<Marking, MarkingError> {
        let input = self.input;
        if input.len() > MAX_MARKING_LEN {
            return Err(self.err(0, "", format!("longer than {MAX_MARKING_LEN} bytes")));
        }
        if input.trim().is_empty() {
            return Err(self.err(0, input, "empty marking"));
        }
        if let Some((i, c)) = input.char_indices().find(|(_, c)| !(c.is_ascii_graphic() || *c == ' ')) {
            return Err(self.err(i, &c.to_string(), "character not allowed in a marking"));
        }
        if input != input.trim() {
            return Err(self.err(0, input, "leading or trailing space"));
        }
        let (body, offset, portion) = if let Some(rest) = input.strip_prefix('(') {
            match rest.strip_suffix(')') {
                Some(b) => (b, 1, true),
                None => return Err(self.err(input.len(), "", "portion mark opened with '(' but not closed with ')'")),
            }
        } else if input.ends_with(')') {
            return Err(self.err(input.len() - 1, ")", "')' without an opening '('"));
        } else {
            (input, 0, false)
        };
        if let Some(i) = body.find(['(', ')']) {
            return Err(self.err(offset + i, &body[i..i + 1], "unexpected parenthesis"));
        }

        // Split into `//` blocks, remembering where each starts.
        let mut blocks: Vec<(usize, &str)> = Vec::new();
        let mut start = 0;
        while let Some(i) = body[start..].find("//") {
            blocks.push((offset + start, &body[start..start + i]));
            start += i + 2;
        }
        blocks.push((offset + start, &body[start..]));

        let (lpos, ltext) = blocks[0];
        let level = Level::ALL
            .into_iter()
            .find(|l| if portion { l.portion() == ltext } else { l.banner() == ltext })
            .ok_or_else(|| {
                let other = Level::ALL.into_iter().any(|l| if portion { l.banner() == ltext } else { l.portion() == ltext });
                let why = if other && portion {
                    "a portion mark takes an abbreviated level (U, R, C, S, TS)"
                } else if other {
                    "a banner line takes the full level (UNCLASSIFIED, RESTRICTED, CONFIDENTIAL, SECRET, TOP SECRET); use (…) for a portion mark"
                } else {
                    "unknown classification level"
                };
                self.err(lpos, ltext, why)
            })?;
        let mut m = Marking::new(level);
        let mut seen_dissem = false;
        for (bi, &(bpos, block)) in blocks.iter().enumerate().skip(1) {
            if block.is_empty() {
                return Err(self.err(bpos, "//", "empty block between '//' separators"));
            }
            // Tokens of the block are separated by '/'; "REL TO a, b" is one token.
            let mut toks: Vec<(usize, &str)> = Vec::new();
            let mut s = 0;
            for part in block.split('/') {
                toks.push((bpos + s, part));
                s += part.len() + 1;
            }
            let is_dissem =
                toks.iter().any(|(_, t)| DISSEM_WORDS.contains(t) || t.starts_with("REL TO") || *t == "REL");
            if is_dissem {
                if seen_dissem {
                    return Err(self.err(bpos, block, "dissemination controls given in two blocks"));
                }
                seen_dissem = true;
                for &(tpos, t) in &toks {
                    self.dissem(&mut m, tpos, t)?;
                }
            } else {
                if seen_dissem {
                    return Err(self.err(bpos, block, "compartments must come before dissemination controls"));
                }
                if bi != 1 {
                    return Err(self.err(bpos, block, "compartments given in two blocks"));
                }
                for &(tpos, t) in &toks {
                    if t.is_empty() {
                        return Err(self.err(tpos, "/", "empty compartment"));
                    }
                    if t.starts_with("REL") {
                        return Err(self.err(tpos, t, "unknown control (write REL TO as 'REL TO USA, IRQ')"));
                    }
                    if !valid_compartment(t) {
                        return Err(self.err(tpos, t, "not a valid compartment or dissemination control (compartments are upper-case letters, digits and '-')"));
                    }
                    if let Some(w) = DISSEM_WORDS.iter().find(|w| w.len() > 2 && edit_distance(t, w) <= 2) {
                        return Err(self.err(tpos, t, format!("unknown control (did you mean {w}?)")));
                    }
                    if !m.compartments.insert(t.to_string()) {
                        return Err(self.err(tpos, t, "compartment listed twice"));
                    }
                }
            }
        }
        if m.level == Level::Unclassified && !m.compartments.is_empty() {
            let (p, b) = blocks[1];
            return Err(self.err(p, b, "UNCLASSIFIED cannot carry compartments"));
        }
        if m.noforn && !m.rel_to.is_empty() {
            let p = body.find("REL TO").map_or(offset, |p| p + offset);
            return Err(self.err(p, "REL TO", "NOFORN and REL TO contradict each other"));
        }
        Ok(m)
    }

    fn dissem(&self, m: &mut Marking, pos: usize, t: &str) -> Result<(), MarkingError> {
        let dup = |f: bool| if f { Err(self.err(pos, t, "control listed twice")) } else { Ok(()) };
        match t {
            "" => Err(self.err(pos, "/", "empty dissemination control")),
            "NOFORN" | "NF" => {
                dup(m.noforn)?;
                m.noforn = true;
                Ok(())
            }
            "ORCON" | "OC" => {
                dup(m.orcon)?;
                m.orcon = true;
                Ok(())
            }
            "RELIDO" => {
                dup(m.relido)?;
                m.relido = true;
                Ok(())
            }
            _ => {
                let Some(list) = t.strip_prefix("REL TO ") else {
                    let hint = DISSEM_WORDS
                        .iter()
                        .chain(["REL TO"].iter())
                        .min_by_key(|w| edit_distance(t, w))
                        .filter(|w| edit_distance(t, w) <= 2)
                        .map(|w| format!(" (did you mean {w}?)"))
                        .unwrap_or_default();
                    return Err(self.err(pos, t, format!("unknown dissemination control{hint}")));
                };
                if !m.rel_to.is_empty() {
                    return Err(self.err(pos, t, "REL TO listed twice"));
                }
                let mut p = pos + "REL TO ".len();
                for (i, item) in list.split(", ").enumerate() {
                    if !valid_rel_to(item) {
                        let why = if item.is_empty() {
                            "empty REL TO entry (entries are separated by ', ')"
                        } else {
                            "not a country code or organisation (upper-case letters, digits and '-'; entries separated by ', ')"
                        };
                        return Err(self.err(p, item, why));
                    }
                    if !m.rel_to.insert(item.to_string()) {
                        return Err(self.err(p, item, "REL TO entry listed twice"));
                    }
                    let _ = i;
                    p += item.len() + 2;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_banner_and_portion() {
        let m = Marking::parse("SECRET//REL TO USA, IRQ").unwrap();
        assert_eq!(m.level, Level::Secret);
        assert_eq!(m.rel_to, BTreeSet::from(["USA".to_string(), "IRQ".to_string()]));
        assert_eq!(m.portion(), "(S//REL TO IRQ, USA)");
        let p = Marking::parse("(S//REL TO USA, IRQ)").unwrap();
        assert_eq!(p, m);
        let t = Marking::parse("TOP SECRET//HVD/CT-NES//NOFORN/ORCON").unwrap();
        assert_eq!(t.level, Level::TopSecret);
        assert!(t.noforn && t.orcon && t.compartments.contains("CT-NES"));
        assert_eq!(t.portion(), "(TS//CT-NES/HVD//NF/OC)");
        assert_eq!(Marking::parse("(U)").unwrap(), Marking::unclassified());
        assert_eq!(Marking::parse("UNCLASSIFIED").unwrap().banner(), "UNCLASSIFIED");
    }

    fn bad(s: &str) -> MarkingError {
        Marking::parse(s).expect_err(s)
    }

    #[test]
    fn rejects_with_token_and_position() {
        let e = bad("SECRTE//REL TO USA");
        assert_eq!((e.token.as_str(), e.position), ("SECRTE", 0));
        let e = bad("SECRET//NOFRN");
        assert_eq!((e.token.as_str(), e.position), ("NOFRN", 8));
        assert!(e.reason.contains("NOFORN"), "{e}");
        let e = bad("SECRET//REL TO USA, iraq");
        assert_eq!((e.token.as_str(), e.position), ("iraq", 20));
        let e = bad("SECRET//REL TO USA,IRQ");
        assert_eq!(e.token, "USA,IRQ");
        let e = bad("SECRET//NOFORN/REL TO USA");
        assert!(e.reason.contains("contradict"), "{e}");
        let e = bad("(S//REL TO USA");
        assert!(e.reason.contains("not closed"), "{e}");
        let e = bad("(SECRET)");
        assert!(e.reason.contains("abbreviated"), "{e}");
        let e = bad("S//NOFORN");
        assert!(e.reason.contains("full level"), "{e}");
        let e = bad("UNCLASSIFIED//HVD");
        assert!(e.reason.contains("compartments"), "{e}");
        let e = bad("SECRET//NOFORN//HVD");
        assert!(e.reason.contains("before"), "{e}");
        let e = bad("SECRET////NOFORN");
        assert_eq!(e.position, 8);
        let e = bad("SECRET//REL TO USA, , IRQ");
        assert!(e.reason.contains("empty REL TO"), "{e}");
        let e = bad("SECRET//REL TO USA, USA");
        assert!(e.reason.contains("twice"), "{e}");
        let e = bad("SECRET//HVD//NOFORN/NOFORN");
        assert!(e.reason.contains("twice"), "{e}");
        let e = bad("SECRET//RELTO USA");
        assert!(e.reason.contains("REL TO"), "{e}");
        assert!(bad("").reason.contains("empty"));
        assert!(bad(" SECRET").reason.contains("space"));
        let e = bad("SECRET//HVD\u{202e}");
        assert_eq!(e.position, 11);
        assert!(bad(&"S".repeat(5000)).reason.contains("longer"));
    }

    fn arb_token() -> impl Strategy<Value = String> {
        "[A-Z][A-Z0-9]{1,5}(-[A-Z0-9]{1,4})?"
            .prop_filter("not a control word", |t| {
                !t.starts_with("REL") && DISSEM_WORDS.iter().all(|w| edit_distance(t, w) > 2)
            })
    }

    pub(crate) fn arb_marking() -> impl Strategy<Value = Marking> {
        (
            prop::sample::select(Level::ALL.to_vec()),
            prop::collection::btree_set(arb_token(), 0..3),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            prop::collection::btree_set(arb_token(), 0..4),
        )
            .prop_map(|(level, mut compartments, noforn, orcon, relido, rel_to)| {
                if level == Level::Unclassified {
                    compartments.clear();
                }
                let rel_to = if noforn { BTreeSet::new() } else { rel_to };
                Marking { level, compartments, noforn, orcon, relido, rel_to }
            })
    }

    proptest! {
        #[test]
        fn print_parse_round_trips(m in arb_marking()) {
            prop_assert_eq!(Marking::parse(&m.banner()).unwrap(), m.clone());
            prop_assert_eq!(Marking::parse(&m.portion()).unwrap(), m.clone());
            let json = serde_json::to_string(&m).unwrap();
            prop_assert_eq!(serde_json::from_str::<Marking>(&json).unwrap(), m);
        }

        #[test]
        fn arbitrary_strings_never_panic(s in any::<String>()) {
            let _ = Marking::parse(&s);
        }

        #[test]
        fn marking_like_strings_never_panic(s in "[(]?(TOP SECRET|SECRET|S|U|TS|X)(//|/| |,|NOFORN|NF|REL TO|USA|IRQ|, |HVD|-|\\)|é)*") {
            if let Err(e) = Marking::parse(&s) {
                // The position must point inside (or at the end of) the input.
                prop_assert!(e.position <= s.chars().count());
            }
        }
    }
}
