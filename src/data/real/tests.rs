use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::assemble::*;
use super::decode::*;
use super::options::*;
use super::test_util::*;
use super::*;
use crate::data::*;

fn opts(cache: &Path) -> LoadOptions {
    LoadOptions {
        image_size: 16,
        seed: 7,
        test_per_modality: 2,
        open_fraction: 0.25,
        cache_dir: Some(cache.to_path_buf()),
        use_cache: true,
    }
}

#[test]
fn spec_parsing() {
    assert_eq!(
        "synthetic".parse::<DatasetSpec>().unwrap(),
        DatasetSpec::Synthetic
    );
    assert_eq!(
        "webcaricature:/data/Web Caricature"
            .parse::<DatasetSpec>()
            .unwrap(),
        DatasetSpec::WebCaricature(PathBuf::from("/data/Web Caricature"))
    );
    assert_eq!(
        "cavi:C:\\x".parse::<DatasetSpec>().unwrap(),
        DatasetSpec::Cavi(PathBuf::from("C:\\x"))
    );
    assert_eq!(
        "folder:rel/dir".parse::<DatasetSpec>().unwrap(),
        DatasetSpec::Folder(PathBuf::from("rel/dir"))
    );
    for bad in ["", "webcaricature:", "lfw:/x", "/data/x"] {
        let msg = bad.parse::<DatasetSpec>().unwrap_err().to_string();
        assert!(msg.contains("`webcaricature:PATH`"), "{msg}");
        assert!(msg.contains("`cavi:PATH`") && msg.contains("`folder:PATH`"));
    }
    let spec = DatasetSpec::Folder(PathBuf::from("/a b"));
    assert_eq!(spec.to_string().parse::<DatasetSpec>().unwrap(), spec);
}

#[test]
fn synthetic_is_refused() {
    let err = load_real(
        &DatasetSpec::Synthetic,
        &LoadOptions::default(),
        &no_progress,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("synthetic generator"), "{err}");
}

#[test]
fn crop_rule_in_pixels() {
    // x 40..80 (w 40 → 60 around 60), y 50..100 (h 50 → 60 around 75).
    let pts = [(40.0, 50.0), (80.0, 100.0), (60.0, 70.0)];
    assert_eq!(
        landmark_crop(&pts, 200, 200),
        Some(CropRect {
            x: 30,
            y: 45,
            width: 60,
            height: 60
        })
    );
    // Clipped at the left/top and right/bottom edges.
    let pts = [(2.0, 3.0), (42.0, 53.0)];
    assert_eq!(
        landmark_crop(&pts, 50, 50),
        Some(CropRect {
            x: 0,
            y: 0,
            width: 50,
            height: 50
        })
    );
    // Fractional edges round outwards: x 10.5..20.5 → 15.5 ± 7.5 = 8..23.
    let pts = [(10.5, 10.0), (20.5, 20.0)];
    assert_eq!(
        landmark_crop(&pts, 100, 100),
        Some(CropRect {
            x: 8,
            y: 9,
            width: 15,
            height: 12
        })
    );
    assert_eq!(landmark_crop(&[(500.0, 500.0)], 100, 100), None);
    assert_eq!(landmark_crop(&[], 100, 100), None);
}

#[test]
fn landmark_parsing() {
    let good: String = (0..17).map(|i| format!("{i} {}.5\r\n", i * 2)).collect();
    let pts = parse_landmarks(&format!("{good}\r\n\r\n")).unwrap();
    assert_eq!(pts.len(), 17);
    assert_eq!(pts[3], (3.0, 6.5));
    let short: String = (0..16).map(|i| format!("{i} {i}\n")).collect();
    assert_eq!(
        parse_landmarks(&short).unwrap_err(),
        (16, "expected 17 points, found 16".to_string())
    );
    let bad = "1 2\n3 x\n";
    assert_eq!(parse_landmarks(bad).unwrap_err().0, 2);
    assert_eq!(parse_landmarks("1 2 3\n").unwrap_err().0, 1);
    assert_eq!(parse_landmarks("nan 2\n").unwrap_err().0, 1);
}

