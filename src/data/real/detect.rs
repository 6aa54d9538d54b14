//! Recognising a dataset's layout from its folder, for the window's "Open dataset…" and for
//! hints when a tree does not have the layout asked for.

use std::fs;
use std::path::Path;

use super::scan::find_child_dir;
use crate::data::Modality;

/// The real-data layouts the loaders understand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    WebCaricature,
    Cavi,
    Folder,
}

impl Layout {
    /// The spec prefix, e.g. `webcaricature` in `webcaricature:PATH`.
    pub fn key(self) -> &'static str {
        match self {
            Layout::WebCaricature => "webcaricature",
            Layout::Cavi => "cavi",
            Layout::Folder => "folder",
        }
    }

    /// The layout in words, after "this looks like".
    pub fn description(self) -> &'static str {
        match self {
            Layout::WebCaricature => "a WebCaricature",
            Layout::Cavi => "a CaVI",
            Layout::Folder => "a <identity>/{photo,caricature}",
        }
    }
}

/// What a dataset folder must look like, for messages when none is recognised.
pub const EXPECTED_LAYOUTS: &str = "a WebCaricature folder (with OriginalImages/), a CaVI folder (with CaVI_Dataset/ or Caricature/ and Real/), or folders <identity>/photo and <identity>/caricature";

/// The layout `root` looks like, if any (WebCaricature first, then CaVI, then `folder:`).
pub fn detect_layout(root: &Path) -> Option<Layout> {
    if find_child_dir(root, "OriginalImages").is_some()
        || find_child_dir(root, "WebCaricature")
            .is_some_and(|inner| find_child_dir(&inner, "OriginalImages").is_some())
    {
        Some(Layout::WebCaricature)
    } else if find_child_dir(root, "CaVI_Dataset").is_some()
        || (find_child_dir(root, "Caricature").is_some() && find_child_dir(root, "Real").is_some())
    {
        Some(Layout::Cavi)
    } else if looks_like_folder_layout(root) {
        Some(Layout::Folder)
    } else {
        None
    }
}

/// Which layout `root` looks like, for hints in wrong-layout errors.
pub(crate) fn layout_hint(root: &Path, asked: &str) -> String {
    match detect_layout(root) {
        Some(layout) if layout.key() != asked => format!(
            "; this looks like {} tree: use {}:{}",
            layout.description(),
            layout.key(),
            root.display()
        ),
        _ => String::new(),
    }
}

pub(crate) fn modality_folder(name: &str) -> Option<Modality> {
    match name.to_ascii_lowercase().as_str() {
        "photo" | "photos" => Some(Modality::Photo),
        "caricature" | "caricatures" => Some(Modality::Caricature),
        _ => None,
    }
}

fn looks_like_folder_layout(root: &Path) -> bool {
    let Ok(ids) = fs::read_dir(root) else {
        return false;
    };
    ids.flatten().take(64).any(|id| {
        fs::read_dir(id.path()).is_ok_and(|subs| {
            subs.flatten().any(|s| {
                modality_folder(&s.file_name().to_string_lossy()).is_some() && s.path().is_dir()
            })
        })
    })
}
