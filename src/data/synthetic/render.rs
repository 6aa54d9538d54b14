//! One image: its random scene, the drawing at twice the size, the caricature warp, and the
//! box downsample to the stored size.

use super::config::SyntheticError;
use super::face::Scene;
use super::face::draw_face;
use super::identity::Geo;
use super::identity::Identity;
use super::identity::Rgb;
use super::identity::exaggerate;
use super::identity::hsv;
use super::painter::Painter;
use super::painter::Style;
use super::random::TAG_IMAGE;
use super::random::clampf;
use super::random::rng_for;
use super::random::uniform;
use crate::data::Modality;
use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;
use std::f32::consts::TAU;
use tiny_skia::Color;
use tiny_skia::Pixmap;
use tiny_skia::Transform;

/// Renders one image into `out` (`size × size × 3` HWC bytes). Every random choice comes from
/// one generator seeded by the image's identity, modality and number, drawn in a fixed order.
pub(super) fn render_image(
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
pub(super) fn pick_style(photo: bool, rng: &mut ChaCha8Rng) -> Style {
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
pub(super) fn pose(photo: bool, big: usize, rng: &mut ChaCha8Rng) -> Transform {
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
    pub(super) fn draw(photo: bool, rng: &mut ChaCha8Rng) -> Scene {
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
pub(super) fn quantise(v: f32) -> u8 {
    (clampf(v, 0.0, 1.0) * 255.0 + 0.5) as u8
}

/// The background of the style, then the face with the style's outline and ink.
pub(super) fn paint_face(
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
pub(super) fn post_process(
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
pub(super) fn add_noise_and_quantise(
    out: &mut [u8],
    small: &[f32],
    photo: bool,
    rng: &mut ChaCha8Rng,
) {
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
pub(super) fn light(buf: &mut [f32], n: usize, rng: &mut ChaCha8Rng, strength: f32) {
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
pub(super) fn hatch(buf: &mut [f32], n: usize, phase: usize) {
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

pub(super) fn threshold(buf: &mut [f32], t: f32) {
    for px in buf.chunks_exact_mut(3) {
        let l = 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2];
        let v = if l > t { 1.0 } else { 0.0 };
        px.fill(v);
    }
}

/// Smooth non-rigid warp: two sinusoidal displacement components per axis, one along
/// a single axis and one oblique, resampled bilinearly. The oblique term is expanded with
/// the angle-sum identity so only O(n) sines are evaluated per image.
pub(super) fn warp(src: &[f32], n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
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
pub(super) fn downsample(src: &[f32], n: usize) -> Vec<f32> {
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
