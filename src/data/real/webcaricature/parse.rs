//! Reading WebCaricature's protocol files under `EvaluationProtocols/`: View 2's pairs with the
//! folds they are listed in, and the C2P/P2C gallery/probe lists, each resolved to loaded
//! images and to the people they name (also when a line's image could not be read, so that a
//! fold's people are known whatever its images).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::super::assemble::Assembled;
use super::super::options::{FoldCount, MAX_NESTING};
use super::super::read::read_text;
use super::super::scan::{
    DirItem, Walk, file_stem, has_image_extension, list_dir, rel_display, start_dir, walk_twice,
};
use crate::data::VerificationPair;

/// Finds the sample, and the person, a protocol line names.
pub(super) struct Resolver<'a> {
    assembled: &'a Assembled,
    lower: HashMap<String, usize>,
    scanned: &'a HashSet<&'a str>,
    /// Identity name (as is, and lower-cased) → identity index of the loaded images.
    people: HashMap<String, usize>,
}

impl<'a> Resolver<'a> {
    pub(super) fn new(assembled: &'a Assembled, scanned: &'a HashSet<&'a str>) -> Self {
        let lower = assembled
            .by_key
            .iter()
            .map(|(k, &v)| (k.to_lowercase(), v))
            .collect();
        let mut people = HashMap::new();
        for (i, name) in assembled.images.identities.iter().enumerate() {
            people.entry(name.to_lowercase()).or_insert(i);
        }
        for (i, name) in assembled.images.identities.iter().enumerate() {
            people.insert(name.clone(), i);
        }
        Resolver {
            assembled,
            lower,
            scanned,
            people,
        }
    }

    fn find(&self, person: &str, image: &str) -> Result<usize, String> {
        let image = image.rsplit(['/', '\\']).next().unwrap_or(image);
        let stem = if has_image_extension(image) {
            file_stem(image)
        } else {
            image
        };
        let key = format!("{person}/{stem}");
        if let Some(&i) = self.assembled.by_key.get(&key) {
            return Ok(i);
        }
        if let Some(&i) = self.lower.get(&key.to_lowercase()) {
            return Ok(i);
        }
        if self.assembled.skipped_keys.contains(&key) {
            Err(format!(
                "image {key} could not be read (see skipped images)"
            ))
        } else if !self.scanned.contains(person) {
            Err(format!("unknown person `{person}`"))
        } else {
            Err(format!("no image {key} in OriginalImages/"))
        }
    }

    /// The identity a name refers to: exact, else ignoring case; None for a person with no
    /// loaded image (absent from `OriginalImages/`, or none of their images could be read).
    fn person(&self, name: &str) -> Option<usize> {
        self.people
            .get(name)
            .or_else(|| self.people.get(&name.to_lowercase()))
            .copied()
    }
}

/// A View 2 pair whose two images were loaded, and the people its line names.
pub(super) struct ListedPair {
    pub pair: VerificationPair,
    pub people: [Option<usize>; 2],
}

/// `RestrictedView2.txt`, read.
pub(super) struct View2 {
    /// Its path relative to the dataset root.
    pub label: String,
    /// Folds listed (0 when no line is a pair).
    pub folds: usize,
    /// Every pair whose images were loaded, in file order, with its listed fold (0-based).
    pub pairs: Vec<ListedPair>,
    /// Fold → the loaded people its lines name (whether or not their images could be read).
    pub people: BTreeMap<usize, BTreeSet<usize>>,
    /// Fold → the names its lines give that match no loaded person.
    pub unknown: BTreeMap<usize, BTreeSet<String>>,
    /// Fold → pair lines it lists (loaded or not).
    pub listed: BTreeMap<usize, usize>,
}

/// A gallery or probe list, read.
pub(super) struct ImageList {
    pub label: String,
    /// The images it names that were loaded, in file order.
    pub samples: Vec<usize>,
    /// The loaded people it names.
    pub people: BTreeSet<usize>,
    /// Names matching no loaded person.
    pub unknown: BTreeSet<String>,
}

/// One C2P or P2C split: its gallery and probe lists.
pub(super) struct IdentificationSplit {
    pub gallery: ImageList,
    pub probes: ImageList,
}

/// Everything `EvaluationProtocols/` defines.
pub(super) struct Published {
    pub view2: Option<View2>,
    /// Split number (1-based, from the file names) → lists.
    pub c2p: BTreeMap<u32, IdentificationSplit>,
    pub p2c: BTreeMap<u32, IdentificationSplit>,
}

