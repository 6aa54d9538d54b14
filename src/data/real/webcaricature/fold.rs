//! One published fold of WebCaricature: what is scored, what chooses the thresholds, and who is
//! trained on.
//!
//! Fold `k` scores every pair of View 2's fold `k` that could be loaded (matched and mismatched,
//! as listed), and C2P and P2C on split `k`'s gallery and probe lists as given. The thresholds
//! are chosen on View 2's other folds (in a 10-fold protocol they are fold `k`'s training
//! data), less any pair naming a person of fold `k`. The classifiers train on every person named
//! in none of fold `k`'s lists: one model per fold serves verification and both identification
//! directions, at the price of training on fewer people than a verification-only model would
//! (each C2P/P2C split holds out half of the people).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::super::assemble::protocol_splits;
use super::super::options::{FoldCount, LoadError, LoadOptions};
use super::super::protocol::{check_evaluable, chosen_fold, count_pairs, default_note, some_names};
use super::parse::{IdentificationSplit, Published, View2};
use crate::data::{
    IdentificationFold, ImageSet, LoadReport, Protocol, ProtocolFacts, Splits, VerificationPair,
};

/// A fold's splits, protocol and facts.
pub(super) struct Chosen {
    pub splits: Splits,
    /// None for the seeded held-out split of a copy without protocol files.
    pub protocol: Option<Protocol>,
    pub facts: ProtocolFacts,
}

/// Most names a report line lists.
const NAMES_SHOWN: usize = 5;

/// The fold `opts` asks for (fold 1 by default) of the `published` protocol.
pub(super) fn choose_fold(
    root: &Path,
    published: &Published,
    images: &ImageSet,
    opts: &LoadOptions,
    report: &mut LoadReport,
) -> Result<Chosen, LoadError> {
    let count = FoldCount {
        count: published.fold_count(),
        source: "View 2 and the C2P/P2C splits of EvaluationProtocols/".into(),
    };
    if count.count == 0 {
        return Err(LoadError::UnusableProtocol {
            path: root.to_path_buf(),
            detail: "EvaluationProtocols/ lists no verification pair and no identification split"
                .into(),
        });
    }
    let k = chosen_fold(root, opts, &count)?;
    report.protocol_used.push(fold_line(k, count.count, opts));
    let mut protocol = Protocol::default();
    let mut test_people = BTreeSet::new();
    if let Some(view2) = &published.view2 {
        let verification = verification_fold(root, view2, k, images, report)?;
        test_people.extend(verification.people.iter().copied());
        protocol.verification = verification.scored;
        protocol.calibration = verification.calibration;
        protocol
            .fold_names
            .insert(k - 1, format!("{} fold {k}", view2.label));
    }
    for (direction, splits, slot) in [
        ("C2P", &published.c2p, &mut protocol.c2p),
        ("P2C", &published.p2c, &mut protocol.p2c),
    ] {
        if let Some(split) = identification_split(root, direction, splits, k)? {
            test_people.extend(split.gallery.people.iter().chain(&split.probes.people));
            report_unknown(
                &format!("{direction} split {k}"),
                split.gallery.unknown.iter().chain(&split.probes.unknown),
                report,
            );
            slot.push(IdentificationFold {
                gallery: split.gallery.samples.clone(),
                probes: split.probes.samples.clone(),
            });
            report.protocol_used.push(format!(
                "{direction} split {k}: {} gallery and {} probe images, as listed in {} and {}",
                split.gallery.samples.len(),
                split.probes.samples.len(),
                split.gallery.label,
                split.probes.label
            ));
        }
    }
    let train: Vec<usize> = (0..images.identities.len())
        .filter(|id| !test_people.contains(id))
        .collect();
    if train.is_empty() {
        return Err(LoadError::UnusableProtocol {
            path: root.to_path_buf(),
            detail: format!(
                "fold {k} names every one of the {} people; nobody is left to train on",
                images.identities.len()
            ),
        });
    }
    check_evaluable(root, &protocol, "the other folds of View 2")?;
    let test: Vec<usize> = test_people.into_iter().collect();
    let (splits, excluded) = protocol_splits(images, train, test, opts);
    report.excluded_identities.extend(excluded);
    report.protocol_used.push(training_note(k, images, &splits));
    let facts = facts(published, k, &protocol, images, &splits);
    Ok(Chosen {
        splits,
        protocol: Some(protocol),
        facts,
    })
}

/// View 2's fold `k`: its pairs (scored), the other folds' pairs (thresholds), its people.
struct VerificationFold {
    scored: Vec<VerificationPair>,
    calibration: Vec<VerificationPair>,
    people: BTreeSet<usize>,
}

