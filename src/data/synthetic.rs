//! The embedded synthetic photo/caricature face generator.
//!
//! Each identity is a vector of face-shape deviations from a mean face (standard-normal
//! units) plus categorical traits (hair style, glasses, beard, colours). Photos draw that
//! face with nuisance variation (pose, expression, lighting, noise); caricatures first
//! push every deviation further from the mean (the classic caricature rule), then draw it
//! in one of several artistic styles and bend it with a smooth random warp.
//!
//! Everything is rendered with tiny-skia at twice the stored size and box-downsampled,
//! so edges stay anti-aliased at 32 px. Every image owns an RNG seeded from
//! `(seed, identity, modality, k)`, so the bytes do not depend on the rayon thread count
//! or scheduling order.

use std::collections::HashSet;
use std::f32::consts::{PI, TAU};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::seeded::derive_seed;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tiny_skia::{
    Color, FillRule, LineCap, LineJoin, Paint, Path, PathBuilder, Pixmap, Rect, Stroke, Transform,
};

use super::{Dataset, ImageSet, LoadReport, Modality, ProtocolFacts, Sample, Splits};
use crate::data::dataset::LoadMonitor;

/// Refuse configs whose pixel buffer would exceed this, rather than abort on allocation.
const MAX_PIXEL_BYTES: u64 = 8 << 30;
/// Most identities of each kind (training, held out) the generator makes.
pub const MAX_IDENTITIES: usize = 100_000;
/// Most photos (or caricatures) per identity.
pub const MAX_IMAGES_PER_MODALITY: usize = 10_000;

/// Settings of the synthetic dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyntheticConfig {
    pub seed: u64,
    /// Identities the classifiers train on.
    pub train_identities: usize,
    /// Identities held out for open-set verification and C2P/P2C.
    pub open_identities: usize,
    pub photos_per_identity: usize,
    pub caricatures_per_identity: usize,
    /// Held-out images per training identity per modality, for closed-set identification.
    pub test_per_modality: usize,
    /// Side length of the stored square images.
    pub image_size: usize,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            train_identities: 200,
            open_identities: 50,
            photos_per_identity: 15,
            caricatures_per_identity: 15,
            test_per_modality: 5,
            image_size: 32,
        }
    }
}

impl SyntheticConfig {
    /// Checks that the config yields a usable dataset; the error names the offending field.
    pub fn validate(&self) -> Result<(), SyntheticError> {
        let bad = |field: &'static str, message: String| {
            Err(SyntheticError::InvalidConfig { field, message })
        };
        if self.train_identities == 0 {
            return bad(
                "train_identities",
                "must be at least 1: the classifiers need identities to train on".into(),
            );
        }
        if self.open_identities == 0 {
            return bad(
                "open_identities",
                "must be at least 1: open-set verification needs identities never seen in training"
                    .into(),
            );
        }
        if self.photos_per_identity == 0 {
            return bad("photos_per_identity", "must be at least 1".into());
        }
        if self.caricatures_per_identity == 0 {
            return bad("caricatures_per_identity", "must be at least 1".into());
        }
        if self.test_per_modality == 0 {
            return bad(
                "test_per_modality",
                "must be at least 1: the closed-set test would be empty".into(),
            );
        }
        if self.test_per_modality >= self.photos_per_identity {
            return bad(
                "test_per_modality",
                format!(
                    "({}) must be smaller than photos_per_identity ({}) so that training photos remain",
                    self.test_per_modality, self.photos_per_identity
                ),
            );
        }
        if self.test_per_modality >= self.caricatures_per_identity {
            return bad(
                "test_per_modality",
                format!(
                    "({}) must be smaller than caricatures_per_identity ({}) so that training caricatures remain",
                    self.test_per_modality, self.caricatures_per_identity
                ),
            );
        }
        if !(16..=512).contains(&self.image_size) {
            return bad(
                "image_size",
                format!("({}) must be between 16 and 512 pixels", self.image_size),
            );
        }
        for (field, value, limit) in [
            ("train_identities", self.train_identities, MAX_IDENTITIES),
            ("open_identities", self.open_identities, MAX_IDENTITIES),
            (
                "photos_per_identity",
                self.photos_per_identity,
                MAX_IMAGES_PER_MODALITY,
            ),
            (
                "caricatures_per_identity",
                self.caricatures_per_identity,
                MAX_IMAGES_PER_MODALITY,
            ),
        ] {
            if value > limit {
                return bad(field, format!("({value}) must be at most {limit}"));
            }
        }
        // Within the limits above every product fits in u64; checked all the same.
        let images = (self.identities() as u64).checked_mul(self.images_per_identity() as u64);
        let bytes =
            images.and_then(|n| n.checked_mul((self.image_size * self.image_size * 3) as u64));
        if bytes.is_none_or(|b| b > MAX_PIXEL_BYTES) {
            let gib = bytes.map_or("too many".into(), |b| {
                format!("{:.1}", b as f64 / (1u64 << 30) as f64)
            });
            return bad(
                "train_identities",
                format!(
                    "with the other counts gives {} images needing {gib} GiB; the limit is {} GiB \
                     (lower the identity/image counts or image_size)",
                    images.map_or("too many".into(), |n| n.to_string()),
                    MAX_PIXEL_BYTES >> 30
                ),
            );
        }
        Ok(())
    }

    fn identities(&self) -> usize {
        self.train_identities + self.open_identities
    }

    fn images_per_identity(&self) -> usize {
        self.photos_per_identity + self.caricatures_per_identity
    }

    /// Which image sits at dataset index `j`: identity-major, photos before caricatures.
    fn locate(&self, j: usize) -> (usize, Modality, usize) {
        let per = self.images_per_identity();
        let (id, within) = (j / per, j % per);
        if within < self.photos_per_identity {
            (id, Modality::Photo, within)
        } else {
            (id, Modality::Caricature, within - self.photos_per_identity)
        }
    }
}

/// Why the synthetic dataset (or its contact sheet) could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SyntheticError {
    /// A setting is out of range; `field` names it, `message` says what is allowed.
    #[error("invalid synthetic dataset setting `{field}`: {message}")]
    InvalidConfig {
        field: &'static str,
        message: String,
    },
    /// The load was cancelled (the window's Cancel).
    #[error("making the synthetic faces was cancelled")]
    Cancelled,
    /// tiny-skia refused the render canvas (only possible for degenerate sizes).
    #[error("could not create a {size}×{size} render canvas")]
    Canvas { size: usize },
}