impl Published {
    /// Folds of the protocol: View 2's, and as many as the highest identification split.
    pub fn fold_count(&self) -> usize {
        let view2 = self.view2.as_ref().map_or(0, |v| v.folds);
        let split = |m: &BTreeMap<u32, IdentificationSplit>| {
            m.keys().next_back().map_or(0, |&k| k as usize)
        };
        view2.max(split(&self.c2p)).max(split(&self.p2c))
    }
}

/// The protocol files found under `EvaluationProtocols/`.
struct ProtocolFiles {
    view2: Option<PathBuf>,
    /// (c2p, k) → (gallery, probe).
    identification: BTreeMap<(bool, u32), (Option<PathBuf>, Option<PathBuf>)>,
}

impl ProtocolFiles {
    fn find(dir: &Path) -> ProtocolFiles {
        let mut found = ProtocolFiles {
            view2: None,
            identification: BTreeMap::new(),
        };
        for f in protocol_files(dir) {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            if name == "restrictedview2.txt" {
                found.view2.get_or_insert(f);
            } else if let Some((gallery, c2p, k)) = identification_file(&name) {
                let slot = found.identification.entry((c2p, k)).or_default();
                if gallery {
                    slot.0 = Some(f);
                } else {
                    slot.1 = Some(f);
                }
            }
        }
        found
    }

    fn is_empty(&self) -> bool {
        self.view2.is_none() && self.identification.is_empty()
    }

    /// The complete gallery/probe pairs: (c2p, k, gallery, probe); incomplete ones reported.
    fn complete_splits(&self, problems: &mut Vec<String>) -> Vec<(bool, u32, &Path, &Path)> {
        let mut out = Vec::new();
        for (&(c2p, k), (gallery, probe)) in &self.identification {
            let dir_name = direction(c2p);
            match (gallery, probe) {
                (Some(g), Some(p)) => out.push((c2p, k, g.as_path(), p.as_path())),
                _ => problems.push(format!(
                    "{dir_name} fold {k}: FR_Gallery_{dir_name}{k}.txt and FR_Probe_{dir_name}{k}.txt are not both present; fold skipped"
                )),
            }
        }
        out
    }
}

fn direction(c2p: bool) -> &'static str {
    if c2p { "C2P" } else { "P2C" }
}

/// Reads every protocol file under `dir`; None when there is none.
pub(super) fn read_published(
    root: &Path,
    dir: &Path,
    resolver: &Resolver<'_>,
    problems: &mut Vec<String>,
) -> Option<Published> {
    let files = ProtocolFiles::find(dir);
    if files.is_empty() {
        return None;
    }
    let mut published = Published {
        view2: None,
        c2p: BTreeMap::new(),
        p2c: BTreeMap::new(),
    };
    if let Some(file) = &files.view2 {
        let label = rel_display(root, file);
        match read_text(file) {
            Ok(text) => {
                let mut found = Vec::new();
                let lines = listed_lines(&text, &label, &mut found);
                published.view2 = Some(resolve_view2(label, &lines, resolver, &mut found));
                // Report lines in file order, malformed and unresolved alike.
                found.sort_by_key(|(line, _)| *line);
                problems.extend(found.into_iter().map(|(_, text)| text));
            }
            Err(e) => problems.push(format!("{label}:1: {e}")),
        }
    }
    for (c2p, k, gallery, probe) in files.complete_splits(problems) {
        let split = IdentificationSplit {
            gallery: parse_image_list(root, gallery, resolver, problems),
            probes: parse_image_list(root, probe, resolver, problems),
        };
        let slot = if c2p {
            &mut published.c2p
        } else {
            &mut published.p2c
        };
        slot.insert(k, split);
    }
    Some(published)
}

/// The folds `dir`'s protocol files define, read without any image: View 2's folds, or as
/// many as the highest identification split. None when there is no protocol file.
pub(super) fn count_folds(root: &Path, dir: &Path) -> Option<FoldCount> {
    let files = ProtocolFiles::find(dir);
    if files.is_empty() {
        return None;
    }
    let mut ignored = Vec::new();
    let mut sources = Vec::new();
    let mut count = 0;
    if let Some(file) = &files.view2
        && let Ok(text) = read_text(file)
    {
        let folds = listed_lines(&text, "", &mut Vec::new())
            .last()
            .map_or(0, |l| l.fold + 1);
        count = folds;
        sources.push(format!("View 2 of {}", rel_display(root, file)));
    }
    let splits = files.complete_splits(&mut ignored);
    if let Some(&(_, k, _, _)) = splits.iter().max_by_key(|s| s.1) {
        count = count.max(k as usize);
        sources.push("C2P/P2C splits of EvaluationProtocols/FaceIdentification".to_string());
    }
    Some(FoldCount {
        count,
        source: sources.join(" and "),
    })
}

