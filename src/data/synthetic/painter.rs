//! Drawing with tiny-skia: the artistic styles, what each filled shape depicts, the painter
//! that recolours it per style, and the path helpers.

use super::identity::Rgb;
use super::identity::hsv;
use super::identity::to_hsv;
use super::random::clampf;
use tiny_skia::Color;
use tiny_skia::FillRule;
use tiny_skia::LineCap;
use tiny_skia::LineJoin;
use tiny_skia::Paint;
use tiny_skia::Path;
use tiny_skia::PathBuilder;
use tiny_skia::Pixmap;
use tiny_skia::Rect;
use tiny_skia::Stroke;
use tiny_skia::Transform;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Style {
    Photo,
    LineArt,
    Flat,
    Sketch,
    HighContrast,
}

/// What a filled shape depicts, so each style can recolour it consistently.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Role {
    Skin,
    Hair,
    Sclera,
    Iris,
    Dark,
    Lips,
    Cloth,
}

pub(super) struct Painter {
    pub(super) pix: Pixmap,
    pub(super) ts: Transform,
    pub(super) style: Style,
    /// Outline width in face units; 0 for photos.
    pub(super) outline: f32,
    /// Multiplier for feature lines (brows, lids, nose) in drawn styles.
    pub(super) line_scale: f32,
    pub(super) hue: f32,
    pub(super) ink: Rgb,
}

pub(super) fn paint(c: Rgb) -> Paint<'static> {
    let q = |v: f32| (clampf(v, 0.0, 1.0) * 255.0 + 0.5) as u8;
    let mut p = Paint::default();
    p.set_color(Color::from_rgba8(q(c.0), q(c.1), q(c.2), 255));
    p.anti_alias = true;
    p
}

pub(super) fn stroke(width: f32) -> Stroke {
    Stroke {
        width,
        line_cap: LineCap::Round,
        line_join: LineJoin::Round,
        ..Stroke::default()
    }
}

impl Painter {
    pub(super) fn fill_colour(&self, c: Rgb, role: Role) -> Rgb {
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

    pub(super) fn fill(&mut self, path: Option<Path>, c: Rgb, role: Role) {
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
    pub(super) fn line(&mut self, path: Option<Path>, c: Rgb, width: f32) {
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
pub(super) const SIDES: [f32; 2] = [-1.0, 1.0];

/// Several ellipses `(cx, cy, rx, ry)` in one path: paired features cost one draw call.
pub(super) fn ellipses<const N: usize>(items: [(f32, f32, f32, f32); N]) -> Option<Path> {
    let mut pb = PathBuilder::new();
    for (cx, cy, rx, ry) in items {
        if let Some(r) = Rect::from_xywh(cx - rx, cy - ry, 2.0 * rx, 2.0 * ry) {
            pb.push_oval(r);
        }
    }
    pb.finish()
}

pub(super) type Pt = (f32, f32);

/// Several quadratic strokes `(start, control, end)` in one path.
pub(super) fn quads<const N: usize>(items: [(Pt, Pt, Pt); N]) -> Option<Path> {
    let mut pb = PathBuilder::new();
    for (a, c, b) in items {
        pb.move_to(a.0, a.1);
        pb.quad_to(c.0, c.1, b.0, b.1);
    }
    pb.finish()
}

pub(super) fn ellipse(cx: f32, cy: f32, rx: f32, ry: f32) -> Option<Path> {
    Rect::from_xywh(cx - rx, cy - ry, 2.0 * rx, 2.0 * ry).and_then(PathBuilder::from_oval)
}

pub(super) fn polygon(pts: impl IntoIterator<Item = (f32, f32)>) -> Option<Path> {
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

pub(super) fn quad(a: (f32, f32), c: (f32, f32), b: (f32, f32)) -> Option<Path> {
    let mut pb = PathBuilder::new();
    pb.move_to(a.0, a.1);
    pb.quad_to(c.0, c.1, b.0, b.1);
    pb.finish()
}