/// Generates the dataset; calls `progress.fraction(fraction)` with non-decreasing values in `0..=1`
/// now and then, from any thread.
pub fn generate(
    cfg: &SyntheticConfig,
    progress: &dyn LoadMonitor,
) -> Result<Dataset, SyntheticError> {
    cfg.validate()?;
    let start = Instant::now();
    progress.fraction(0.0);

    let n_ids = cfg.identities();
    let identities: Vec<Identity> = (0..n_ids).map(|i| Identity::new(cfg.seed, i)).collect();
    let size = cfg.image_size;
    let len = size * size * 3;
    let total = n_ids * cfg.images_per_identity();
    let mut pixels = vec![0u8; total * len];

    // Report about 100 times; the mutex keeps reported values monotonic even though
    // images finish out of order on several threads.
    let done = AtomicUsize::new(0);
    let reported = Mutex::new(0usize);
    let step = (total / 100).max(1);
    pixels
        .par_chunks_mut(len)
        .enumerate()
        .try_for_each(|(j, out)| {
            if progress.cancelled() {
                return Err(SyntheticError::Cancelled);
            }
            let (id, modality, k) = cfg.locate(j);
            render_image(&identities[id], cfg.seed, id, modality, k, size, out)?;
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress.files(n, total);
            if n.is_multiple_of(step)
                && let Ok(mut last) = reported.try_lock()
            {
                let now = done.load(Ordering::Relaxed);
                if now > *last && now < total {
                    *last = now;
                    progress.fraction(now as f32 / total as f32);
                }
            }
            Ok::<(), SyntheticError>(())
        })?;

    let mut samples = Vec::with_capacity(total);
    let mut splits = Splits {
        train_identities: (0..cfg.train_identities).collect(),
        open_identities: (cfg.train_identities..n_ids).collect(),
        ..Splits::default()
    };
    for j in 0..total {
        let (id, modality, k) = cfg.locate(j);
        let (tag, count) = match modality {
            Modality::Photo => ('p', cfg.photos_per_identity),
            Modality::Caricature => ('c', cfg.caricatures_per_identity),
        };
        samples.push(Sample {
            identity: id,
            modality,
            source: format!("synthetic:{id}/{tag}{k}"),
        });
        if id >= cfg.train_identities {
            splits.open.push(j);
        } else if k >= count - cfg.test_per_modality {
            splits.closed_test.push(j);
        } else {
            splits.train.push(j);
        }
    }

    progress.fraction(1.0);
    let images = ImageSet {
        image_size: size,
        identities: identity_names(cfg.seed, n_ids),
        samples,
        pixels,
    };
    let facts = ProtocolFacts::held_out("synthetic held-out identities", &images, &splits);
    Ok(Dataset {
        name: "synthetic".into(),
        images,
        splits,
        protocol: None,
        facts,
        published_folds: None,
        report: LoadReport {
            load_secs: start.elapsed().as_secs_f64(),
            ..LoadReport::default()
        },
    })
}

/// Contact sheet: one row per identity (the first `rows` identities of the dataset `cfg`
/// generates, rendered at `cell` px): its photos, then its caricatures, 2 px apart.
pub fn contact_sheet(
    cfg: &SyntheticConfig,
    rows: usize,
    cell: usize,
) -> Result<image::RgbImage, SyntheticError> {
    const GAP: usize = 2;
    cfg.validate()?;
    if !(16..=512).contains(&cell) {
        return Err(SyntheticError::InvalidConfig {
            field: "cell",
            message: format!("({cell}) must be between 16 and 512 pixels"),
        });
    }
    if rows == 0 {
        return Err(SyntheticError::InvalidConfig {
            field: "rows",
            message: "must be at least 1".into(),
        });
    }
    let rows = rows.min(cfg.identities());
    let per = cfg.images_per_identity();
    let width = per * cell + (per + 1) * GAP;
    let height = rows * cell + (rows + 1) * GAP;
    let too_big = || SyntheticError::InvalidConfig {
        field: "rows",
        message: format!("a {width}×{height} contact sheet is too large"),
    };
    let (w32, h32) = (
        u32::try_from(width).map_err(|_| too_big())?,
        u32::try_from(height).map_err(|_| too_big())?,
    );
    if (width as u128) * (height as u128) * 3 > u128::from(MAX_PIXEL_BYTES) {
        return Err(too_big());
    }

    let len = cell * cell * 3;
    let mut cells = vec![0u8; rows * per * len];
    cells
        .par_chunks_mut(len)
        .enumerate()
        .try_for_each(|(j, out)| {
            let (id, modality, k) = cfg.locate(j);
            render_image(
                &Identity::new(cfg.seed, id),
                cfg.seed,
                id,
                modality,
                k,
                cell,
                out,
            )
        })?;

    let mut sheet = vec![40u8; width * height * 3];
    for (j, img) in cells.chunks(len).enumerate() {
        let (r, c) = (j / per, j % per);
        let (x0, y0) = (GAP + c * (cell + GAP), GAP + r * (cell + GAP));
        for y in 0..cell {
            let dst = ((y0 + y) * width + x0) * 3;
            sheet[dst..dst + cell * 3].copy_from_slice(&img[y * cell * 3..(y + 1) * cell * 3]);
        }
    }
    image::RgbImage::from_raw(w32, h32, sheet).ok_or_else(too_big)
}

// ---------------------------------------------------------------------------------------
// Seeding

/// Domain-separation tags so the identity, name and image streams never share a seed.
const TAG_IDENTITY: u64 = 0x1D;
const TAG_NAMES: u64 = 0x4A3E;
const TAG_IMAGE: u64 = 0x1A6E;

fn rng_for(parts: &[u64]) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(derive_seed(parts))
}

/// A standard normal draw.
fn normal(rng: &mut impl Rng) -> f32 {
    StandardNormal.sample(rng)
}

fn uniform(rng: &mut impl Rng, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * rng.random::<f32>()
}

/// `f32::clamp` panics when `lo > hi`, which derived bounds can produce for extreme faces.
fn clampf(v: f32, lo: f32, hi: f32) -> f32 {
    v.max(lo).min(hi)
}

// ---------------------------------------------------------------------------------------
// Names

const FIRST_NAMES: [&str; 48] = [
    "Ada", "Bruno", "Clara", "Dmitri", "Elena", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Kira",
    "Leon", "Mira", "Nico", "Olga", "Pavel", "Rosa", "Sven", "Tara", "Uma", "Viktor", "Wanda",
    "Yara", "Zeno", "Alma", "Boris", "Cora", "Dario", "Edda", "Filip", "Gaia", "Hanna", "Ivo",
    "Jana", "Kasimir", "Lena", "Milo", "Nadia", "Otto", "Petra", "Rafael", "Selma", "Timo",
    "Ursula", "Vera", "Wim", "Xenia", "Yusuf",
];
const SURNAME_HEADS: [&str; 18] = [
    "No", "Ka", "Ber", "Lin", "Mar", "Sol", "Da", "Vel", "Ro", "Te", "Bran", "Has", "Kor", "Mi",
    "Pe", "Stra", "Vo", "Zel",
];
const SURNAME_TAILS: [&str; 16] = [
    "vak", "ren", "ski", "dal", "berg", "ova", "lund", "tic", "mann", "nez", "ani", "rov", "sen",
    "vic", "kas", "dero",
];

/// Readable unique names drawn in identity order from one seeded stream.
fn identity_names(seed: u64, n: usize) -> Vec<String> {
    let mut rng = rng_for(&[seed, TAG_NAMES]);
    let mut seen = HashSet::with_capacity(n);
    let mut names = Vec::with_capacity(n);
    for _ in 0..n {
        let draw = |rng: &mut ChaCha8Rng| {
            format!(
                "{} {}{}",
                FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())],
                SURNAME_HEADS[rng.random_range(0..SURNAME_HEADS.len())],
                SURNAME_TAILS[rng.random_range(0..SURNAME_TAILS.len())]
            )
        };
        // 13 824 combinations: retries almost always find a fresh one; past that, number it.
        let mut name = draw(&mut rng);
        for _ in 0..16 {
            if !seen.contains(&name) {
                break;
            }
            name = draw(&mut rng);
        }
        let base = name.clone();
        let mut suffix = 2;
        while seen.contains(&name) {
            name = format!("{base} {suffix}");
            suffix += 1;
        }
        seen.insert(name.clone());
        names.push(name);
    }
    names
}

