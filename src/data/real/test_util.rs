//! Test helpers shared by the loader modules' tests.
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Writes a small JPEG of one colour.
pub fn write_jpeg(path: &Path, w: u32, h: u32, rgb: [u8; 3]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = image::RgbImage::from_pixel(w, h, image::Rgb(rgb));
    img.save_with_format(path, image::ImageFormat::Jpeg)
        .unwrap();
}

pub fn write_png(path: &Path, img: &image::RgbImage) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    img.save_with_format(path, image::ImageFormat::Png).unwrap();
}

pub fn write_text(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG whose (valid, CRC-correct) header claims `w`×`h` pixels, with no pixel data.
pub fn huge_png_bytes(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    out
}

/// Every entry under `root`, links not followed: a file's bytes and mtime, a link's target, a
/// special file's mtime (never opened: reading a FIFO would block).
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, (Vec<u8>, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            let t = m.file_type();
            let bytes = if t.is_dir() {
                stack.push(p.clone());
                continue;
            } else if t.is_symlink() {
                fs::read_link(&p)
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else if t.is_file() {
                fs::read(&p).unwrap()
            } else {
                b"special".to_vec()
            };
            out.insert(p, (bytes, m.modified().unwrap()));
        }
    }
    out
}

pub fn no_progress(_: f32) {}

/// Makes a FIFO at `path` with the `mkfifo` command; fails the test loudly if it cannot.
#[cfg(unix)]
pub fn mkfifo(path: &Path) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap_or_else(|e| panic!("mkfifo is needed for this test and could not run: {e}"));
    assert!(
        status.success(),
        "mkfifo {} failed: {status}",
        path.display()
    );
}

/// A symbolic link at `link` to `target` (relative targets are relative to the link's folder).
#[cfg(unix)]
pub fn symlink(target: impl AsRef<Path>, link: &Path) {
    fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// Runs `f` on a thread and returns its result; fails the test if it takes longer than `limit`
/// (e.g. an `open` blocked on a FIFO), instead of hanging the test run.
pub fn finishes_within<T: Send + 'static>(
    limit: std::time::Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (send, recv) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(f());
    });
    match recv.recv_timeout(limit) {
        Ok(value) => value,
        Err(e) => panic!("did not finish within {limit:?} ({e}): blocked?"),
    }
}

/// This process's resident memory in bytes (`VmRSS` of /proc/self/status).
#[cfg(target_os = "linux")]
pub fn resident_bytes() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// `root/id<i>/{photo,caricature}/…`: 6 identities × (12 photos + 12 caricatures) = 144 images,
/// each identity and modality its own colour.
pub fn folder_tree_144(root: &Path) {
    for i in 0..6u8 {
        for k in 0..12 {
            let id = root.join(format!("id{i}"));
            write_jpeg(&id.join(format!("photo/p{k}.jpg")), 10, 10, [i * 40, 0, 0]);
            write_jpeg(
                &id.join(format!("caricature/c{k}.jpg")),
                10,
                10,
                [0, i * 40, 0],
            );
        }
    }
}

/// `OriginalImages/<name>/{C,P}0000k.jpg`, k = 1..=3, for each of `people`, with a landmark file
/// for every image.
pub fn webcaricature_tree(root: &Path, people: &[&str]) {
    let points: String = (0..17)
        .map(|i| format!("{} {}\n", 2 + i % 5, 2 + i % 7))
        .collect();
    for (i, person) in people.iter().enumerate() {
        for k in 1..=3 {
            for tag in ["C", "P"] {
                let name = format!("{tag}{k:05}");
                let shade = (i * 40 + k) as u8;
                let img = root.join(format!("OriginalImages/{person}/{name}.jpg"));
                write_jpeg(&img, 12, 12, [shade, 0, 0]);
                write_text(
                    &root.join(format!("FacialPoints/{person}/{name}.txt")),
                    &points,
                );
            }
        }
    }
}

/// `CaVI_Dataset/{Caricature,Real}/<name>/<name>_{c,r}_k.jpg`, k = 1..=2, for each of `people`.
pub fn cavi_tree(root: &Path, people: &[&str]) -> PathBuf {
    let ds = root.join("CaVI_Dataset");
    for (i, person) in people.iter().enumerate() {
        for k in 1..=2 {
            for (folder, tag) in [("Caricature", "c"), ("Real", "r")] {
                let file = ds.join(format!("{folder}/{person}/{person}_{tag}_{k}.jpg"));
                write_jpeg(&file, 12, 12, [(i * 40) as u8, k, 0]);
            }
        }
    }
    ds
}

