//! What every published protocol must satisfy before anything trains on it, and the words the
//! load report uses about it.

use std::collections::BTreeSet;
use std::path::Path;

use super::options::{FoldCount, LoadError, LoadOptions};
use crate::data::{Protocol, VerificationPair};

/// (matched, mismatched) pairs among `pairs`.
pub(crate) fn count_pairs<'a>(
    pairs: impl IntoIterator<Item = &'a VerificationPair>,
) -> (usize, usize) {
    pairs.into_iter().fold(
        (0, 0),
        |(m, mm), p| {
            if p.same { (m + 1, mm) } else { (m, mm + 1) }
        },
    )
}

/// An error unless the protocol's verification can be evaluated: every scored fold holds
/// matched and mismatched pairs, and the thresholds have pairs to be chosen on (the
/// calibration pairs, named `calibration_source` in messages, or two scored folds or more).
pub(crate) fn check_evaluable(
    root: &Path,
    protocol: &Protocol,
    calibration_source: &str,
) -> Result<(), LoadError> {
    let bad = |detail: String| {
        Err(LoadError::UnusableProtocol {
            path: root.to_path_buf(),
            detail,
        })
    };
    if protocol.verification.is_empty() {
        return Ok(()); // this copy's protocol has no verification part
    }
    let folds: BTreeSet<usize> = protocol.verification.iter().map(|p| p.fold).collect();
    for &f in &folds {
        let (m, mm) = count_pairs(protocol.verification.iter().filter(|p| p.fold == f));
        if m == 0 || mm == 0 {
            return bad(format!(
                "{} has {m} matched and {mm} mismatched pairs that could be loaded; verification needs at least one of each",
                protocol.fold_name(f)
            ));
        }
    }
    if protocol.calibration.is_empty() {
        if folds.len() < 2 {
            let only = folds.first().map_or(0, |&f| f);
            return bad(format!(
                "{}: no other pairs to choose the verification thresholds on ({calibration_source} has none), and one fold cannot be cross-validated",
                protocol.fold_name(only)
            ));
        }
        return Ok(());
    }
    let (m, mm) = count_pairs(&protocol.calibration);
    if m == 0 || mm == 0 {
        return bad(format!(
            "the verification thresholds are chosen on {calibration_source}, which has {m} matched and {mm} mismatched pairs usable; at least one of each is needed"
        ));
    }
    Ok(())
}

/// The fold `opts` asks for, checked against the folds the copy has.
pub(crate) fn chosen_fold(
    root: &Path,
    opts: &LoadOptions,
    folds: &FoldCount,
) -> Result<usize, LoadError> {
    let fold = opts.fold_or_first();
    if fold == 0 || fold > folds.count {
        return Err(LoadError::NoSuchFold {
            path: root.to_path_buf(),
            fold,
            count: folds.count,
            source_files: folds.source.clone(),
        });
    }
    Ok(fold)
}

/// An error when a fold is asked of data without published folds.
pub(crate) fn refuse_fold(root: &Path, opts: &LoadOptions, why: &str) -> Result<(), LoadError> {
    match opts.fold {
        Some(fold) => Err(LoadError::NoFolds {
            path: root.to_path_buf(),
            fold,
            why: why.to_string(),
        }),
        None => Ok(()),
    }
}

/// ", the default; choose another with --fold K" when no fold was asked for.
pub(crate) fn default_note(opts: &LoadOptions) -> &'static str {
    if opts.fold.is_none() {
        " (the default; choose another with --fold K)"
    } else {
        ""
    }
}

/// Up to `max` names, then how many more: "Ann, Bob and 3 more".
pub(crate) fn some_names<'a>(names: impl IntoIterator<Item = &'a str>, max: usize) -> String {
    let all: Vec<&str> = names.into_iter().collect();
    let shown: Vec<String> = all.iter().take(max).map(|n| format!("`{n}`")).collect();
    let mut text = shown.join(", ");
    if all.len() > max {
        text.push_str(&format!(" and {} more", all.len() - max));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(same: bool, fold: usize) -> VerificationPair {
        VerificationPair {
            a: 0,
            b: 1,
            same,
            fold,
        }
    }

    #[test]
    fn unusable_folds_are_named() {
        let root = Path::new("/data/wc");
        let mut p = Protocol {
            verification: vec![pair(true, 2), pair(true, 2)],
            calibration: vec![pair(true, 0), pair(false, 1)],
            ..Protocol::default()
        };
        p.fold_names.insert(2, "RestrictedView2.txt fold 3".into());
        let err = check_evaluable(root, &p, "the other folds")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "cannot evaluate the protocol of /data/wc: RestrictedView2.txt fold 3 has 2 matched and 0 mismatched pairs that could be loaded; verification needs at least one of each"
        );
        p.verification.push(pair(false, 2));
        assert!(check_evaluable(root, &p, "the other folds").is_ok());
        p.calibration.retain(|c| c.same);
        let err = check_evaluable(root, &p, "validation.txt")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("chosen on validation.txt, which has 1 matched and 0 mismatched"),
            "{err}"
        );
        p.calibration.clear();
        let err = check_evaluable(root, &p, "validation.txt")
            .unwrap_err()
            .to_string();
        assert!(err.contains("one fold cannot be cross-validated"), "{err}");
        p.verification.extend([pair(true, 4), pair(false, 4)]);
        assert!(
            check_evaluable(root, &p, "").is_ok(),
            "two folds cross-validate"
        );
    }

    #[test]
    fn names_are_cut_short() {
        assert_eq!(some_names(["Zoë Ball"], 3), "`Zoë Ball`");
        assert_eq!(some_names(["a", "b", "c", "d"], 2), "`a`, `b` and 2 more");
    }
}