// ---------------------------------------------------------------------------------------
// Identities

#[derive(Clone, Copy, Debug, PartialEq)]
struct Rgb(f32, f32, f32);

impl Rgb {
    fn lum(self) -> f32 {
        0.299 * self.0 + 0.587 * self.1 + 0.114 * self.2
    }
    fn scale(self, k: f32) -> Rgb {
        Rgb(self.0 * k, self.1 * k, self.2 * k)
    }
    fn lerp(self, o: Rgb, t: f32) -> Rgb {
        Rgb(
            self.0 + (o.0 - self.0) * t,
            self.1 + (o.1 - self.1) * t,
            self.2 + (o.2 - self.2) * t,
        )
    }
    fn grey(v: f32) -> Rgb {
        Rgb(v, v, v)
    }
}

fn hsv(h: f32, s: f32, v: f32) -> Rgb {
    let h = h.rem_euclid(360.0) / 60.0;
    let c = v * s;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    Rgb(r + m, g + m, b + m)
}

fn to_hsv(c: Rgb) -> (f32, f32, f32) {
    let max = c.0.max(c.1).max(c.2);
    let min = c.0.min(c.1).min(c.2);
    let d = max - min;
    let h = if d <= 1e-6 {
        0.0
    } else if max == c.0 {
        60.0 * ((c.1 - c.2) / d).rem_euclid(6.0)
    } else if max == c.1 {
        60.0 * ((c.2 - c.0) / d + 2.0)
    } else {
        60.0 * ((c.0 - c.1) / d + 4.0)
    };
    let s = if max <= 1e-6 { 0.0 } else { d / max };
    (h, s, max)
}

const SKIN_TONES: [Rgb; 6] = [
    Rgb(0.98, 0.86, 0.76),
    Rgb(0.93, 0.76, 0.62),
    Rgb(0.82, 0.62, 0.46),
    Rgb(0.66, 0.46, 0.32),
    Rgb(0.48, 0.32, 0.21),
    Rgb(0.34, 0.22, 0.15),
];
const HAIR_COLOURS: [Rgb; 8] = [
    Rgb(0.07, 0.06, 0.06),
    Rgb(0.22, 0.14, 0.09),
    Rgb(0.42, 0.27, 0.15),
    Rgb(0.62, 0.27, 0.10),
    Rgb(0.88, 0.74, 0.44),
    Rgb(0.62, 0.62, 0.62),
    Rgb(0.92, 0.90, 0.84),
    Rgb(0.15, 0.10, 0.08),
];
const EYE_COLOURS: [Rgb; 5] = [
    Rgb(0.32, 0.18, 0.08),
    Rgb(0.28, 0.48, 0.78),
    Rgb(0.28, 0.52, 0.30),
    Rgb(0.52, 0.42, 0.18),
    Rgb(0.48, 0.54, 0.60),
];
const FRAME_COLOURS: [Rgb; 4] = [
    Rgb(0.05, 0.05, 0.05),
    Rgb(0.40, 0.22, 0.10),
    Rgb(0.78, 0.64, 0.25),
    Rgb(0.70, 0.10, 0.12),
];

// Indices of the continuous face parameters, in standard-normal units from the mean face.
const FACE_W: usize = 0;
const FACE_H: usize = 1;
const JAW: usize = 2;
const SQUARE: usize = 3;
const EYE_SIZE: usize = 4;
const EYE_SPACING: usize = 5;
const EYE_HEIGHT: usize = 6;
const BROW_THICK: usize = 7;
const BROW_TILT: usize = 8;
const BROW_GAP: usize = 9;
const NOSE_LEN: usize = 10;
const NOSE_W: usize = 11;
const MOUTH_W: usize = 12;
const LIP: usize = 13;
const MOUTH_Y: usize = 14;
const HAIR_VOL: usize = 15;
const EAR: usize = 16;
const N_SHAPE: usize = 17;

#[derive(Clone, Copy, Debug, PartialEq)]
enum HairStyle {
    Bald,
    Crop,
    SidePart,
    Fringe,
    Long,
    Bob,
    Curly,
    Spiky,
    Bun,
}

const HAIR_STYLES: [HairStyle; 9] = [
    HairStyle::Bald,
    HairStyle::Crop,
    HairStyle::SidePart,
    HairStyle::Fringe,
    HairStyle::Long,
    HairStyle::Bob,
    HairStyle::Curly,
    HairStyle::Spiky,
    HairStyle::Bun,
];

#[derive(Clone, Debug)]
struct Identity {
    shape: [f32; N_SHAPE],
    skin: Rgb,
    hair: Rgb,
    eye: Rgb,
    hair_style: HairStyle,
    /// Frame colour and whether the frames are round.
    glasses: Option<(Rgb, bool)>,
    beard: bool,
    moustache: bool,
    /// Position as fractions of the face half-width and of the eye-to-mouth span.
    mole: Option<(f32, f32)>,
}

impl Identity {
    fn new(seed: u64, index: usize) -> Self {
        let mut rng = rng_for(&[seed, TAG_IDENTITY, index as u64]);
        let mut shape = [0.0; N_SHAPE];
        for v in &mut shape {
            // Clamped so no photo face is already a caricature.
            *v = clampf(normal(&mut rng), -2.3, 2.3);
        }
        let t = rng.random::<f32>() * (SKIN_TONES.len() - 1) as f32;
        let i = (t as usize).min(SKIN_TONES.len() - 2);
        let skin = SKIN_TONES[i].lerp(SKIN_TONES[i + 1], t - i as f32);
        let jitter = |rng: &mut ChaCha8Rng, c: Rgb| {
            let k = uniform(rng, 0.9, 1.1);
            Rgb(
                clampf(c.0 * k, 0.0, 1.0),
                clampf(c.1 * k, 0.0, 1.0),
                clampf(c.2 * k, 0.0, 1.0),
            )
        };
        let base_hair = HAIR_COLOURS[rng.random_range(0..HAIR_COLOURS.len())];
        let hair = jitter(&mut rng, base_hair);
        let eye = EYE_COLOURS[rng.random_range(0..EYE_COLOURS.len())];
        let hair_style = HAIR_STYLES[rng.random_range(0..HAIR_STYLES.len())];
        let glasses = rng.random_bool(0.3).then(|| {
            (
                FRAME_COLOURS[rng.random_range(0..FRAME_COLOURS.len())],
                rng.random_bool(0.5),
            )
        });
        let beard = rng.random_bool(0.2);
        let moustache = beard || rng.random_bool(0.15);
        let mole = rng
            .random_bool(0.3)
            .then(|| (uniform(&mut rng, -0.6, 0.6), uniform(&mut rng, 0.3, 0.9)));
        Self {
            shape,
            skin,
            hair,
            eye,
            hair_style,
            glasses,
            beard,
            moustache,
            mole,
        }
    }
}