#[test]
fn bad_images_are_described() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = d.join("ok.jpg");
    write_jpeg(&ok, 40, 30, [200, 10, 10]);
    assert_eq!(decode_image(&ok).unwrap().dimensions(), (40, 30));
    // A PNG named .jpg decodes (content decides).
    let png = d.join("png.jpg");
    write_png(&png, &image::RgbImage::new(5, 5));
    assert!(decode_image(&png).is_ok());
    let zero = d.join("zero.jpg");
    fs::write(&zero, b"").unwrap();
    assert_eq!(decode_image(&zero).unwrap_err(), "empty file (0 bytes)");
    let text = d.join("text.jpg");
    fs::write(&text, "hello, I am not a picture\n").unwrap();
    assert!(
        decode_image(&text)
            .unwrap_err()
            .contains("not a JPEG or PNG")
    );
    let huge = d.join("huge.png");
    fs::write(&huge, huge_png_bytes(100_000, 100_000)).unwrap();
    let msg = decode_image(&huge).unwrap_err();
    assert!(msg.starts_with("refused before decoding"), "{msg}");
    // A noisy JPEG cut to a third still "decodes" (grey fill) in the JPEG decoder.
    let mut noisy = image::RgbImage::new(64, 64);
    for (i, p) in noisy.pixels_mut().enumerate() {
        *p = image::Rgb([(i * 7) as u8, (i * 13) as u8, (i * 29) as u8]);
    }
    let noisy_jpg = d.join("noisy.jpg");
    noisy
        .save_with_format(&noisy_jpg, image::ImageFormat::Jpeg)
        .unwrap();
    let mut bytes = fs::read(&noisy_jpg).unwrap();
    bytes.extend_from_slice(b"trailing bytes after EOI are fine");
    fs::write(&noisy_jpg, &bytes).unwrap();
    assert!(decode_image(&noisy_jpg).is_ok());
    let trunc = d.join("trunc.jpg");
    fs::write(&trunc, &bytes[..bytes.len() / 3]).unwrap();
    let msg = decode_image(&trunc).unwrap_err();
    assert!(msg.starts_with("truncated JPEG"), "{msg}");
    let trunc_png = d.join("trunc.png");
    write_png(&trunc_png, &noisy);
    let bytes = fs::read(&trunc_png).unwrap();
    fs::write(&trunc_png, &bytes[..bytes.len() / 2]).unwrap();
    let msg = decode_image(&trunc_png).unwrap_err();
    eprintln!("truncated PNG: {msg}");
    assert!(
        decode_image(&d.join("missing.jpg"))
            .unwrap_err()
            .starts_with("cannot open")
    );
}

fn folder_tree(root: &Path) {
    for id in 0..5 {
        let name = format!("person {id}");
        for k in 0..4 {
            write_jpeg(
                &root.join(&name).join("photo").join(format!("p{k}.jpg")),
                20,
                20,
                [id * 40, 0, 0],
            );
            write_jpeg(
                &root
                    .join(&name)
                    .join("Caricatures")
                    .join("sub")
                    .join(format!("c{k}.jpeg")),
                20,
                20,
                [0, id * 40, 0],
            );
        }
    }
    // Photo-only identity, and one with no modality folder.
    write_jpeg(&root.join("solo/photo/a.jpg"), 20, 20, [1, 2, 3]);
    write_jpeg(&root.join("solo/photo/b.jpg"), 20, 20, [1, 2, 3]);
    write_text(&root.join("nobody/readme.txt"), "x");
    write_text(&root.join("README.md"), "top-level files are ignored");
    write_text(&root.join("person 0/photo/Thumbs.db"), "x");
    write_text(&root.join("person 0/photo/notes.txt"), "x");
}

