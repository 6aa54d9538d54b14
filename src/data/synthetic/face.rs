//! The face drawn back to front: hair behind, body, head, then brows, eyes, nose, mouth, a
//! mole and glasses.

use super::hair::draw_hair;
use super::identity::Geo;
use super::identity::HairStyle;
use super::identity::Identity;
use super::identity::Rgb;
use super::painter::Painter;
use super::painter::Role;
use super::painter::SIDES;
use super::painter::ellipse;
use super::painter::ellipses;
use super::painter::polygon;
use super::painter::quad;
use super::painter::quads;
use std::f32::consts::PI;
use std::f32::consts::TAU;
use tiny_skia::PathBuilder;
use tiny_skia::Rect;

/// Per-image variation that is not part of the identity.
pub(super) struct Scene {
    pub(super) smile: f32,
    pub(super) openness: f32,
    pub(super) gaze: f32,
    pub(super) body_scale: f32,
    pub(super) shirt: Rgb,
}

pub(super) fn draw_face(p: &mut Painter, id: &Identity, g: &Geo, sc: &Scene) {
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
pub(super) fn draw_back_hair(p: &mut Painter, id: &Identity, g: &Geo) -> bool {
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
pub(super) fn draw_body(p: &mut Painter, id: &Identity, g: &Geo, sc: &Scene, hair_behind: bool) {
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
pub(super) fn draw_head(p: &mut Painter, id: &Identity, g: &Geo) {
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
pub(super) fn draw_brows(p: &mut Painter, id: &Identity, g: &Geo) {
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
pub(super) fn draw_eyes(p: &mut Painter, id: &Identity, g: &Geo, sc: &Scene) {
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
pub(super) fn draw_nose(p: &mut Painter, id: &Identity, g: &Geo) {
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
pub(super) fn draw_mouth(p: &mut Painter, id: &Identity, g: &Geo, sc: &Scene) {
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

pub(super) fn draw_mole(p: &mut Painter, id: &Identity, g: &Geo) {
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

pub(super) fn draw_glasses(p: &mut Painter, id: &Identity, g: &Geo) {
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
