//! The generic `folder:` layout: `PATH/<identity>/{photo,caricature}/…`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::assemble::{finish, seeded_splits};
use super::decode::{Entry, Landmarks};
use super::detect::{layout_hint, modality_folder};
use super::options::{LoadError, LoadOptions, MAX_NESTING};
use super::protocol::refuse_fold;
use super::scan::{
    DirItem, Kind, Walk, check_root, image_name, is_ignored_file, list_dir, rel_display, start_dir,
    walk_twice,
};
use crate::data::dataset::LoadMonitor;
use crate::data::{Dataset, LoadReport, Modality, ProtocolFacts};

/// Collects image files under `dir` (recursively, up to `depth` more levels), reporting
/// non-images, special files, and folders already walked.
fn collect_images(
    walk: &mut Walk,
    dir: &DirItem,
    depth: usize,
    out: &mut Vec<PathBuf>,
    report: &mut LoadReport,
) {
    let items = match list_dir(dir) {
        Ok(items) => items,
        Err(e) => {
            report.skipped_images.push((
                dir.path.display().to_string(),
                format!("folder not read: {e}"),
            ));
            return;
        }
    };
    for item in items {
        if is_ignored_file(&item.name) {
            continue;
        }
        let outcome = if !item.is_dir() {
            walk.take(&item).and_then(|()| image_name(&item.name))
        } else if depth == 0 {
            Err("folder nested too deep: not read".to_string())
        } else {
            walk.enter(&item)
        };
        match outcome {
            Ok(()) if item.is_dir() => collect_images(walk, &item, depth - 1, out, report),
            Ok(()) => out.push(item.path),
            Err(why) => report
                .skipped_images
                .push((item.path.display().to_string(), why)),
        }
    }
}

/// What a scan of the tree found.
#[derive(Default)]
struct Scan {
    names: Vec<String>,
    entries: Vec<Entry>,
    report: LoadReport,
    /// Whether any identity folder holds a photo/ or caricature/ folder.
    any_layout: bool,
}

/// One pass over `root/<identity>/{photo,caricature}/…`.
fn scan(walk: &mut Walk, root: &Path) -> Result<Scan, LoadError> {
    let mut found = Scan::default();
    let top = start_dir(root)?;
    // The root is canonical, so this never refuses it; if it did, this pass finds nothing.
    if walk.enter(&top).is_err() {
        return Ok(found);
    }
    for id in list_dir(&top)? {
        if is_ignored_file(&id.name) {
            continue;
        }
        // Plain files next to the identity folders are silently not read; an entry that cannot
        // be resolved (a dangling link meant as an identity folder…) or a special file is
        // reported, as is a folder already walked.
        let outcome = match id.kind {
            Kind::File => continue,
            Kind::Dir => walk.enter(&id),
            _ => Err(id.problem().unwrap_or_default()),
        };
        match outcome {
            Ok(()) => scan_identity(walk, &id, root, &mut found),
            Err(why) => found
                .report
                .skipped_images
                .push((id.path.display().to_string(), why)),
        }
    }
    Ok(found)
}

/// Scans one identity folder into `found`.
fn scan_identity(walk: &mut Walk, id: &DirItem, root: &Path, found: &mut Scan) {
    let report = &mut found.report;
    let subs = match list_dir(id) {
        Ok(subs) => subs,
        Err(e) => {
            report
                .excluded_identities
                .push((id.name.clone(), format!("{e}: left out of every task")));
            return;
        }
    };
    let mut per_modality: BTreeMap<&'static str, (Modality, Vec<PathBuf>)> = BTreeMap::new();
    let mut strays = Vec::new();
    for sub in subs {
        if is_ignored_file(&sub.name) {
            continue;
        }
        let path = sub.path.display().to_string();
        match modality_folder(&sub.name) {
            Some(m) if sub.is_dir() => match walk.enter(&sub) {
                Ok(()) => {
                    let slot = per_modality
                        .entry(m.as_str())
                        .or_insert_with(|| (m, Vec::new()));
                    collect_images(walk, &sub, MAX_NESTING, &mut slot.1, report);
                }
                Err(why) => strays.push((path, why)),
            },
            _ => strays.push((
                path,
                "not inside a photo/ or caricature/ folder: not read".to_string(),
            )),
        }
    }
    if per_modality.is_empty() {
        report.excluded_identities.push((
            id.name.clone(),
            "no photo/ or caricature/ folder: left out of every task".to_string(),
        ));
        return;
    }
    report.skipped_images.extend(strays);
    found.any_layout = true;
    let identity = found.names.len();
    found.names.push(id.name.clone());
    for (m, files) in per_modality.into_values() {
        for file in files {
            let key = rel_display(root, &file);
            found.entries.push(Entry {
                path: file,
                identity,
                modality: m,
                key,
                landmarks: Landmarks::NotUsed,
            });
        }
    }
}

/// Loads `PATH/<identity>/{photo,caricature}/…`. No protocol.
pub(crate) fn load_folder(
    path: &Path,
    opts: &LoadOptions,
    progress: &dyn LoadMonitor,
) -> Result<Dataset, LoadError> {
    let root = check_root(path)?;
    let wrong = |hint: String| LoadError::WrongLayout {
        path: root.clone(),
        expected: "<identity>/photo/ and <identity>/caricature/ folders",
        layout: "folder",
        hint,
    };
    // A WebCaricature or CaVI tree would be misread as identities named `CaVI_Dataset` etc.
    let hint = layout_hint(&root, "folder");
    if !hint.is_empty() {
        return Err(wrong(hint));
    }
    let found = walk_twice(|walk| scan(walk, &root))?;
    if !found.any_layout {
        return Err(wrong(String::new()));
    }
    refuse_fold(
        &root,
        opts,
        "the folder: layout holds out identities of its own",
    )?;
    let (assembled, mut report) = finish(
        "folder",
        &root,
        &found.names,
        &found.entries,
        opts,
        progress,
        found.report,
    )?;
    let (splits, excluded) = seeded_splits(&assembled.images, opts);
    report.excluded_identities.extend(excluded);
    let facts = ProtocolFacts::held_out(
        "held-out identities (seeded split)",
        &assembled.images,
        &splits,
    );
    Ok(Dataset {
        name: format!("folder:{}", root.display()),
        images: assembled.images,
        splits,
        protocol: None,
        facts,
        published_folds: None,
        report,
    })
}