fn verification_fold(
    root: &Path,
    view2: &View2,
    k: usize,
    images: &ImageSet,
    report: &mut LoadReport,
) -> Result<VerificationFold, LoadError> {
    let fold = k - 1;
    if fold >= view2.folds {
        return Err(LoadError::UnusableProtocol {
            path: root.to_path_buf(),
            detail: format!(
                "{} lists {} folds, not fold {k} (the identification lists have {k} splits or more)",
                view2.label, view2.folds
            ),
        });
    }
    let people = view2.people.get(&fold).cloned().unwrap_or_default();
    let mut scored = Vec::new();
    let mut calibration = Vec::new();
    // Person → other folds naming them: people in two folds break the folds' disjointness.
    let mut shared: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for listed in &view2.pairs {
        if listed.pair.fold == fold {
            scored.push(listed.pair.clone());
            continue;
        }
        let overlap: Vec<usize> = listed
            .people
            .iter()
            .flatten()
            .copied()
            .filter(|p| people.contains(p))
            .collect();
        for p in &overlap {
            shared.entry(*p).or_default().insert(listed.pair.fold);
        }
        if overlap.is_empty() {
            calibration.push(listed.pair.clone());
        }
    }
    report_shared(view2, k, &shared, images, report);
    if let Some(unknown) = view2.unknown.get(&fold) {
        report_unknown(&format!("{} fold {k}", view2.label), unknown, report);
    }
    let listed = view2.listed.get(&fold).copied().unwrap_or(0);
    let (m, mm) = count_pairs(&scored);
    let unread = if listed > scored.len() {
        format!(
            "; {} of its {listed} lines name an image that could not be loaded",
            listed - scored.len()
        )
    } else {
        String::new()
    };
    report.protocol_used.push(format!(
        "verification: the {} pairs of {} fold {k} ({m} matched, {mm} mismatched){unread}; thresholds chosen on {} pairs of its other folds",
        scored.len(),
        view2.label,
        calibration.len()
    ));
    Ok(VerificationFold {
        scored,
        calibration,
        people,
    })
}

/// Folds are meant to be disjoint in people; a copy whose folds share people is said so, and
/// the shared people's pairs in other folds stay out of threshold choice.
fn report_shared(
    view2: &View2,
    k: usize,
    shared: &BTreeMap<usize, BTreeSet<usize>>,
    images: &ImageSet,
    report: &mut LoadReport,
) {
    if shared.is_empty() {
        return;
    }
    let described: Vec<String> = shared
        .iter()
        .map(|(&p, folds)| {
            let folds: Vec<String> = folds.iter().map(|f| (f + 1).to_string()).collect();
            format!("{} (fold {})", images.identities[p], folds.join(", "))
        })
        .collect();
    report.protocol_problems.push(format!(
        "{}: folds are not disjoint in people: {} people of fold {k} are also named in other folds: {}; their pairs there are left out of threshold choice, and none of them is trained on",
        view2.label,
        shared.len(),
        some_names(described.iter().map(String::as_str), NAMES_SHOWN)
    ));
}

/// A fold's lists naming people with no loaded image: their lines cannot be evaluated.
fn report_unknown<'a>(
    what: &str,
    names: impl IntoIterator<Item = &'a String>,
    report: &mut LoadReport,
) {
    let names: BTreeSet<&str> = names.into_iter().map(String::as_str).collect();
    if names.is_empty() {
        return;
    }
    report.protocol_problems.push(format!(
        "{what} names {} people with no loaded image in OriginalImages/: {}; their lines are not evaluated",
        names.len(),
        some_names(names.iter().copied(), NAMES_SHOWN)
    ));
}

/// Split `k` of one identification direction; None when the copy has no list of that
/// direction, an error when it has some but not split `k`, or split `k` lists no image.
fn identification_split<'a>(
    root: &Path,
    direction: &str,
    splits: &'a BTreeMap<u32, IdentificationSplit>,
    k: usize,
) -> Result<Option<&'a IdentificationSplit>, LoadError> {
    if splits.is_empty() {
        return Ok(None);
    }
    let bad = |detail: String| LoadError::UnusableProtocol {
        path: root.to_path_buf(),
        detail,
    };
    let Some(split) = u32::try_from(k).ok().and_then(|k| splits.get(&k)) else {
        let have: Vec<String> = splits.keys().map(u32::to_string).collect();
        return Err(bad(format!(
            "{direction}: no split {k} (FR_Gallery_{direction}{k}.txt and FR_Probe_{direction}{k}.txt); the copy has splits {}",
            have.join(", ")
        )));
    };
    for list in [&split.gallery, &split.probes] {
        if list.samples.is_empty() {
            return Err(bad(format!(
                "{} (split {k}) lists no image that could be loaded",
                list.label
            )));
        }
    }
    Ok(Some(split))
}

/// The report line on who trains and who is tested, checking they are disjoint.
fn training_note(k: usize, images: &ImageSet, splits: &Splits) -> String {
    let test: BTreeSet<usize> = splits.open_identities.iter().copied().collect();
    let disjoint = splits
        .train
        .iter()
        .chain(&splits.closed_test)
        .all(|&i| !test.contains(&images.samples[i].identity));
    let verdict = if disjoint {
        "disjoint from"
    } else {
        "NOT disjoint from (a bug: please report it)"
    };
    format!(
        "training on the {} people named in none of fold {k}'s lists, {verdict} its {} test people; one model per fold serves verification, C2P and P2C",
        splits.train_identities.len(),
        test.len()
    )
}

fn facts(
    published: &Published,
    k: usize,
    protocol: &Protocol,
    images: &ImageSet,
    splits: &Splits,
) -> ProtocolFacts {
    let mut parts = Vec::new();
    if published.view2.is_some() {
        parts.push("Restricted View 2");
    }
    if !published.c2p.is_empty() {
        parts.push("C2P");
    }
    if !published.p2c.is_empty() {
        parts.push("P2C");
    }
    let mut facts = ProtocolFacts::held_out(
        &format!("WebCaricature {}", parts.join(" / ")),
        images,
        splits,
    );
    facts.fold = Some(k);
    facts.count_pairs(&protocol.verification);
    facts
}

/// The first line of the report's protocol section: which fold, and why that one.
fn fold_line(k: usize, count: usize, opts: &LoadOptions) -> String {
    format!("WebCaricature fold {k} of {count}{}", default_note(opts))
}