/// Pushes each deviation from the mean face further out, by a global factor with
/// per-feature emphasis; tanh saturation keeps the extreme faces drawable.
fn exaggerate(shape: &[f32; N_SHAPE], rng: &mut ChaCha8Rng) -> [f32; N_SHAPE] {
    const LIMIT: f32 = 4.5;
    let factor = uniform(rng, 1.5, 3.0);
    let mut out = [0.0; N_SHAPE];
    for (o, &d) in out.iter_mut().zip(shape) {
        let mut emphasis = uniform(rng, 0.7, 1.3);
        if rng.random_bool(0.25) {
            emphasis *= 1.5;
        }
        *o = LIMIT * (d * factor * emphasis / LIMIT).tanh();
    }
    out
}

/// Face geometry in face units: origin at the face centre, y down, mean half-width 0.27.
struct Geo {
    fw: f32,
    fh: f32,
    jaw: f32,
    square: f32,
    eye_r: f32,
    eye_dx: f32,
    eye_y: f32,
    brow_w: f32,
    brow_tilt: f32,
    brow_y: f32,
    nose_tip: f32,
    nose_w: f32,
    mouth_w: f32,
    mouth_y: f32,
    lip: f32,
    hair_vol: f32,
    ear: f32,
}

impl Geo {
    fn new(d: &[f32; N_SHAPE]) -> Self {
        let fw = clampf(0.27 + 0.026 * d[FACE_W], 0.15, 0.40);
        let fh = clampf(0.33 + 0.028 * d[FACE_H], 0.20, 0.46);
        let jaw = clampf(0.55 + 0.09 * d[JAW], 0.12, 1.0);
        let square = clampf(2.3 + 0.35 * d[SQUARE], 1.5, 4.5);
        let eye_r = clampf(0.052 + 0.008 * d[EYE_SIZE], 0.022, 0.095);
        let eye_dx = clampf(0.11 + 0.013 * d[EYE_SPACING], eye_r * 1.15, fw * 0.75);
        let eye_y = clampf(-0.05 + 0.018 * d[EYE_HEIGHT], -fh * 0.5, fh * 0.1);
        let brow_w = clampf(0.02 + 0.0055 * d[BROW_THICK], 0.007, 0.05);
        let brow_tilt = clampf(0.12 * d[BROW_TILT], -0.6, 0.6);
        let brow_y = eye_y - eye_r * 0.62 - clampf(0.035 + 0.01 * d[BROW_GAP], 0.008, 0.09);
        let nose_len = clampf(0.13 + 0.022 * d[NOSE_LEN], 0.05, 0.3);
        let nose_tip = (eye_y + nose_len).min(fh * 0.7 - 0.03);
        let nose_w = clampf(0.04 + 0.009 * d[NOSE_W], 0.015, 0.1);
        let mouth_w = clampf(0.09 + 0.014 * d[MOUTH_W], 0.035, fw * 0.8);
        let lip = clampf(0.016 + 0.005 * d[LIP], 0.005, 0.045);
        let mouth_y = clampf(
            nose_tip + (fh - nose_tip) * 0.42 + 0.014 * d[MOUTH_Y],
            nose_tip + lip * 1.5 + 0.015,
            fh - lip * 2.5 - 0.012,
        );
        Self {
            fw,
            fh,
            jaw,
            square,
            eye_r,
            eye_dx,
            eye_y,
            brow_w,
            brow_tilt,
            brow_y,
            nose_tip,
            nose_w,
            mouth_w,
            mouth_y,
            lip,
            hair_vol: clampf(0.045 + 0.02 * d[HAIR_VOL], 0.008, 0.14),
            ear: clampf(0.06 + 0.011 * d[EAR], 0.025, 0.12),
        }
    }

    /// Point on the head outline at angle `t` (0 = right, π/2 = chin): a superellipse
    /// whose lower half tapers towards the chin by `jaw`.
    fn head(&self, t: f32) -> (f32, f32) {
        let (s, c) = t.sin_cos();
        let e = 2.0 / self.square;
        let x = c.signum() * c.abs().powf(e);
        let y = s.signum() * s.abs().powf(e);
        let taper = if y > 0.0 {
            1.0 - (1.0 - self.jaw) * y.powf(1.6)
        } else {
            1.0
        };
        (self.fw * x * taper, self.fh * y)
    }
}

// ---------------------------------------------------------------------------------------
// Drawing

#[derive(Clone, Copy, Debug, PartialEq)]
enum Style {
    Photo,
    LineArt,
    Flat,
    Sketch,
    HighContrast,
}

/// What a filled shape depicts, so each style can recolour it consistently.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Skin,
    Hair,
    Sclera,
    Iris,
    Dark,
    Lips,
    Cloth,
}

struct Painter {
    pix: Pixmap,
    ts: Transform,
    style: Style,
    /// Outline width in face units; 0 for photos.
    outline: f32,
    /// Multiplier for feature lines (brows, lids, nose) in drawn styles.
    line_scale: f32,
    hue: f32,
    ink: Rgb,
}

fn paint(c: Rgb) -> Paint<'static> {
    let q = |v: f32| (clampf(v, 0.0, 1.0) * 255.0 + 0.5) as u8;
    let mut p = Paint::default();
    p.set_color(Color::from_rgba8(q(c.0), q(c.1), q(c.2), 255));
    p.anti_alias = true;
    p
}

fn stroke(width: f32) -> Stroke {
    Stroke {
        width,
        line_cap: LineCap::Round,
        line_join: LineJoin::Round,
        ..Stroke::default()
    }
}

impl Painter {
    fn fill_colour(&self, c: Rgb, role: Role) -> Rgb {
        let white = Rgb::grey(1.0);
        match self.style {
            Style::Photo | Style::HighContrast => c,
            Style::LineArt => match role {
                Role::Dark => self.ink,
                // Dark hair is inked solid, as cartoonists do; light hair stays open.
                Role::Hair if c.lum() < 0.35 => self.ink,
                _ => white,
            },
            Style::Flat => match role {
                Role::Dark => self.ink,
                Role::Sclera => white,
                _ => {
                    let (h, s, v) = to_hsv(c);
                    hsv(
                        h + self.hue,
                        clampf(s * 1.5 + 0.3, 0.0, 1.0),
                        clampf(v * 0.85 + 0.2, 0.0, 1.0),
                    )
                }
            },
            Style::Sketch => match role {
                Role::Dark => self.ink,
                Role::Sclera => white,
                _ => Rgb::grey(0.25 + 0.75 * c.lum()),
            },
        }
    }

    fn fill(&mut self, path: Option<Path>, c: Rgb, role: Role) {
        let Some(path) = path else { return };
        let col = self.fill_colour(c, role);
        self.pix
            .fill_path(&path, &paint(col), FillRule::Winding, self.ts, None);
        if self.outline > 0.0 && role != Role::Dark {
            let w = match role {
                Role::Iris | Role::Sclera => self.outline * 0.5,
                _ => self.outline,
            };
            self.pix
                .stroke_path(&path, &paint(self.ink), &stroke(w), self.ts, None);
        }
    }

    /// A feature line (brow, lid, nose, mouth, frames): its own colour in photos, ink otherwise.
    fn line(&mut self, path: Option<Path>, c: Rgb, width: f32) {
        let Some(path) = path else { return };
        let (col, w) = match self.style {
            Style::Photo => (c, width),
            _ => (self.ink, width * self.line_scale),
        };
        self.pix
            .stroke_path(&path, &paint(col), &stroke(w), self.ts, None);
    }
}

