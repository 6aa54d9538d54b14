//! An identity: face-shape deviations from the mean face, categorical traits and colours,
//! the caricature rule that exaggerates them, and the face geometry they give.

use super::random::TAG_IDENTITY;
use super::random::clampf;
use super::random::normal;
use super::random::rng_for;
use super::random::uniform;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Rgb(pub(super) f32, pub(super) f32, pub(super) f32);

impl Rgb {
    pub(super) fn lum(self) -> f32 {
        0.299 * self.0 + 0.587 * self.1 + 0.114 * self.2
    }
    pub(super) fn scale(self, k: f32) -> Rgb {
        Rgb(self.0 * k, self.1 * k, self.2 * k)
    }
    pub(super) fn lerp(self, o: Rgb, t: f32) -> Rgb {
        Rgb(
            self.0 + (o.0 - self.0) * t,
            self.1 + (o.1 - self.1) * t,
            self.2 + (o.2 - self.2) * t,
        )
    }
    pub(super) fn grey(v: f32) -> Rgb {
        Rgb(v, v, v)
    }
}

pub(super) fn hsv(h: f32, s: f32, v: f32) -> Rgb {
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

pub(super) fn to_hsv(c: Rgb) -> (f32, f32, f32) {
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

pub(super) const SKIN_TONES: [Rgb; 6] = [
    Rgb(0.98, 0.86, 0.76),
    Rgb(0.93, 0.76, 0.62),
    Rgb(0.82, 0.62, 0.46),
    Rgb(0.66, 0.46, 0.32),
    Rgb(0.48, 0.32, 0.21),
    Rgb(0.34, 0.22, 0.15),
];
pub(super) const HAIR_COLOURS: [Rgb; 8] = [
    Rgb(0.07, 0.06, 0.06),
    Rgb(0.22, 0.14, 0.09),
    Rgb(0.42, 0.27, 0.15),
    Rgb(0.62, 0.27, 0.10),
    Rgb(0.88, 0.74, 0.44),
    Rgb(0.62, 0.62, 0.62),
    Rgb(0.92, 0.90, 0.84),
    Rgb(0.15, 0.10, 0.08),
];
pub(super) const EYE_COLOURS: [Rgb; 5] = [
    Rgb(0.32, 0.18, 0.08),
    Rgb(0.28, 0.48, 0.78),
    Rgb(0.28, 0.52, 0.30),
    Rgb(0.52, 0.42, 0.18),
    Rgb(0.48, 0.54, 0.60),
];
pub(super) const FRAME_COLOURS: [Rgb; 4] = [
    Rgb(0.05, 0.05, 0.05),
    Rgb(0.40, 0.22, 0.10),
    Rgb(0.78, 0.64, 0.25),
    Rgb(0.70, 0.10, 0.12),
];

// Indices of the continuous face parameters, in standard-normal units from the mean face.
pub(super) const FACE_W: usize = 0;
pub(super) const FACE_H: usize = 1;
pub(super) const JAW: usize = 2;
pub(super) const SQUARE: usize = 3;
pub(super) const EYE_SIZE: usize = 4;
pub(super) const EYE_SPACING: usize = 5;
pub(super) const EYE_HEIGHT: usize = 6;
pub(super) const BROW_THICK: usize = 7;
pub(super) const BROW_TILT: usize = 8;
pub(super) const BROW_GAP: usize = 9;
pub(super) const NOSE_LEN: usize = 10;
pub(super) const NOSE_W: usize = 11;
pub(super) const MOUTH_W: usize = 12;
pub(super) const LIP: usize = 13;
pub(super) const MOUTH_Y: usize = 14;
pub(super) const HAIR_VOL: usize = 15;
pub(super) const EAR: usize = 16;
pub(super) const N_SHAPE: usize = 17;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum HairStyle {
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

pub(super) const HAIR_STYLES: [HairStyle; 9] = [
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
pub(super) struct Identity {
    pub(super) shape: [f32; N_SHAPE],
    pub(super) skin: Rgb,
    pub(super) hair: Rgb,
    pub(super) eye: Rgb,
    pub(super) hair_style: HairStyle,
    /// Frame colour and whether the frames are round.
    pub(super) glasses: Option<(Rgb, bool)>,
    pub(super) beard: bool,
    pub(super) moustache: bool,
    /// Position as fractions of the face half-width and of the eye-to-mouth span.
    pub(super) mole: Option<(f32, f32)>,
}

impl Identity {
    pub(super) fn new(seed: u64, index: usize) -> Self {
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
pub(super) fn exaggerate(shape: &[f32; N_SHAPE], rng: &mut ChaCha8Rng) -> [f32; N_SHAPE] {
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
pub(super) struct Geo {
    pub(super) fw: f32,
    pub(super) fh: f32,
    pub(super) jaw: f32,
    pub(super) square: f32,
    pub(super) eye_r: f32,
    pub(super) eye_dx: f32,
    pub(super) eye_y: f32,
    pub(super) brow_w: f32,
    pub(super) brow_tilt: f32,
    pub(super) brow_y: f32,
    pub(super) nose_tip: f32,
    pub(super) nose_w: f32,
    pub(super) mouth_w: f32,
    pub(super) mouth_y: f32,
    pub(super) lip: f32,
    pub(super) hair_vol: f32,
    pub(super) ear: f32,
}

impl Geo {
    pub(super) fn new(d: &[f32; N_SHAPE]) -> Self {
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
    pub(super) fn head(&self, t: f32) -> (f32, f32) {
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