#[test]
fn folder_layout_counts_and_splits() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    folder_tree(&root);
    let before = snapshot(&root);
    let spec = DatasetSpec::Folder(root.clone());
    let ds = load_real(&spec, &opts(cache.path()), &no_progress).unwrap();
    assert_eq!(ds.images.identities.len(), 6);
    assert_eq!(ds.images.len(), 5 * 8 + 2);
    assert_eq!(ds.images.pixels.len(), ds.images.len() * 16 * 16 * 3);
    assert!(ds.protocol.is_none());
    let r = &ds.report;
    assert_eq!(r.skipped_images.len(), 1, "{:?}", r.skipped_images);
    assert!(r.skipped_images[0].0.ends_with("notes.txt"));
    assert!(
        r.excluded_identities
            .iter()
            .any(|(n, why)| n == "nobody" && why.contains("no photo/ or caricature/ folder"))
    );
    assert!(
        r.excluded_identities
            .iter()
            .any(|(n, why)| n == "solo" && why.starts_with("no caricatures"))
    );
    let s = &ds.splits;
    // 5 identities with both modalities, 0.25 → 1 open.
    assert_eq!(s.open_identities.len(), 1);
    assert_eq!(s.train_identities.len(), 5);
    let solo = ds
        .images
        .identities
        .iter()
        .position(|n| n == "solo")
        .unwrap();
    assert!(s.train_identities.contains(&solo));
    assert!(!s.open_identities.contains(&solo));
    // 4 training identities × 2 modalities × 2 test images; solo has only 2 photos → all train.
    assert_eq!(s.closed_test.len(), 16);
    assert_eq!(s.open.len(), 8);
    assert_eq!(
        s.train.len() + s.closed_test.len() + s.open.len(),
        ds.images.len()
    );
    // Same seed, same split; the pixels of a known sample are its colour.
    let again = load_real(&spec, &opts(cache.path()), &no_progress).unwrap();
    assert_eq!(again.splits, ds.splits);
    assert!(again.report.from_cache);
    assert_eq!(again.images.pixels, ds.images.pixels);
    assert_eq!(snapshot(&root), before);
    // A cache folder inside the dataset is refused (nothing written there).
    let inside = opts(&root.join("cache/sub"));
    let third = load_real(&spec, &inside, &no_progress).unwrap();
    assert!(!third.report.from_cache);
    assert!(
        third
            .report
            .skipped_images
            .iter()
            .any(|(p, why)| p.ends_with("cache/sub")
                && why == "cache folder lies inside the dataset folder: cache not used")
    );
    assert_eq!(snapshot(&root), before);
    assert!(!root.join("cache").exists());
}

#[test]
fn wrong_and_empty_folders() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let o = opts(cache.path());
    let empty = dir.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let msg = load_real(&DatasetSpec::Folder(empty.clone()), &o, &no_progress)
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("expected <identity>/photo/ and <identity>/caricature/ folders under")
            && msg.contains("(folder layout)"),
        "{msg}"
    );
    let missing = dir.path().join("nope");
    let msg = load_real(&DatasetSpec::Folder(missing), &o, &no_progress)
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("cannot read ") && msg.contains("nope"),
        "{msg}"
    );
    // A CaVI tree given as folder: is refused rather than misread.
    let cavi = dir.path().join("cavi");
    write_jpeg(
        &cavi.join("CaVI_Dataset/Caricature/Ann/Ann_c_1.jpg"),
        8,
        8,
        [0; 3],
    );
    write_jpeg(
        &cavi.join("CaVI_Dataset/Real/Ann/Ann_r_1.jpg"),
        8,
        8,
        [0; 3],
    );
    let msg = load_real(&DatasetSpec::Folder(cavi), &o, &no_progress)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("this looks like a CaVI tree: use cavi:"),
        "{msg}"
    );
    // All images unusable → one error naming the path and the first cause.
    let bad = dir.path().join("bad");
    write_text(&bad.join("x/photo/a.jpg"), "not a jpeg");
    let msg = load_real(&DatasetSpec::Folder(bad.clone()), &o, &no_progress)
        .unwrap_err()
        .to_string();
    assert!(msg.starts_with("no usable images under"), "{msg}");
    assert!(msg.contains("not a JPEG or PNG"), "{msg}");
    // Bad options.
    let mut zero = o.clone();
    zero.image_size = 0;
    let msg = load_real(&DatasetSpec::Folder(bad), &zero, &no_progress)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("image_size 0"), "{msg}");
}