/// The two sides of the face, for mirrored features.
const SIDES: [f32; 2] = [-1.0, 1.0];

/// Several ellipses `(cx, cy, rx, ry)` in one path: paired features cost one draw call.
fn ellipses<const N: usize>(items: [(f32, f32, f32, f32); N]) -> Option<Path> {
    let mut pb = PathBuilder::new();
    for (cx, cy, rx, ry) in items {
        if let Some(r) = Rect::from_xywh(cx - rx, cy - ry, 2.0 * rx, 2.0 * ry) {
            pb.push_oval(r);
        }
    }
    pb.finish()
}

type Pt = (f32, f32);

/// Several quadratic strokes `(start, control, end)` in one path.
fn quads<const N: usize>(items: [(Pt, Pt, Pt); N]) -> Option<Path> {
    let mut pb = PathBuilder::new();
    for (a, c, b) in items {
        pb.move_to(a.0, a.1);
        pb.quad_to(c.0, c.1, b.0, b.1);
    }
    pb.finish()
}

fn ellipse(cx: f32, cy: f32, rx: f32, ry: f32) -> Option<Path> {
    Rect::from_xywh(cx - rx, cy - ry, 2.0 * rx, 2.0 * ry).and_then(PathBuilder::from_oval)
}

fn polygon(pts: impl IntoIterator<Item = (f32, f32)>) -> Option<Path> {
    let mut pb = PathBuilder::new();
    for (i, (x, y)) in pts.into_iter().enumerate() {
        if i == 0 {
            pb.move_to(x, y);
        } else {
            pb.line_to(x, y);
        }
    }
    pb.close();
    pb.finish()
}

fn quad(a: (f32, f32), c: (f32, f32), b: (f32, f32)) -> Option<Path> {
    let mut pb = PathBuilder::new();
    pb.move_to(a.0, a.1);
    pb.quad_to(c.0, c.1, b.0, b.1);
    pb.finish()
}

/// Per-image variation that is not part of the identity.
struct Scene {
    smile: f32,
    openness: f32,
    gaze: f32,
    body_scale: f32,
    shirt: Rgb,
}

fn draw_face(p: &mut Painter, id: &Identity, g: &Geo, sc: &Scene) {
    // Painted back to front: hair behind, body, head, hair, then the features on top.
    let hair_behind = draw_back_hair(p, id, g);
    draw_body(p, id, g, sc, hair_behind);
    draw_head(p, id, g);
    draw_hair(p, g, id.hair_style, id.hair);
    draw_brows(p, id, g);
    draw_eyes(p, id, g, sc);
    draw_nose(p, id, g);
    draw_mouth(p, id, g, sc);
    draw_mole(p, id, g);
    draw_glasses(p, id, g);
}

/// Long or bob hair hanging behind the head and shoulders; whether there is any.
fn draw_back_hair(p: &mut Painter, id: &Identity, g: &Geo) -> bool {
    let (fw, fh, v) = (g.fw, g.fh, g.hair_vol);
    let hair = id.hair;
    let back_len = match id.hair_style {
        HairStyle::Long => Some(fh + 0.12 + v),
        HairStyle::Bob => Some(fh * 0.55),
        _ => None,
    };
    if let Some(len) = back_len {
        let w = fw + v + 0.035;
        let top = fh + v * 1.3;
        let cy = -fh * 0.15;
        let arc = (0..=16).map(|i| {
            let t = PI + PI * i as f32 / 16.0;
            (w * t.cos(), cy + top * t.sin())
        });
        p.fill(
            polygon(arc.chain([(w + 0.02, len), (-w - 0.02, len)])),
            hair,
            Role::Hair,
        );
    }

    back_len.is_some()
}

/// Shoulders, then the neck over them, and the ears unless hair hides them.
fn draw_body(p: &mut Painter, id: &Identity, g: &Geo, sc: &Scene, hair_behind: bool) {
    let fh = g.fh;
    let fw = g.fw;
    let bs = sc.body_scale;
    p.fill(
        ellipse(0.0, fh + 0.08 + 0.27 * bs, 0.46 * bs, 0.27 * bs),
        sc.shirt,
        Role::Cloth,
    );
    let nw = fw * 0.42;
    p.fill(
        polygon([
            (-nw, fh * 0.4),
            (nw, fh * 0.4),
            (nw, fh + 0.12),
            (-nw, fh + 0.12),
        ]),
        id.skin.scale(0.85),
        Role::Skin,
    );

    if !hair_behind {
        p.fill(
            ellipses(SIDES.map(|s| (s * fw * 0.98, g.eye_y + 0.04, g.ear * 0.5, g.ear))),
            id.skin.scale(0.93),
            Role::Skin,
        );
    }
}

/// A bun above the head, the head itself, and a beard over its lower part.
fn draw_head(p: &mut Painter, id: &Identity, g: &Geo) {
    let (fh, v) = (g.fh, g.hair_vol);
    let hair = id.hair;
    if id.hair_style == HairStyle::Bun {
        p.fill(
            ellipse(0.0, -fh - v - 0.03, 0.07 + v * 0.5, 0.06 + v * 0.4),
            hair,
            Role::Hair,
        );
    }

    const HEAD_PTS: usize = 48;
    p.fill(
        polygon((0..HEAD_PTS).map(|i| g.head(TAU * i as f32 / HEAD_PTS as f32))),
        id.skin,
        Role::Skin,
    );

    if id.beard {
        // Lower head contour from cheek to cheek, back over the upper lip.
        let top = g.nose_tip + 0.01;
        let mut pts: Vec<(f32, f32)> = (0..=24)
            .map(|i| {
                let t = (i as f32 / 24.0) * PI;
                let (x, y) = g.head(t);
                (x * 1.03, y * 1.04)
            })
            .filter(|&(_, y)| y >= top)
            .collect();
        let mw = g.mouth_w + 0.03;
        let my = g.mouth_y - g.lip * 1.6 - 0.012;
        pts.extend([(-mw, my), (0.0, my - 0.01), (mw, my)]);
        p.fill(polygon(pts), hair.scale(0.9), Role::Hair);
    }
}

/// Thick round-capped strokes, the outer end raised by the tilt.
fn draw_brows(p: &mut Painter, id: &Identity, g: &Geo) {
    let brows = SIDES.map(|s| {
        let inner = (s * (g.eye_dx - g.eye_r * 1.05), g.brow_y + 0.005);
        let outer_x = s * (g.eye_dx + g.eye_r * 1.2);
        let outer = (outer_x, g.brow_y - g.brow_tilt * g.eye_r * 1.2);
        let mid = ((inner.0 + outer.0) / 2.0, g.brow_y - 0.012);
        (inner, mid, outer)
    });
    p.line(quads(brows), id.hair.scale(0.8), g.brow_w);
}