/// The `.txt` files under `dir`, each real file once (loops and repeated folders are cut
/// silently: they would only repeat files). Special files are listed: reading them reports
/// what they are.
fn protocol_files(dir: &Path) -> Vec<PathBuf> {
    let walked = walk_twice(|walk| {
        let mut out = Vec::new();
        let top = start_dir(dir)?;
        if walk.enter(&top).is_ok() {
            collect_txt(walk, &top, MAX_NESTING, &mut out);
        }
        Ok(out)
    });
    walked.unwrap_or_default()
}

fn collect_txt(walk: &mut Walk, dir: &DirItem, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(items) = list_dir(dir) else {
        return;
    };
    for item in items {
        if item.is_dir() {
            if depth > 0 && walk.enter(&item).is_ok() {
                collect_txt(walk, &item, depth - 1, out);
            }
        } else if item.name.to_ascii_lowercase().ends_with(".txt")
            && walk.first_sighting(&item).is_ok()
        {
            out.push(item.path);
        }
    }
}

/// `fr_gallery_c2p3.txt` → (gallery, c2p, 3); anything else (e.g. `_dev` files) → None.
fn identification_file(lower: &str) -> Option<(bool, bool, u32)> {
    let rest = lower.strip_prefix("fr_")?.strip_suffix(".txt")?;
    let (gallery, rest) = if let Some(r) = rest.strip_prefix("gallery_") {
        (true, r)
    } else {
        (false, rest.strip_prefix("probe_")?)
    };
    let (c2p, digits) = if let Some(d) = rest.strip_prefix("c2p") {
        (true, d)
    } else {
        (false, rest.strip_prefix("p2c")?)
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((gallery, c2p, digits.parse().ok()?))
}

/// Splits a protocol line into fields: by tabs when it has any, else by whitespace.
fn fields(line: &str) -> (Vec<&str>, bool) {
    if line.contains('\t') {
        (
            line.split('\t')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .collect(),
            true,
        )
    } else {
        (line.split_whitespace().collect(), false)
    }
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `C00001`, `p12.jpg`: a WebCaricature image name.
fn is_image_token(s: &str) -> bool {
    let s = if has_image_extension(s) {
        file_stem(s)
    } else {
        s
    };
    let mut chars = s.chars();
    matches!(chars.next(), Some('C' | 'c' | 'P' | 'p')) && is_number(chars.as_str())
}

/// (name A, image A, name B, image B) of a verification line.
fn split_pair<'a>(fields: &[&'a str], tabbed: bool) -> Option<(String, &'a str, String, &'a str)> {
    if tabbed {
        return match *fields {
            [n, a, b] => Some((n.to_string(), a, n.to_string(), b)),
            [na, a, nb, b] => Some((na.to_string(), a, nb.to_string(), b)),
            _ => None,
        };
    }
    let images: Vec<usize> = (0..fields.len())
        .filter(|&i| i > 0 && is_image_token(fields[i]))
        .collect();
    let (&[i1, i2], true) = (images.as_slice(), fields.len() >= 3) else {
        return None;
    };
    if i2 != fields.len() - 1 {
        return None;
    }
    let name_a = fields[..i1].join(" ");
    let name_b = if i2 == i1 + 1 {
        name_a.clone()
    } else {
        fields[i1 + 1..i2].join(" ")
    };
    Some((name_a, fields[i1], name_b, fields[i2]))
}

/// One View 2 pair line as written, with the fold (0-based) it belongs to.
pub(super) struct ListedLine<'t> {
    line_no: usize,
    pub fold: usize,
    name_a: String,
    img_a: &'t str,
    name_b: String,
    img_b: &'t str,
}

/// The pair lines of View 2 with their folds. A new fold starts at a count line that follows
/// pairs, at a matched line that follows a mismatched one, or when a block already holds the
/// 2·N pairs its count line announced. Malformed lines are reported and skipped (they do not
/// start a fold).
pub(super) fn listed_lines<'t>(
    text: &'t str,
    label: &str,
    problems: &mut Vec<(usize, String)>,
) -> Vec<ListedLine<'t>> {
    let mut out = Vec::new();
    let mut fold = 0usize;
    let mut per_block: Option<usize> = None;
    let mut block_pairs = 0usize;
    let mut last_matched: Option<bool> = None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let (f, tabbed) = fields(line);
        if f.len() <= 2 && f.iter().all(|t| is_number(t)) {
            if block_pairs > 0 {
                fold += 1;
                block_pairs = 0;
                last_matched = None;
            }
            per_block = f.last().and_then(|t| t.parse().ok()).filter(|&n| n > 0);
            continue;
        }
        let Some((name_a, img_a, name_b, img_b)) = split_pair(&f, tabbed) else {
            problems.push((
                line_no,
                format!(
                    "{label}:{line_no}: expected `Name<TAB>C…<TAB>P…` or `NameA<TAB>C…<TAB>NameB<TAB>P…`"
                ),
            ));
            continue;
        };
        let matched = f.len() == 3 || (!tabbed && name_a == name_b);
        let full = per_block.is_some_and(|n| block_pairs >= 2 * n);
        if block_pairs > 0 && (full || (matched && last_matched == Some(false))) {
            fold += 1;
            block_pairs = 0;
        }
        block_pairs += 1;
        last_matched = Some(matched);
        out.push(ListedLine {
            line_no,
            fold,
            name_a,
            img_a,
            name_b,
            img_b,
        });
    }
    out
}

