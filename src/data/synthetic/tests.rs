use super::names::identity_names;
use super::*;
use std::collections::HashSet;

fn small() -> SyntheticConfig {
    SyntheticConfig {
        seed: 7,
        train_identities: 6,
        open_identities: 3,
        photos_per_identity: 6,
        caricatures_per_identity: 5,
        test_per_modality: 2,
        image_size: 32,
    }
}

fn gen_quiet(cfg: &SyntheticConfig) -> Dataset {
    match generate(cfg, &|_: f32| {}) {
        Ok(d) => d,
        Err(e) => panic!("generation failed: {e}"),
    }
}

fn distance(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).abs())
        .sum::<f64>()
        / a.len() as f64
}

/// Mean pairwise distance between images `xs` and `ys` (skipping identical indices).
fn mean_distance(set: &ImageSet, xs: &[usize], ys: &[usize]) -> f64 {
    let mut total = 0.0;
    let mut count = 0;
    for &a in xs {
        for &b in ys {
            if a != b {
                total += distance(set.image(a), set.image(b));
                count += 1;
            }
        }
    }
    total / count as f64
}

#[test]
fn same_seed_gives_identical_bytes_on_any_thread_count() {
    let cfg = small();
    let a = gen_quiet(&cfg);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("thread pool");
    let b = pool.install(|| gen_quiet(&cfg));
    assert_eq!(a.images.pixels, b.images.pixels);
    assert_eq!(a.images.identities, b.images.identities);
    assert_eq!(a.images.samples, b.images.samples);
    assert_eq!(a.splits, b.splits);
}

#[test]
fn different_seed_gives_different_data() {
    let a = gen_quiet(&small());
    let b = gen_quiet(&SyntheticConfig { seed: 8, ..small() });
    let differing = a
        .images
        .pixels
        .iter()
        .zip(&b.images.pixels)
        .filter(|(x, y)| x != y)
        .count();
    assert!(
        differing * 2 > a.images.pixels.len(),
        "only {differing} of {} bytes differ",
        a.images.pixels.len()
    );
    assert_ne!(a.images.identities, b.images.identities);
}

#[test]
fn counts_splits_and_sources() {
    let cfg = small();
    let d = gen_quiet(&cfg);
    let set = &d.images;
    assert_eq!(d.name, "synthetic");
    assert_eq!(set.image_size, 32);
    assert_eq!(set.identities.len(), 9);
    assert_eq!(set.len(), 9 * 11);
    assert_eq!(set.pixels.len(), 9 * 11 * 32 * 32 * 3);
    assert_eq!(d.splits.train_identities, (0..6).collect::<Vec<_>>());
    assert_eq!(d.splits.open_identities, vec![6, 7, 8]);
    assert_eq!(d.splits.train.len(), 6 * (4 + 3));
    assert_eq!(d.splits.closed_test.len(), 6 * 4);
    assert_eq!(d.splits.open.len(), 3 * 11);
    // Every sample in exactly one split.
    let mut all: Vec<usize> = [&d.splits.train, &d.splits.closed_test, &d.splits.open]
        .into_iter()
        .flatten()
        .copied()
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..set.len()).collect::<Vec<_>>());
    // Ordering: identity-major, photos then caricatures; the last two of each go to test.
    assert_eq!(set.samples[0].source, "synthetic:0/p0");
    assert_eq!(set.samples[6].source, "synthetic:0/c0");
    assert_eq!(set.samples[6].modality, Modality::Caricature);
    assert_eq!(set.samples[11].source, "synthetic:1/p0");
    assert_eq!(set.samples[11].identity, 1);
    assert_eq!(d.splits.closed_test[..4], [4, 5, 9, 10]);
    for &i in &d.splits.open {
        assert!(set.samples[i].identity >= 6);
    }
    let unique: HashSet<_> = set.identities.iter().collect();
    assert_eq!(unique.len(), 9);
    for name in &set.identities {
        assert_eq!(name.split(' ').count(), 2, "{name}");
    }
}

#[test]
fn many_names_stay_unique() {
    let names = identity_names(3, 20_000);
    let unique: HashSet<_> = names.iter().collect();
    assert_eq!(unique.len(), 20_000);
}