/// Sclera, iris, pupil and the upper lid; openness and gaze vary per image.
fn draw_eyes(p: &mut Painter, id: &Identity, g: &Geo, sc: &Scene) {
    let ry = g.eye_r * 0.62 * sc.openness;
    let (er, ey) = (g.eye_r, g.eye_y);
    let ir = (er * 0.5).min(ry * 0.95);
    let ix = |s: f32| s * g.eye_dx + sc.gaze * er * 0.35;
    p.fill(
        ellipses(SIDES.map(|s| (s * g.eye_dx, ey, er, ry))),
        Rgb(0.95, 0.94, 0.92),
        Role::Sclera,
    );
    p.fill(
        ellipses(SIDES.map(|s| (ix(s), ey, ir, ir))),
        id.eye,
        Role::Iris,
    );
    p.fill(
        ellipses(SIDES.map(|s| (ix(s), ey, ir * 0.5, ir * 0.5))),
        Rgb::grey(0.03),
        Role::Dark,
    );
    let lids = SIDES.map(|s| {
        let cx = s * g.eye_dx;
        (
            (cx - er * 1.05, ey),
            (cx, ey - ry * 2.1),
            (cx + er * 1.05, ey),
        )
    });
    p.line(quads(lids), Rgb::grey(0.12), 0.011);
}

/// One side of the bridge, the base curve and the nostrils.
fn draw_nose(p: &mut Painter, id: &Identity, g: &Geo) {
    let shade = id.skin.scale(0.62);
    let (nt, nw) = (g.nose_tip, g.nose_w);
    p.line(
        quad(
            (nw * 0.3, g.eye_y + 0.03),
            (nw * 0.55, (g.eye_y + nt) * 0.5),
            (nw * 0.75, nt - 0.025),
        ),
        shade,
        0.01,
    );
    p.line(
        quad((-nw, nt - 0.012), (0.0, nt + 0.03), (nw, nt - 0.012)),
        shade,
        0.012,
    );
    p.fill(
        ellipses(SIDES.map(|s| (s * nw * 0.45, nt, nw * 0.22 + 0.004, 0.009))),
        id.skin.scale(0.4),
        Role::Dark,
    );
}

/// A moustache, then the lips; the corners rise with the smile.
fn draw_mouth(p: &mut Painter, id: &Identity, g: &Geo, sc: &Scene) {
    let (mw, my, lip) = (g.mouth_w, g.mouth_y, g.lip);
    let corner = my - sc.smile * 0.028;
    let line_y = my + sc.smile * 0.03;
    if id.moustache {
        let y = my - lip * 1.4 - 0.016;
        p.line(
            quad(
                (-mw * 1.05, y + 0.018),
                (0.0, y - 0.035),
                (mw * 1.05, y + 0.018),
            ),
            id.hair.scale(0.85),
            0.026 + lip * 0.5,
        );
    }
    let mut lips = PathBuilder::new();
    lips.move_to(-mw, corner);
    lips.quad_to(0.0, my - lip * 2.4, mw, corner);
    lips.quad_to(0.0, my + lip * 3.0 + sc.smile * 0.03, -mw, corner);
    lips.close();
    let lip_colour = id.skin.lerp(Rgb(0.72, 0.22, 0.25), 0.45).scale(0.92);
    p.fill(lips.finish(), lip_colour, Role::Lips);
    p.line(
        quad((-mw, corner), (0.0, line_y), (mw, corner)),
        lip_colour.scale(0.45),
        0.009,
    );
}

fn draw_mole(p: &mut Painter, id: &Identity, g: &Geo) {
    let fw = g.fw;
    if let Some((mx, my_frac)) = id.mole {
        let y = g.eye_y + (g.mouth_y - g.eye_y) * my_frac;
        p.fill(
            ellipse(mx * fw, y, 0.011, 0.011),
            Rgb(0.25, 0.15, 0.1),
            Role::Dark,
        );
    }
}

fn draw_glasses(p: &mut Painter, id: &Identity, g: &Geo) {
    let fw = g.fw;
    if let Some((frame, round)) = id.glasses {
        // Lenses, arms and bridge as one path: one stroke call for the whole frame.
        let r = (g.eye_r * 1.45).max(0.055).min(g.eye_dx * 0.95);
        let cy = g.eye_y;
        let mut pb = PathBuilder::new();
        for s in SIDES {
            let cx = s * g.eye_dx;
            if let Some(rect) = Rect::from_xywh(cx - r, cy - r * 0.75, 2.0 * r, 1.5 * r) {
                if round {
                    pb.push_circle(cx, cy, r);
                } else {
                    pb.push_rect(rect);
                }
            }
            pb.move_to(s * (g.eye_dx + r), cy - r * 0.3);
            pb.line_to(s * fw, cy - r * 0.5);
        }
        pb.move_to(-(g.eye_dx - r), cy - r * 0.2);
        pb.quad_to(0.0, cy - r * 0.6, g.eye_dx - r, cy - r * 0.2);
        p.line(pb.finish(), frame, 0.015);
    }
}