/// View 2's lines resolved to images and people; lines naming an image that was not loaded
/// are reported with their line numbers (their people still count as the fold's).
fn resolve_view2(
    label: String,
    lines: &[ListedLine<'_>],
    resolver: &Resolver<'_>,
    problems: &mut Vec<(usize, String)>,
) -> View2 {
    let mut view2 = View2 {
        folds: lines.last().map_or(0, |l| l.fold + 1),
        pairs: Vec::new(),
        people: BTreeMap::new(),
        unknown: BTreeMap::new(),
        listed: BTreeMap::new(),
        label,
    };
    for l in lines {
        *view2.listed.entry(l.fold).or_default() += 1;
        let people = [resolver.person(&l.name_a), resolver.person(&l.name_b)];
        for (name, person) in [(&l.name_a, people[0]), (&l.name_b, people[1])] {
            match person {
                Some(id) => view2.people.entry(l.fold).or_default().insert(id),
                None => view2
                    .unknown
                    .entry(l.fold)
                    .or_default()
                    .insert(name.clone()),
            };
        }
        match (
            resolver.find(&l.name_a, l.img_a),
            resolver.find(&l.name_b, l.img_b),
        ) {
            (Ok(a), Ok(b)) => view2.pairs.push(ListedPair {
                pair: VerificationPair {
                    a,
                    b,
                    same: l.name_a == l.name_b,
                    fold: l.fold,
                },
                people,
            }),
            (Err(e), _) | (_, Err(e)) => {
                problems.push((l.line_no, format!("{}:{}: {e}", view2.label, l.line_no)));
            }
        }
    }
    view2
}

/// A gallery or probe list: identity first and image last on each line.
fn parse_image_list(
    root: &Path,
    file: &Path,
    resolver: &Resolver<'_>,
    problems: &mut Vec<String>,
) -> ImageList {
    let mut list = ImageList {
        label: rel_display(root, file),
        samples: Vec::new(),
        people: BTreeSet::new(),
        unknown: BTreeSet::new(),
    };
    let text = match read_text(file) {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("{}:1: {e}", list.label));
            return list;
        }
    };
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let (f, tabbed) = fields(line);
        if f.len() == 1 && is_number(f[0]) {
            continue; // a count line
        }
        let Some(&image) = f.last() else {
            continue;
        };
        if f.len() < 2 {
            problems.push(format!(
                "{}:{line_no}: expected `identity … image`, found one field",
                list.label
            ));
            continue;
        }
        let candidates = name_candidates(&f, tabbed);
        match candidates.iter().find_map(|c| resolver.person(c)) {
            Some(id) => list.people.insert(id),
            None => list.unknown.insert(candidates[0].clone()),
        };
        let mut first_err = None;
        let found = candidates
            .iter()
            .find_map(|c| match resolver.find(c, image) {
                Ok(i) => Some(i),
                Err(e) => {
                    first_err.get_or_insert(e);
                    None
                }
            });
        match (found, first_err) {
            (Some(i), _) => list.samples.push(i),
            (None, Some(e)) => problems.push(format!("{}:{line_no}: {e}", list.label)),
            (None, None) => {}
        }
    }
    list
}

/// Candidate identity names of a list line (never empty): the first field (tabs), or the words
/// before the image, then the same without trailing numeric fields (e.g. a label column).
fn name_candidates(f: &[&str], tabbed: bool) -> Vec<String> {
    let head = &f[..f.len() - 1];
    let name = |words: &[&str]| {
        if tabbed {
            words[0].to_string()
        } else {
            words.join(" ")
        }
    };
    let mut candidates = vec![name(head)];
    let mut words = head;
    while words.len() > 1 && words.last().is_some_and(|w| is_number(w)) {
        words = &words[..words.len() - 1];
        candidates.push(name(words));
    }
    candidates
}