/// `n` person names with spaces, accents and apostrophes, as WebCaricature writes them.
pub fn protocol_people(n: usize) -> Vec<String> {
    const NAMED: [&str; 8] = [
        "José María Aznar",
        "Zoë Ball",
        "Renée Zellweger",
        "Björk Guðmundsdóttir",
        "Gérard Depardieu",
        "Penélope Cruz",
        "Sinéad O'Connor",
        "Ana Ivanović",
    ];
    (0..n)
        .map(|i| match NAMED.get(i) {
            Some(name) => name.to_string(),
            None => format!("Person Number {i:02}"),
        })
        .collect()
}

/// Settings of [`webcaricature_protocol_tree`].
pub struct WcTree {
    pub people: Vec<String>,
    /// View 2 folds and C2P/P2C splits.
    pub folds: usize,
    /// Matched pairs per fold, and as many mismatched (View 2's N).
    pub pairs_per_fold: usize,
    /// Caricatures and photos per person.
    pub images_per_modality: usize,
    /// Name a person of fold 3 in a mismatched pair of fold 2, breaking the folds' disjointness.
    pub break_disjointness: bool,
}

impl WcTree {
    /// 30 people, 10 folds of 3 people, 4 + 4 pairs a fold, 3 caricatures and photos each.
    pub fn small() -> WcTree {
        WcTree {
            people: protocol_people(30),
            folds: 10,
            pairs_per_fold: 4,
            images_per_modality: 3,
            break_disjointness: false,
        }
    }

    /// The people of fold `k` (1-based): every `folds`-th person from person `k − 1`.
    pub fn fold_people(&self, k: usize) -> Vec<&str> {
        self.people
            .iter()
            .enumerate()
            .filter(|(i, _)| i % self.folds == k - 1)
            .map(|(_, p)| p.as_str())
            .collect()
    }

    /// The people of C2P/P2C split `k`: those of folds `k` and `k + 1` (cyclic).
    pub fn split_people(&self, k: usize) -> Vec<&str> {
        let next = k % self.folds + 1;
        let mut people = self.fold_people(k);
        people.extend(self.fold_people(next));
        people
    }
}

/// A small WebCaricature tree with a complete protocol, its files CRLF as the release's:
/// `OriginalImages/<name>/{C,P}0000k.jpg`, landmarks for every image but every 7th, View 2 with
/// `folds` blocks of N matched then N mismatched pairs (people disjoint between folds unless
/// asked otherwise), and C2P/P2C splits `1..=folds` (gallery: one image of each of the split's
/// people; probes: all their images of the other modality).
pub fn webcaricature_protocol_tree(root: &Path, tree: &WcTree) {
    let points: String = (0..17)
        .map(|i| format!("{} {}\r\n", 2 + i % 5, 2 + i % 7))
        .collect();
    let mut image = 0usize;
    for (i, person) in tree.people.iter().enumerate() {
        for k in 1..=tree.images_per_modality {
            for tag in ["C", "P"] {
                let name = format!("{tag}{k:05}");
                let shade = [(i * 8) as u8, (k * 40) as u8, u8::from(tag == "C") * 200];
                write_jpeg(
                    &root.join(format!("OriginalImages/{person}/{name}.jpg")),
                    12,
                    12,
                    shade,
                );
                if image % 7 != 6 {
                    write_text(
                        &root.join(format!("FacialPoints/{person}/{name}.txt")),
                        &points,
                    );
                }
                image += 1;
            }
        }
    }
    write_view2(root, tree);
    write_identification(root, tree);
}

fn crlf(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\r\n")).collect()
}

fn write_view2(root: &Path, tree: &WcTree) {
    let n = tree.pairs_per_fold;
    let per = tree.images_per_modality;
    let mut lines = vec![n.to_string()];
    for k in 1..=tree.folds {
        let people = tree.fold_people(k);
        for j in 0..n {
            let p = people[j % people.len()];
            lines.push(format!(
                "{p}\tC{:05}\tP{:05}",
                1 + j % per,
                1 + (j + 1) % per
            ));
        }
        for j in 0..n {
            let a = people[j % people.len()];
            let mut b = people[(j + 1) % people.len()];
            if tree.break_disjointness && k == 2 && j == n - 1 {
                b = tree.fold_people(3)[0];
            }
            lines.push(format!(
                "{a}\tC{:05}\t{b}\tP{:05}",
                1 + j % per,
                1 + j % per
            ));
        }
    }
    write_text(
        &root.join("EvaluationProtocols/FaceVerification/Restricted/RestrictedView2.txt"),
        &crlf(&lines),
    );
}

