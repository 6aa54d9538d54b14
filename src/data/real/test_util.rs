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