fn draw_hair(p: &mut Painter, g: &Geo, style: HairStyle, hair: Rgb) {
    let (fw, fh, v) = (g.fw, g.fh, g.hair_vol);
    let side_y = g.eye_y - 0.015;
    if style == HairStyle::Bald {
        p.fill(
            ellipses(SIDES.map(|s| (s * fw * 0.97, g.eye_y - 0.035, 0.03 + v * 0.3, 0.075))),
            hair,
            Role::Hair,
        );
        return;
    }
    // Hairline from the right temple to the left one, per style.
    let crop = [
        (fw * 0.96, side_y),
        (fw * 0.86, -fh * 0.55),
        (fw * 0.45, -fh * 0.72),
        (0.0, -fh * 0.75),
        (-fw * 0.45, -fh * 0.72),
        (-fw * 0.86, -fh * 0.55),
        (-fw * 0.96, side_y),
    ];
    let by = g.brow_y;
    let hairline: Vec<(f32, f32)> = match style {
        HairStyle::SidePart => vec![
            (fw * 0.96, side_y),
            (fw * 0.7, by - 0.035),
            (fw * 0.15, by - 0.05),
            (-fw * 0.3, -fh * 0.62),
            (-fw * 0.6, -fh * 0.72),
            (-fw * 0.88, -fh * 0.5),
            (-fw * 0.96, side_y),
        ],
        HairStyle::Fringe | HairStyle::Bob => {
            let mut pts = vec![(fw * 0.97, side_y + 0.02)];
            for i in 0..=8 {
                let x = fw * (0.85 - 1.7 * i as f32 / 8.0);
                let y = by - if i % 2 == 0 { 0.022 } else { 0.045 };
                pts.push((x, y));
            }
            pts.push((-fw * 0.97, side_y + 0.02));
            pts
        }
        HairStyle::Long => vec![
            (fw * 0.96, side_y + 0.1),
            (fw * 0.78, -fh * 0.35),
            (fw * 0.3, -fh * 0.68),
            (0.0, -fh * 0.8),
            (-fw * 0.3, -fh * 0.68),
            (-fw * 0.78, -fh * 0.35),
            (-fw * 0.96, side_y + 0.1),
        ],
        _ => crop.to_vec(),
    };
    let (sx, sy) = (1.0 + v / fw, 1.0 + v * 1.3 / fh);
    let start_y = hairline.first().map_or(side_y, |pt| pt.1);
    let mut pts = vec![(-(fw + v * 0.5), start_y)];
    pts.extend((1..24).map(|i| {
        let (x, y) = g.head(PI + PI * i as f32 / 24.0);
        (x * sx, y.min(side_y) * sy)
    }));
    pts.push((fw + v * 0.5, start_y));
    pts.extend(hairline);
    p.fill(polygon(pts), hair, Role::Hair);

    match style {
        HairStyle::Curly => {
            // One path of overlapping circles: their outlines draw the curls.
            let r = 0.045 + v * 0.45;
            let k = 1.0 + (v * 0.6) / fw;
            let curls: [(f32, f32, f32, f32); 11] = std::array::from_fn(|i| {
                let (x, y) = g.head(PI - 0.15 + (PI + 0.3) * i as f32 / 10.0);
                (x * k, y * k, r, r)
            });
            p.fill(ellipses(curls), hair, Role::Hair);
        }
        HairStyle::Spiky => {
            let mut pb = PathBuilder::new();
            for i in 0..7 {
                let t = PI + PI * (i as f32 + 0.5) / 7.0;
                let (x, y) = g.head(t);
                let (x, y) = (x * sx, y * sy);
                let len = 0.06 + v * 0.8;
                let (c, s) = (t.cos(), t.sin());
                let w = 0.045;
                pb.move_to(x - s * w, y + c * w);
                pb.line_to(x + c * len, y + s * len);
                pb.line_to(x + s * w, y - c * w);
                pb.close();
            }
            p.fill(pb.finish(), hair, Role::Hair);
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// Per-image rendering and pixel post-processing

/// Renders one image into `out` (`size × size × 3` HWC bytes). Every random choice comes from
/// one generator seeded by the image's identity, modality and number, drawn in a fixed order.
fn render_image(
    id: &Identity,
    seed: u64,
    index: usize,
    modality: Modality,
    k: usize,
    size: usize,
    out: &mut [u8],
) -> Result<(), SyntheticError> {
    let modality_tag = match modality {
        Modality::Photo => 0,
        Modality::Caricature => 1,
    };
    let mut rng = rng_for(&[seed, TAG_IMAGE, index as u64, modality_tag, k as u64]);
    let big = size * 2;
    let canvas = u32::try_from(big).map_err(|_| SyntheticError::Canvas { size: big })?;
    let pix = Pixmap::new(canvas, canvas).ok_or(SyntheticError::Canvas { size: big })?;
    let photo = modality == Modality::Photo;
    let style = pick_style(photo, &mut rng);
    let shape = if photo {
        id.shape
    } else {
        exaggerate(&id.shape, &mut rng)
    };
    let ts = pose(photo, big, &mut rng);
    let scene = Scene::draw(photo, &mut rng);
    let painter = paint_face(pix, id, &Geo::new(&shape), &scene, style, ts, &mut rng);
    // Float RGB at the render size for the post-processing passes.
    let mut buf = Vec::with_capacity(big * big * 3);
    for px in painter.pix.data().chunks_exact(4) {
        buf.extend([px[0], px[1], px[2]].map(|b| b as f32 * (1.0 / 255.0)));
    }
    let small = post_process(buf, id, style, photo, big, size, &mut rng);
    add_noise_and_quantise(out, &small, photo, &mut rng);
    Ok(())
}

/// Photos are photos; a caricature is drawn in one of four styles.
fn pick_style(photo: bool, rng: &mut ChaCha8Rng) -> Style {
    if photo {
        return Style::Photo;
    }
    [
        Style::LineArt,
        Style::Flat,
        Style::Sketch,
        Style::HighContrast,
    ][rng.random_range(0..4)]
}

/// A small random rotation, zoom and shift of the face on a `big`-pixel canvas.
fn pose(photo: bool, big: usize, rng: &mut ChaCha8Rng) -> Transform {
    let (angle, scale, shift) = if photo {
        (7.0f32, (0.92, 1.05), 0.035)
    } else {
        (10.0, (0.86, 1.0), 0.04)
    };
    let angle = uniform(rng, -angle, angle).to_radians();
    let zoom = uniform(rng, scale.0, scale.1);
    let tx = 0.5 + uniform(rng, -shift, shift);
    let ty = 0.45 + uniform(rng, -shift, shift);
    let s = big as f32 * zoom;
    let (sin, cos) = angle.sin_cos();
    Transform::from_row(
        s * cos,
        s * sin,
        -s * sin,
        s * cos,
        big as f32 * tx,
        big as f32 * ty,
    )
}

impl Scene {
    /// Expression, gaze, body size and shirt of one image (caricatures vary more).
    fn draw(photo: bool, rng: &mut ChaCha8Rng) -> Scene {
        let pick = |rng: &mut ChaCha8Rng, photo_range: (f32, f32), cari_range: (f32, f32)| {
            let (lo, hi) = if photo { photo_range } else { cari_range };
            uniform(rng, lo, hi)
        };
        Scene {
            smile: pick(rng, (-0.3, 1.0), (-0.5, 1.4)),
            openness: pick(rng, (0.55, 1.1), (0.5, 1.3)),
            gaze: uniform(rng, -1.0, 1.0),
            body_scale: if photo { 1.0 } else { uniform(rng, 0.6, 0.8) },
            shirt: hsv(
                uniform(rng, 0.0, 360.0),
                uniform(rng, 0.2, 0.7),
                uniform(rng, 0.25, 0.8),
            ),
        }
    }
}

/// Quantise a colour channel in 0..1 to a byte.
fn quantise(v: f32) -> u8 {
    (clampf(v, 0.0, 1.0) * 255.0 + 0.5) as u8
}

/// The background of the style, then the face with the style's outline and ink.
fn paint_face(
    mut pix: Pixmap,
    id: &Identity,
    geo: &Geo,
    scene: &Scene,
    style: Style,
    ts: Transform,
    rng: &mut ChaCha8Rng,
) -> Painter {
    let background = match style {
        Style::Photo => {
            let g = uniform(rng, 0.35, 0.85);
            Rgb(
                g * uniform(rng, 0.9, 1.1),
                g * uniform(rng, 0.9, 1.1),
                g * uniform(rng, 0.9, 1.1),
            )
        }
        Style::Flat => hsv(uniform(rng, 0.0, 360.0), 0.25, 0.97),
        Style::Sketch => Rgb(0.97, 0.96, 0.92),
        Style::LineArt | Style::HighContrast => Rgb::grey(1.0),
    };
    let [r, g, b] = [background.0, background.1, background.2].map(quantise);
    pix.fill(Color::from_rgba8(r, g, b, 255));
    let (outline, line_scale) = match style {
        Style::Photo => (0.0, 1.0),
        Style::LineArt => (0.02, 1.5),
        Style::Flat => (0.03, 1.8),
        Style::Sketch => (0.014, 1.2),
        Style::HighContrast => (0.016, 1.5),
    };
    let jitter = uniform(rng, 0.8, 1.25);
    let mut painter = Painter {
        pix,
        ts,
        style,
        outline: outline * jitter,
        line_scale: line_scale * jitter,
        hue: uniform(rng, 0.0, 360.0),
        ink: if style == Style::Sketch {
            Rgb::grey(0.12)
        } else {
            Rgb::grey(0.0)
        },
    };
    draw_face(&mut painter, id, geo, scene);
    painter
}

/// The style's pixel passes at the render size, then the downsample to `size` and, for
/// photos, lighting.
fn post_process(
    mut buf: Vec<f32>,
    id: &Identity,
    style: Style,
    photo: bool,
    big: usize,
    size: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<f32> {
    match style {
        Style::Photo | Style::LineArt | Style::Flat => {}
        Style::Sketch => hatch(&mut buf, big, rng.random_range(0..16)),
        Style::HighContrast => {
            // Strong side light so that the threshold carves shadows, as in ink posters.
            light(&mut buf, big, rng, 1.0);
            let t = id.skin.lum() * uniform(rng, 0.6, 0.8);
            threshold(&mut buf, t);
        }
    }
    if !photo {
        buf = warp(&buf, big, rng);
    }
    let mut small = downsample(&buf, big);
    if photo {
        light(&mut small, size, rng, 0.45);
    }
    small
}

/// Sensor noise (stronger for photos), then bytes.
fn add_noise_and_quantise(out: &mut [u8], small: &[f32], photo: bool, rng: &mut ChaCha8Rng) {
    let sigma = if photo {
        uniform(rng, 0.006, 0.025)
    } else {
        0.004
    };
    // Irwin–Hall noise: the sum of a u32's four bytes is close enough to Gaussian and
    // costs one RNG word per channel.
    for (o, &v) in out.iter_mut().zip(small) {
        let w = rng.next_u32().to_le_bytes();
        let sum: u32 = w.iter().map(|&b| b as u32).sum();
        let n = (sum as f32 - 510.0) / 147.8;
        *o = quantise(v + n * sigma);
    }
}

/// Directional lighting gradient, global exposure and a slight colour cast.
fn light(buf: &mut [f32], n: usize, rng: &mut ChaCha8Rng, strength: f32) {
    let dir = uniform(rng, 0.0, TAU);
    let amount = uniform(rng, 0.0, strength);
    let (gx, gy) = (dir.cos() * amount, dir.sin() * amount);
    let exposure = uniform(rng, 0.82, 1.12);
    let cast = [
        uniform(rng, 0.94, 1.06),
        uniform(rng, 0.96, 1.04),
        uniform(rng, 0.94, 1.06),
    ];
    for (i, px) in buf.chunks_exact_mut(3).enumerate() {
        let (x, y) = (
            (i % n) as f32 / n as f32 - 0.5,
            (i / n) as f32 / n as f32 - 0.5,
        );
        let f = exposure * (1.0 + gx * x + gy * y);
        for (c, k) in px.iter_mut().zip(cast) {
            *c *= f * k;
        }
    }
}

/// Pencil shading: tones become diagonal hatching, denser (and crossed) where darker;
/// near-black ink lines are kept as drawn.
fn hatch(buf: &mut [f32], n: usize, phase: usize) {
    // Spacing follows the canvas so large renders get pencil lines, not a fine screen.
    let period = (n / 16).max(4);
    for (i, px) in buf.chunks_exact_mut(3).enumerate() {
        let l = 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2];
        if l < 0.2 {
            continue;
        }
        let (x, y) = (i % n + phase, i / n);
        let mut v = 0.96;
        if l < 0.75 && (x + y).is_multiple_of(period) {
            v = 0.4;
        }
        if l < 0.55 && (x + n - y).is_multiple_of(period) {
            v = 0.35;
        }
        if l < 0.38 && (x + y + period / 2).is_multiple_of(period) {
            v = 0.3;
        }
        px[0] = v;
        px[1] = v * 0.99;
        px[2] = v * 0.95;
    }
}

fn threshold(buf: &mut [f32], t: f32) {
    for px in buf.chunks_exact_mut(3) {
        let l = 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2];
        let v = if l > t { 1.0 } else { 0.0 };
        px.fill(v);
    }
}

/// Smooth non-rigid warp: two sinusoidal displacement components per axis, one along
/// a single axis and one oblique, resampled bilinearly. The oblique term is expanded with
/// the angle-sum identity so only O(n) sines are evaluated per image.
fn warp(src: &[f32], n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let nf = n as f32;
    let mut amp = || nf * uniform(rng, 0.012, 0.04);
    let (ax1, ax2, ay1, ay2) = (amp(), amp(), amp(), amp());
    let mut freq = || uniform(rng, 0.5, 1.6) * TAU / nf;
    let (fx1, fx2, fx3, fy1, fy2, fy3) = (freq(), freq(), freq(), freq(), freq(), freq());
    let mut phase = || uniform(rng, 0.0, TAU);
    let (px1, px2, py1, py2) = (phase(), phase(), phase(), phase());

    // dx = ax1·sin(fx1·y + px1) + ax2·sin(fx2·x + fx3·y + px2), dy likewise with x/y swapped.
    let per_row: Vec<[f32; 5]> = (0..n)
        .map(|y| {
            let y = y as f32;
            let (s2, c2) = (fx3 * y + px2).sin_cos();
            let (s4, c4) = (fy2 * y + py2).sin_cos();
            [ax1 * (fx1 * y + px1).sin(), s2, c2, s4, c4]
        })
        .collect();
    let per_col: Vec<[f32; 5]> = (0..n)
        .map(|x| {
            let x = x as f32;
            let (s1, c1) = (fx2 * x).sin_cos();
            let (s3, c3) = (fy3 * x).sin_cos();
            [ay1 * (fy1 * x + py1).sin(), s1, c1, s3, c3]
        })
        .collect();

    let mut out = vec![0.0; src.len()];
    let max = (n - 1) as f32;
    for (y, row) in per_row.iter().enumerate() {
        for (x, col) in per_col.iter().enumerate() {
            let dx = row[0] + ax2 * (col[1] * row[2] + col[2] * row[1]);
            let dy = col[0] + ay2 * (row[3] * col[4] + row[4] * col[3]);
            let sx = clampf(x as f32 + dx, 0.0, max);
            let sy = clampf(y as f32 + dy, 0.0, max);
            let (x0, y0) = (sx as usize, sy as usize);
            let (wx, wy) = (sx - x0 as f32, sy - y0 as f32);
            let i00 = (y0 * n + x0) * 3;
            let i01 = if x0 + 1 < n { i00 + 3 } else { i00 };
            let dy_row = if y0 + 1 < n { n * 3 } else { 0 };
            let (i10, i11) = (i00 + dy_row, i01 + dy_row);
            let (w00, w01) = ((1.0 - wx) * (1.0 - wy), wx * (1.0 - wy));
            let (w10, w11) = ((1.0 - wx) * wy, wx * wy);
            let o = (y * n + x) * 3;
            for c in 0..3 {
                out[o + c] = src[i00 + c] * w00
                    + src[i01 + c] * w01
                    + src[i10 + c] * w10
                    + src[i11 + c] * w11;
            }
        }
    }
    out
}

/// 2×2 box filter from the render size `n` to `n / 2`.
fn downsample(src: &[f32], n: usize) -> Vec<f32> {
    let m = n / 2;
    let mut out = vec![0.0; m * m * 3];
    let row = n * 3;
    for (y, dst) in out.chunks_exact_mut(m * 3).enumerate() {
        let r0 = &src[2 * y * row..(2 * y + 1) * row];
        let r1 = &src[(2 * y + 1) * row..(2 * y + 2) * row];
        for (x, px) in dst.chunks_exact_mut(3).enumerate() {
            for (c, v) in px.iter_mut().enumerate() {
                let a = 6 * x + c;
                *v = 0.25 * (r0[a] + r0[a + 3] + r1[a] + r1[a + 3]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