#[test]
fn cache_corruption_is_reported_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    folder_tree(&root);
    let spec = DatasetSpec::Folder(root.clone());
    let first = load_real(&spec, &opts(cache.path()), &no_progress).unwrap();
    assert!(!first.report.from_cache);
    let files: Vec<PathBuf> = fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    // Flip one pixel byte near the end.
    let mut bytes = fs::read(&files[0]).unwrap();
    let n = bytes.len();
    bytes[n - 20] ^= 0x55;
    fs::write(&files[0], &bytes).unwrap();
    let second = load_real(&spec, &opts(cache.path()), &no_progress).unwrap();
    assert!(!second.report.from_cache);
    let note = second
        .report
        .skipped_images
        .iter()
        .find(|(p, _)| p.ends_with(".bin"))
        .unwrap();
    assert!(note.1.contains("checksum mismatch") && note.1.contains("rebuilt"));
    assert_eq!(second.images.pixels, first.images.pixels);
    // Truncated cache.
    fs::write(&files[0], &bytes[..100]).unwrap();
    let third = load_real(&spec, &opts(cache.path()), &no_progress).unwrap();
    assert!(!third.report.from_cache);
    let fourth = load_real(&spec, &opts(cache.path()), &no_progress).unwrap();
    assert!(fourth.report.from_cache);
    assert!(
        !fourth
            .report
            .skipped_images
            .iter()
            .any(|(p, _)| p.ends_with(".bin"))
    );
    // No cache at all.
    let mut off = opts(cache.path());
    off.use_cache = false;
    let fifth = load_real(&spec, &off, &no_progress).unwrap();
    assert!(!fifth.report.from_cache);
    // Progress goes from 0 to 1, never backwards.
    let seen = Mutex::new(Vec::new());
    let record = |f: f32| seen.lock().unwrap().push(f);
    load_real(&spec, &off, &record).unwrap();
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.first(), Some(&0.0));
    assert_eq!(seen.last(), Some(&1.0));
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
}

#[test]
fn open_only_protocol() {
    let images = ImageSet {
        image_size: 1,
        identities: vec!["a".into(), "b".into()],
        samples: vec![
            Sample {
                identity: 0,
                modality: Modality::Photo,
                source: String::new(),
            },
            Sample {
                identity: 1,
                modality: Modality::Caricature,
                source: String::new(),
            },
            Sample {
                identity: 1,
                modality: Modality::Photo,
                source: String::new(),
            },
        ],
        pixels: vec![0; 9],
    };
    let splits = Splits {
        train_identities: vec![0],
        open_identities: vec![1],
        ..Splits::default()
    };
    let p = Protocol {
        verification: vec![
            super::super::VerificationPair {
                a: 1,
                b: 2,
                same: true,
                fold: 3,
            },
            super::super::VerificationPair {
                a: 1,
                b: 0,
                same: false,
                fold: 3,
            },
        ],
        c2p: vec![IdentificationFold {
            gallery: vec![0, 2],
            probes: vec![1],
        }],
        p2c: vec![],
    };
    let o = protocol_open_only(&p, &images, &splits);
    assert_eq!(o.verification.len(), 1);
    assert_eq!(o.c2p[0].gallery, vec![2]);
}