#[test]
fn validate_names_the_bad_field() {
    let cases: [(SyntheticConfig, &str); 8] = [
        (
            SyntheticConfig {
                train_identities: 0,
                ..small()
            },
            "train_identities",
        ),
        (
            SyntheticConfig {
                open_identities: 0,
                ..small()
            },
            "open_identities",
        ),
        (
            SyntheticConfig {
                photos_per_identity: 0,
                ..small()
            },
            "photos_per_identity",
        ),
        (
            SyntheticConfig {
                caricatures_per_identity: 0,
                ..small()
            },
            "caricatures_per_identity",
        ),
        (
            SyntheticConfig {
                test_per_modality: 6,
                ..small()
            },
            "test_per_modality",
        ),
        (
            SyntheticConfig {
                test_per_modality: 5,
                ..small()
            },
            "caricatures_per_identity",
        ),
        (
            SyntheticConfig {
                image_size: 15,
                ..small()
            },
            "image_size",
        ),
        (
            SyntheticConfig {
                image_size: 513,
                ..small()
            },
            "image_size",
        ),
    ];
    for (cfg, field) in cases {
        match cfg.validate() {
            Ok(()) => panic!("{cfg:?} was accepted"),
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains(field), "`{msg}` does not name {field}");
            }
        }
    }
    assert!(SyntheticConfig::default().validate().is_ok());
    assert!(small().validate().is_ok());
    let huge = SyntheticConfig {
        train_identities: usize::MAX / 4,
        ..small()
    };
    assert!(huge.validate().is_err());
    assert!(
        generate(
            &SyntheticConfig {
                image_size: 8,
                ..small()
            },
            &|_: f32| {}
        )
        .is_err()
    );
}

#[test]
fn caricatures_are_harder_than_photos_but_identity_shows() {
    let cfg = SyntheticConfig {
        train_identities: 8,
        open_identities: 1,
        photos_per_identity: 6,
        caricatures_per_identity: 6,
        test_per_modality: 1,
        ..small()
    };
    let d = gen_quiet(&cfg);
    let set = &d.images;
    let photos = |id: usize| (id * 12..id * 12 + 6).collect::<Vec<_>>();
    let caris = |id: usize| (id * 12 + 6..id * 12 + 12).collect::<Vec<_>>();
    let (mut p_same, mut p_cross, mut c_p, mut c_same, mut c_cross) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let ids = 8;
    for a in 0..ids {
        p_same += mean_distance(set, &photos(a), &photos(a));
        c_p += mean_distance(set, &caris(a), &photos(a));
        c_same += mean_distance(set, &caris(a), &caris(a));
        let b = (a + 1) % ids;
        p_cross += mean_distance(set, &photos(a), &photos(b));
        c_cross += mean_distance(set, &caris(a), &caris(b));
    }
    let n = ids as f64;
    let (p_same, p_cross, c_p, c_same, c_cross) =
        (p_same / n, p_cross / n, c_p / n, c_same / n, c_cross / n);
    println!(
        "photo-photo same {p_same:.1} cross {p_cross:.1}; cari-photo same {c_p:.1}; \
         cari-cari same {c_same:.1} cross {c_cross:.1}"
    );
    // Caricatures sit far from their own photos: the cross-modal task is the hard one.
    assert!(
        c_p > 1.5 * p_same,
        "cari-photo {c_p:.1} vs photo-photo {p_same:.1}"
    );
    // Photos cluster by identity.
    assert!(
        p_same < 0.85 * p_cross,
        "same {p_same:.1} vs cross {p_cross:.1}"
    );
    // Caricatures still cluster by identity, if more weakly.
    assert!(
        c_same < c_cross,
        "cari same {c_same:.1} vs cross {c_cross:.1}"
    );
}

#[test]
fn progress_is_monotonic_and_ends_at_one() {
    let seen = Mutex::new(Vec::new());
    let record = |f: f32| {
        if let Ok(mut v) = seen.lock() {
            v.push(f);
        }
    };
    let cfg = small();
    assert!(generate(&cfg, &record).is_ok());
    let seen = seen.into_inner().unwrap_or_default();
    assert_eq!(seen.first(), Some(&0.0));
    assert_eq!(seen.last(), Some(&1.0));
    assert!(seen.len() > 3, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
}

#[test]
fn contact_sheet_layout_matches_dataset() {
    let cfg = small();
    let sheet = match contact_sheet(&cfg, 2, 32) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(sheet.width() as usize, 11 * 32 + 12 * 2);
    assert_eq!(sheet.height() as usize, 2 * 32 + 3 * 2);
    // Cell (row 1, column 6) is identity 1's first caricature.
    let d = gen_quiet(&cfg);
    let img = d.images.image(11 + 6);
    let (x0, y0) = (2 + 6 * 34, 2 + 34);
    for y in 0..32 {
        for x in 0..32 {
            let px = sheet.get_pixel((x0 + x) as u32, (y0 + y) as u32).0;
            let o = (y * 32 + x) * 3;
            assert_eq!(px, [img[o], img[o + 1], img[o + 2]]);
        }
    }
    assert!(contact_sheet(&cfg, 0, 32).is_err());
    assert!(contact_sheet(&cfg, 2, 8).is_err());
}