fn write_identification(root: &Path, tree: &WcTree) {
    let per = tree.images_per_modality;
    for k in 1..=tree.folds {
        let people = tree.split_people(k);
        for (dir, gallery_tag, probe_tag) in [("C2P", "P", "C"), ("P2C", "C", "P")] {
            let gallery: Vec<String> = people
                .iter()
                .map(|p| format!("{p}\t{gallery_tag}00001"))
                .collect();
            let probes: Vec<String> = people
                .iter()
                .flat_map(|p| (1..=per).map(move |j| format!("{p}\t{probe_tag}{j:05}.jpg")))
                .collect();
            let base = root.join(format!("EvaluationProtocols/FaceIdentification/{dir}"));
            write_text(
                &base.join(format!("FR_Gallery_{dir}{k}.txt")),
                &crlf(&gallery),
            );
            write_text(&base.join(format!("FR_Probe_{dir}{k}.txt")), &crlf(&probes));
        }
    }
}

/// A CaVI tree of `people` × `per` caricatures and photos (`<name>_{c,r}_{k}.jpg`, k from 0).
/// With `lists`, `train-test-files/` beside `CaVI_Dataset/` as the CaVINet release has it:
/// `training_11.txt` and `training_12.txt` (split 1 in two parts), `testing_1.txt`,
/// `validation.txt`, `complete_identity_list.txt`; each person's last two images of each
/// modality are test images, the one before validation, the rest training. Without, two pair
/// lists `pairs_a.txt` and `pairs_b.txt` in `CaVI_Dataset/`. Every list is CRLF, with Windows
/// backslashes, matched pairs for every person and mismatched pairs for every two people.
pub fn cavi_protocol_tree(root: &Path, people: &[String], per: usize, lists: bool) -> PathBuf {
    let ds = root.join("CaVI_Dataset");
    for (i, person) in people.iter().enumerate() {
        for k in 0..per {
            for (folder, tag) in [("Caricature", "c"), ("Real", "r")] {
                let file = ds.join(format!("{folder}/{person}/{person}_{tag}_{k}.jpg"));
                write_jpeg(&file, 12, 12, [(i * 8) as u8, (k * 30) as u8, 0]);
            }
        }
    }
    let pair_lines = |images: &[usize]| cavi_pairs(people, images);
    if lists {
        let lists = root.join("train-test-files");
        let train: Vec<usize> = (0..per - 3).collect();
        let train_lines = pair_lines(&train);
        let (first, second) = train_lines.split_at(train_lines.len() / 2);
        write_text(&lists.join("training_11.txt"), &crlf(first));
        write_text(&lists.join("training_12.txt"), &crlf(second));
        write_text(
            &lists.join("validation.txt"),
            &crlf(&pair_lines(&[per - 3])),
        );
        write_text(
            &lists.join("testing_1.txt"),
            &crlf(&pair_lines(&[per - 2, per - 1])),
        );
        write_text(&lists.join("complete_identity_list.txt"), &crlf(people));
    } else {
        write_text(&ds.join("pairs_a.txt"), &crlf(&pair_lines(&[0])));
        write_text(&ds.join("pairs_b.txt"), &crlf(&pair_lines(&[1])));
    }
    ds
}

/// CaVI pair lines over images `images` of each person: every (caricature, photo) of a person,
/// then a caricature of each person with a photo of every other.
fn cavi_pairs(people: &[String], images: &[usize]) -> Vec<String> {
    let c = |p: &str, k: usize| format!("{p} Caricature/{p}\\{p}_c_{k}.jpg");
    let r = |p: &str, k: usize| format!("{p} Real/{p}\\{p}_r_{k}.jpg");
    let mut lines = Vec::new();
    for p in people {
        for &a in images {
            for &b in images {
                lines.push(format!("{} {} 1", c(p, a), r(p, b)));
            }
        }
    }
    for (i, p) in people.iter().enumerate() {
        for (j, q) in people.iter().enumerate() {
            if i != j {
                lines.push(format!("{} {} 0", c(p, images[0]), r(q, images[0])));
            }
        }
    }
    lines
}
