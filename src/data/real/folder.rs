//! The generic `folder:` layout: `PATH/<identity>/{photo,caricature}/…`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::assemble::finish;
use super::decode::{Entry, Landmarks};
use super::detect::{layout_hint, modality_folder};
use super::options::{LoadError, LoadOptions};
use super::scan::{
    NOT_AN_IMAGE, check_root, has_image_extension, is_ignored_file, list_dir, rel_display,
};
use crate::data::{Dataset, LoadReport, Modality};

/// Collects image files under `dir` (recursively, up to `depth` levels), reporting non-images.
fn collect_images(dir: &Path, depth: usize, out: &mut Vec<PathBuf>, report: &mut LoadReport) {
    let items = match list_dir(dir) {
        Ok(items) => items,
        Err(e) => {
            report
                .skipped_images
                .push((dir.display().to_string(), format!("folder not read: {e}")));
            return;
        }
    };
    for item in items {
        if is_ignored_file(&item.name) {
            continue;
        }
        if item.is_dir {
            if depth > 0 {
                collect_images(&item.path, depth - 1, out, report);
            } else {
                report.skipped_images.push((
                    item.path.display().to_string(),
                    "folder nested too deep: not read".to_string(),
                ));
            }
        } else if has_image_extension(&item.name) {
            out.push(item.path);
        } else {
            report
                .skipped_images
                .push((item.path.display().to_string(), NOT_AN_IMAGE.to_string()));
        }
    }
}

/// Loads `PATH/<identity>/{photo,caricature}/…`. No protocol.
pub(crate) fn load_folder(
    path: &Path,
    opts: &LoadOptions,
    progress: &(dyn Fn(f32) + Sync),
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
    let mut report = LoadReport::default();
    let mut names = Vec::new();
    let mut entries = Vec::new();
    let mut any_layout = false;
    for id in list_dir(&root)? {
        if !id.is_dir || is_ignored_file(&id.name) {
            continue;
        }
        let subs = match list_dir(&id.path) {
            Ok(subs) => subs,
            Err(e) => {
                report
                    .excluded_identities
                    .push((id.name.clone(), format!("{e}: left out of every task")));
                continue;
            }
        };
        let mut per_modality: BTreeMap<&'static str, (Modality, Vec<PathBuf>)> = BTreeMap::new();
        let mut strays = Vec::new();
        for sub in subs {
            if is_ignored_file(&sub.name) {
                continue;
            }
            match modality_folder(&sub.name) {
                Some(m) if sub.is_dir => {
                    let slot = per_modality
                        .entry(m.as_str())
                        .or_insert_with(|| (m, Vec::new()));
                    collect_images(&sub.path, 4, &mut slot.1, &mut report);
                }
                _ => strays.push((
                    sub.path.display().to_string(),
                    "not inside a photo/ or caricature/ folder: not read".to_string(),
                )),
            }
        }
        if per_modality.is_empty() {
            report.excluded_identities.push((
                id.name.clone(),
                "no photo/ or caricature/ folder: left out of every task".to_string(),
            ));
            continue;
        }
        report.skipped_images.extend(strays);
        any_layout = true;
        let identity = names.len();
        names.push(id.name.clone());
        for (m, files) in per_modality.into_values() {
            for file in files {
                let key = rel_display(&root, &file);
                entries.push(Entry {
                    path: file,
                    identity,
                    modality: m,
                    key,
                    landmarks: Landmarks::NotUsed,
                });
            }
        }
    }
    if !any_layout {
        return Err(wrong(String::new()));
    }
    let (assembled, splits, report) =
        finish("folder", &root, &names, &entries, opts, progress, report)?;
    Ok(Dataset {
        name: format!("folder:{}", root.display()),
        images: assembled.images,
        splits,
        protocol: None,
        report,
    })
}
