use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
        fold: None,
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

/// Fault injection: FIFOs, devices and symbolic links inside dataset trees. Every load runs on a
/// thread and fails the test after 30 s instead of hanging.
#[cfg(unix)]
mod links_and_special_files {
    use super::*;
    use std::time::Duration;

    const LIMIT: Duration = Duration::from_secs(30);
    const FIFO: &str = "not a regular file (fifo)";
    const DEVICE: &str = "not a regular file (character device)";
    const PEOPLE: [&str; 4] = ["Ann", "Bob", "Cyd", "Dee"];
    /// An unreadable protocol file is skipped like any bad file; with none left, the copy has
    /// no protocol.
    const NO_FOLD: &str = "EvaluationProtocols/ defines no usable fold: identities are held out by a seeded split instead";

    fn load_in_time(spec: DatasetSpec, cache: &Path) -> Dataset {
        let o = opts(cache);
        finishes_within(LIMIT, move || load_real(&spec, &o, &no_progress)).unwrap()
    }

    /// The skip reason of the one path ending in `suffix`.
    fn reason<'a>(ds: &'a Dataset, suffix: &str) -> &'a str {
        let found: Vec<&(String, String)> = ds
            .report
            .skipped_images
            .iter()
            .filter(|(p, _)| p.ends_with(suffix))
            .collect();
        match found.as_slice() {
            [(_, why)] => why,
            _ => panic!("{suffix}: {:#?}", ds.report.skipped_images),
        }
    }

    /// Every image of a `folder:` tree sits at `<identity>/<modality>/<file>` under its label.
    fn assert_labels_match_folders(ds: &Dataset) {
        for s in &ds.images.samples {
            let parts: Vec<&str> = s.source.rsplit('/').take(3).collect();
            let folder = match s.modality {
                Modality::Photo => "photo",
                Modality::Caricature => "caricature",
            };
            assert_eq!(parts[1], folder, "{}", s.source);
            assert_eq!(parts[2], ds.images.identities[s.identity], "{}", s.source);
        }
    }

    #[test]
    fn folder_fifos_are_reported_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        folder_tree_144(&root);
        mkfifo(&root.join("id0/photo/pipe.jpg"));
        mkfifo(&root.join("id1/caricature/deeper/pipe.png"));
        mkfifo(&root.join("pipe"));
        let before = snapshot(&root);
        let ds = load_in_time(DatasetSpec::Folder(root.clone()), cache.path());
        assert_eq!(ds.images.len(), 144);
        assert_eq!(reason(&ds, "id0/photo/pipe.jpg"), FIFO);
        assert_eq!(reason(&ds, "deeper/pipe.png"), FIFO);
        assert_eq!(reason(&ds, "tree/pipe"), FIFO);
        assert_eq!(ds.report.skipped_images.len(), 3);
        let again = load_in_time(DatasetSpec::Folder(root.clone()), cache.path());
        assert!(again.report.from_cache);
        assert_eq!(again.report.skipped_images, ds.report.skipped_images);
        assert_eq!(snapshot(&root), before);
    }

    #[test]
    fn cavi_fifo_image_and_pair_list_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let ds_dir = cavi_tree(dir.path(), &PEOPLE);
        mkfifo(&ds_dir.join("Caricature/Ann/Ann_c_9.jpg"));
        mkfifo(&ds_dir.join("pairs.txt"));
        let ds = load_in_time(DatasetSpec::Cavi(dir.path().into()), cache.path());
        assert_eq!(ds.images.len(), 16);
        assert_eq!(reason(&ds, "Ann_c_9.jpg"), FIFO);
        assert_eq!(
            ds.report.protocol_problems,
            vec![format!("CaVI_Dataset/pairs.txt:1: {FIFO}")]
        );
    }

    #[test]
    fn webcaricature_fifo_landmarks_and_protocol_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = dir.path();
        webcaricature_tree(root, &PEOPLE);
        fs::remove_file(root.join("FacialPoints/Bob/C00002.txt")).unwrap();
        mkfifo(&root.join("FacialPoints/Bob/C00002.txt"));
        let view2 = "EvaluationProtocols/FaceVerification/Restricted/RestrictedView2.txt";
        mkfifo(&root.join(view2));
        mkfifo(&root.join("OriginalImages/Cyd/P00009.jpg"));
        let ds = load_in_time(DatasetSpec::WebCaricature(root.into()), cache.path());
        assert_eq!(ds.images.len(), 24);
        assert_eq!(reason(&ds, "Cyd/P00009.jpg"), FIFO);
        assert_eq!(
            ds.report.protocol_problems,
            vec![
                format!("FacialPoints/Bob/C00002.txt:1: {FIFO}; whole image used"),
                format!("{view2}:1: {FIFO}"),
                NO_FOLD.to_string(),
            ]
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn dev_zero_is_refused_without_reading() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = dir.path();
        webcaricature_tree(root, &PEOPLE);
        let landmark = root.join("FacialPoints/Ann/C00001.txt");
        fs::remove_file(&landmark).unwrap();
        symlink("/dev/zero", &landmark);
        symlink("/dev/zero", &root.join("OriginalImages/Dee/P00007.jpg"));
        let view2 = "EvaluationProtocols/FaceVerification/Restricted/RestrictedView2.txt";
        symlink("/dev/zero", &root.join(view2));
        let rss = resident_bytes();
        let ds = load_in_time(DatasetSpec::WebCaricature(root.into()), cache.path());
        let grown = resident_bytes().saturating_sub(rss);
        // Reading /dev/zero without a bound grew the process by gigabytes before it failed.
        assert!(grown < 200 << 20, "resident memory grew by {grown} bytes");
        assert_eq!(ds.images.len(), 24);
        assert_eq!(reason(&ds, "Dee/P00007.jpg"), DEVICE);
        assert_eq!(
            ds.report.protocol_problems,
            vec![
                format!("FacialPoints/Ann/C00001.txt:1: {DEVICE}; whole image used"),
                format!("{view2}:1: {DEVICE}"),
                NO_FOLD.to_string(),
            ]
        );
    }

    #[test]
    fn dotdot_links_do_not_relabel_images() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        folder_tree_144(&root);
        symlink("..", &root.join("id0/photo/up"));
        symlink("../../..", &root.join("id1/caricature/sub/top"));
        let ds = load_in_time(DatasetSpec::Folder(root.clone()), cache.path());
        assert_eq!(ds.images.len(), 144);
        assert_labels_match_folders(&ds);
        let id0 = root.join("id0").display().to_string();
        assert_eq!(
            reason(&ds, "id0/photo/up"),
            format!("symbolic link loop: leads back to {id0}")
        );
        assert_eq!(
            reason(&ds, "sub/top"),
            format!("symbolic link loop: leads back to {}", root.display())
        );
    }

    #[test]
    fn eight_links_to_dot_keep_144_images() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        folder_tree_144(&root);
        for k in 1..=8 {
            symlink(".", &root.join(format!("id0/photo/l{k}")));
        }
        let ds = load_in_time(DatasetSpec::Folder(root.clone()), cache.path());
        assert_eq!(ds.images.len(), 144);
        assert_labels_match_folders(&ds);
        assert_eq!(ds.report.skipped_images.len(), 8);
        assert!(
            ds.report
                .skipped_images
                .iter()
                .all(|(_, why)| why.starts_with("symbolic link loop: leads back to")),
            "{:?}",
            ds.report.skipped_images
        );
    }

    #[test]
    fn file_and_folder_links_keep_their_real_owner() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        folder_tree_144(&root);
        // id0 comes first in the walk, but these images are id1's and id2's.
        symlink(
            "../../id1/caricature/c0.jpg",
            &root.join("id0/photo/stolen.jpg"),
        );
        symlink("../../id2/caricature", &root.join("id0/photo/more"));
        let ds = load_in_time(DatasetSpec::Folder(root.clone()), cache.path());
        assert_eq!(ds.images.len(), 144);
        assert_labels_match_folders(&ds);
        let real = |rel: &str| root.join(rel).display().to_string();
        assert_eq!(
            reason(&ds, "stolen.jpg"),
            format!("same file as {}", real("id1/caricature/c0.jpg"))
        );
        assert_eq!(
            reason(&ds, "id0/photo/more"),
            format!("same folder as {}", real("id2/caricature"))
        );
    }

    #[test]
    fn person_folder_links_load_once_under_the_real_name() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = dir.path();
        webcaricature_tree(root, &PEOPLE);
        // One link sorts before its target, one after.
        symlink("Dee", &root.join("OriginalImages/Aal"));
        symlink("Ann", &root.join("OriginalImages/Zed"));
        write_text(
            &root.join("EvaluationProtocols/FaceVerification/Restricted/RestrictedView2.txt"),
            "1\nDee\tC00001\tP00001\nDee\tC00002\tCyd\tP00001\n\
             1\nAnn\tC00001\tP00001\nAnn\tC00002\tBob\tP00001\n",
        );
        let before = snapshot(root);
        let ds = load_in_time(DatasetSpec::WebCaricature(root.into()), cache.path());
        assert_eq!(ds.images.identities, PEOPLE.to_vec());
        assert_eq!(ds.images.len(), 24);
        let originals = root.join("OriginalImages");
        let same = |p: &str| format!("same folder as {}", originals.join(p).display());
        assert_eq!(reason(&ds, "OriginalImages/Aal"), same("Dee"));
        assert_eq!(reason(&ds, "OriginalImages/Zed"), same("Ann"));
        assert_eq!(ds.report.skipped_images.len(), 2);
        assert!(ds.report.protocol_problems.is_empty(), "{:?}", ds.report);
        assert_eq!(ds.protocol.as_ref().unwrap().verification.len(), 2);
        let again = load_in_time(DatasetSpec::WebCaricature(root.into()), cache.path());
        assert!(again.report.from_cache);
        assert_eq!(again.report.skipped_images, ds.report.skipped_images);
        assert_eq!(snapshot(root), before);
    }

    #[test]
    fn cavi_person_link_across_modalities_is_one_label() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let ds_dir = cavi_tree(dir.path(), &PEOPLE);
        symlink("../Caricature/Bob", &ds_dir.join("Real/Eve"));
        let ds = load_in_time(DatasetSpec::Cavi(dir.path().into()), cache.path());
        assert_eq!(ds.images.identities, PEOPLE.to_vec());
        assert_eq!(ds.images.len(), 16);
        assert_eq!(
            reason(&ds, "Real/Eve"),
            format!("same folder as {}", ds_dir.join("Caricature/Bob").display())
        );
    }

    #[test]
    fn link_outside_the_root_is_followed_once() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        folder_tree_144(&root);
        let outside = dir.path().join("elsewhere");
        for k in 0..3 {
            write_jpeg(&outside.join(format!("x{k}.jpg")), 10, 10, [9, 9, 9]);
        }
        symlink(&outside, &root.join("id3/photo/ext"));
        symlink(&outside, &root.join("id4/photo/ext"));
        let ds = load_in_time(DatasetSpec::Folder(root.clone()), cache.path());
        assert_eq!(ds.images.len(), 147);
        let first = root.join("id3/photo/ext").display().to_string();
        assert_eq!(
            reason(&ds, "id4/photo/ext"),
            format!("same folder as {first}")
        );
        let id3 = ds
            .images
            .identities
            .iter()
            .position(|n| n == "id3")
            .unwrap();
        let outside_images: Vec<&Sample> = ds
            .images
            .samples
            .iter()
            .filter(|s| s.source.contains("/ext/"))
            .collect();
        assert_eq!(outside_images.len(), 3);
        assert!(
            outside_images
                .iter()
                .all(|s| s.identity == id3 && s.modality == Modality::Photo)
        );
    }

    #[test]
    fn link_loops_and_dangling_links_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        folder_tree_144(&root);
        symlink("b", &root.join("id0/photo/a"));
        symlink("a", &root.join("id0/photo/b"));
        symlink("missing.jpg", &root.join("id0/photo/gone.jpg"));
        symlink("nowhere", &root.join("id7"));
        let ds = load_in_time(DatasetSpec::Folder(root.clone()), cache.path());
        assert_eq!(ds.images.len(), 144);
        for link in ["photo/a", "photo/b"] {
            let why = reason(&ds, link);
            assert!(why.starts_with("symbolic link cannot be followed"), "{why}");
        }
        let dangling = "dangling symbolic link (its target does not exist)";
        assert_eq!(reason(&ds, "gone.jpg"), dangling);
        assert_eq!(reason(&ds, "tree/id7"), dangling);
    }
}
