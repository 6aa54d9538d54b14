//! The hair styles over the head.

use super::identity::Geo;
use super::identity::HairStyle;
use super::identity::Rgb;
use super::painter::Painter;
use super::painter::Role;
use super::painter::SIDES;
use super::painter::ellipses;
use super::painter::polygon;
use std::f32::consts::PI;
use tiny_skia::PathBuilder;

pub(super) fn draw_hair(p: &mut Painter, g: &Geo, style: HairStyle, hair: Rgb) {
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
