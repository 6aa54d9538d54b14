//! The embedding projector's folder: `tensors.tsv`, `metadata.tsv`, `sprite.png` and the
//! `projector_config.pbtxt` naming them.
//!
//! TensorBoard 2.21 looks for `projector_config.pbtxt` in the log folder and in each run's
//! folder, and refuses paths that lead outside the config's folder, so all four files sit
//! side by side; one embedding per folder.

use std::fmt::Write as _;
use std::path::Path;

use super::error::{TensorBoardError, create_folder};
use crate::atomic_file::{write_atomically, write_bytes};

pub const TENSORS_FILE: &str = "tensors.tsv";
pub const METADATA_FILE: &str = "metadata.tsv";
pub const SPRITE_FILE: &str = "sprite.png";
pub const CONFIG_FILE: &str = "projector_config.pbtxt";

/// The projector refuses sprite images wider or taller than this (vz_projector's
/// `MAX_SPRITE_IMAGE_SIZE_PX`).
pub const MAX_SPRITE_PX: usize = 8192;

/// One embedding to show in the projector.
#[derive(Clone, Copy, Debug)]
pub struct ProjectorInput<'a> {
    /// The tensor's name in the projector's menu.
    pub name: &'a str,
    /// Numbers per point; at least 2 (the projector refuses 1-d vectors).
    pub dim: usize,
    /// N points × `dim`, row-major.
    pub values: &'a [f32],
    /// Column names, at least one.
    pub metadata_header: &'a [&'a str],
    /// One row per point, in the order of `values`, each with one value per column.
    pub metadata: &'a [Vec<String>],
    /// A picture per point, shown in place of the dot.
    pub thumbnails: Option<Thumbnails<'a>>,
}

/// N pictures of one size, one after another, each `height_px` rows of `width_px` RGB pixels
/// (u8, row-major, channels last).
#[derive(Clone, Copy, Debug)]
pub struct Thumbnails<'a> {
    pub width_px: usize,
    pub height_px: usize,
    pub rgb: &'a [u8],
}

/// The sprite sheet and the size of one picture in it.
#[derive(Clone, Debug)]
pub struct Sprite {
    pub image: image::RgbImage,
    pub thumb_width_px: usize,
    pub thumb_height_px: usize,
}

/// Write the projector's files for `input` into `dir` (created if missing).
///
/// The sprite is a square grid of `ceil(sqrt(N))` columns, pictures row-major from the top
/// left, the rest black. When that grid would exceed 8192 px on a side (the projector's limit)
/// every picture is shrunk by box averaging, keeping its aspect ratio, until it fits.
///
/// The config is written last so that it never names a file that is not there yet.
pub fn write_projector(dir: &Path, input: &ProjectorInput) -> Result<(), TensorBoardError> {
    create_folder(dir)?;
    let n = check_input(dir, input)?;
    write_text(
        &dir.join(TENSORS_FILE),
        &tensors_tsv(input.values, input.dim),
    )?;
    write_text(
        &dir.join(METADATA_FILE),
        &metadata_tsv(input.metadata_header, input.metadata),
    )?;
    let sprite_dims = match &input.thumbnails {
        Some(thumbs) => {
            let path = dir.join(SPRITE_FILE);
            let sprite = sprite(thumbs, n).map_err(|reason| invalid(&path, reason))?;
            write_png(&path, &sprite.image)?;
            Some((sprite.thumb_width_px, sprite.thumb_height_px))
        }
        None => None,
    };
    write_text(
        &dir.join(CONFIG_FILE),
        &config_pbtxt(input.name, sprite_dims),
    )
}

fn invalid(path: &Path, reason: String) -> TensorBoardError {
    TensorBoardError::Invalid {
        path: path.to_path_buf(),
        reason,
    }
}

fn write_text(path: &Path, text: &str) -> Result<(), TensorBoardError> {
    Ok(write_bytes(path, text.as_bytes())?)
}

fn write_png(path: &Path, image: &image::RgbImage) -> Result<(), TensorBoardError> {
    Ok(write_atomically(path, |tmp| {
        image.save_with_format(tmp, image::ImageFormat::Png)
    })?)
}

/// The number of points, after checking that every part agrees on it; errors name the file
/// the bad part was meant for.
fn check_input(dir: &Path, input: &ProjectorInput) -> Result<usize, TensorBoardError> {
    let n =
        check_tensors(input.values, input.dim).map_err(|r| invalid(&dir.join(TENSORS_FILE), r))?;
    check_metadata(input.metadata_header, input.metadata, n)
        .map_err(|r| invalid(&dir.join(METADATA_FILE), r))?;
    if let Some(thumbs) = &input.thumbnails {
        check_thumbnails(thumbs, n).map_err(|r| invalid(&dir.join(SPRITE_FILE), r))?;
    }
    Ok(n)
}

fn check_tensors(values: &[f32], dim: usize) -> Result<usize, String> {
    if dim < 2 {
        return Err(format!(
            "dim is {dim}; the projector needs at least 2 numbers per point"
        ));
    }
    if values.is_empty() || !values.len().is_multiple_of(dim) {
        return Err(format!(
            "{} values do not make whole points of {dim} (need a positive multiple)",
            values.len()
        ));
    }
    // JavaScript's Number() reads Rust's "inf" as NaN, and NaN breaks PCA and t-SNE alike.
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(format!(
            "point {} has a non-finite value {}",
            i / dim,
            values[i]
        ));
    }
    Ok(values.len() / dim)
}

fn check_metadata(header: &[&str], rows: &[Vec<String>], n: usize) -> Result<(), String> {
    if header.is_empty() {
        return Err("no metadata columns".into());
    }
    if rows.len() != n {
        return Err(format!("{} metadata rows for {n} points", rows.len()));
    }
    match rows.iter().position(|r| r.len() != header.len()) {
        Some(i) => Err(format!(
            "metadata row {i} has {} values for {} columns",
            rows[i].len(),
            header.len()
        )),
        None => Ok(()),
    }
}

fn check_thumbnails(thumbs: &Thumbnails, n: usize) -> Result<(), String> {
    let (w, h) = (thumbs.width_px, thumbs.height_px);
    if w == 0 || h == 0 {
        return Err(format!("thumbnails of {w}×{h} px"));
    }
    let len = thumbs.rgb.len();
    let expected = w
        .checked_mul(h)
        .and_then(|px| px.checked_mul(3))
        .and_then(|bytes| bytes.checked_mul(n));
    match expected {
        Some(e) if e == len => Ok(()),
        Some(e) => Err(format!(
            "{len} thumbnail bytes for {n} points of {w}×{h} RGB ({e} expected)"
        )),
        None => Err(format!("{n} thumbnails of {w}×{h} px overflow memory")),
    }
}

/// One row per point, values separated by tabs, no header.
fn tensors_tsv(values: &[f32], dim: usize) -> String {
    let mut out = String::new();
    for point in values.chunks(dim) {
        for (i, v) in point.iter().enumerate() {
            let sep = if i == 0 { "" } else { "\t" };
            // Display prints the shortest decimal that reads back as the same f32.
            let _ = write!(out, "{sep}{v}");
        }
        out.push('\n');
    }
    out
}

/// The projector decides whether a header is there by whether the first line holds a tab: with
/// one column a header would be read as the first point's label, with several it is required.
fn metadata_tsv(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    if header.len() > 1 {
        push_tsv_line(&mut out, header.iter().copied());
    }
    for row in rows {
        push_tsv_line(&mut out, row.iter().map(String::as_str));
    }
    out
}

/// The projector skips lines that are blank after trimming, which would shift every later
/// point's metadata by one; such a row gets a visible placeholder instead.
const BLANK_ROW: &str = "(blank)";

fn push_tsv_line<'a>(out: &mut String, values: impl Iterator<Item = &'a str>) {
    let mut cells: Vec<String> = values.map(tsv_cell).collect();
    if cells.iter().all(|c| c.trim().is_empty())
        && let Some(first) = cells.first_mut()
    {
        *first = BLANK_ROW.into();
    }
    out.push_str(&cells.join("\t"));
    out.push('\n');
}

/// A tab or line break inside a value would split it into columns or rows.
fn tsv_cell(value: &str) -> String {
    value.replace(['\t', '\n', '\r'], " ")
}

/// The sprite sheet for `n` thumbnails, shrunk if need be to fit the projector's limit.
pub fn sprite(thumbs: &Thumbnails, n: usize) -> Result<Sprite, String> {
    check_thumbnails(thumbs, n)?;
    let cols = grid_columns(n);
    let (w, h) = fitted_thumb_size(thumbs.width_px, thumbs.height_px, cols).ok_or_else(|| {
        format!("{n} points need a {cols}-column grid, wider than {MAX_SPRITE_PX} px at 1 px each")
    })?;
    let side_w = cols * w;
    let side_h = cols * h;
    let mut pixels = vec![0u8; side_w * side_h * 3];
    let source_len = thumbs.width_px * thumbs.height_px * 3;
    for (i, source) in thumbs.rgb.chunks(source_len).enumerate() {
        let thumb = box_downscale(source, thumbs.width_px, thumbs.height_px, w, h);
        let (x0, y0) = ((i % cols) * w, (i / cols) * h);
        for row in 0..h {
            let at = ((y0 + row) * side_w + x0) * 3;
            pixels[at..at + w * 3].copy_from_slice(&thumb[row * w * 3..(row + 1) * w * 3]);
        }
    }
    let image = image::RgbImage::from_raw(side_w as u32, side_h as u32, pixels)
        .ok_or_else(|| "sprite buffer of the wrong size".to_string())?;
    Ok(Sprite {
        image,
        thumb_width_px: w,
        thumb_height_px: h,
    })
}

/// ceil(sqrt(n)), exactly (a float square root alone can be off by one for large n).
fn grid_columns(n: usize) -> usize {
    let mut cols = (n as f64).sqrt().ceil() as usize;
    while cols * cols < n {
        cols += 1;
    }
    while cols > 1 && (cols - 1) * (cols - 1) >= n {
        cols -= 1;
    }
    cols
}

/// The thumbnail size that keeps `cols` of them within [`MAX_SPRITE_PX`]: unchanged when they
/// fit, else the longer side shrunk to fit and the other in proportion (at least 1 px).
fn fitted_thumb_size(w: usize, h: usize, cols: usize) -> Option<(usize, usize)> {
    let max_side = MAX_SPRITE_PX / cols;
    let longest = w.max(h);
    if max_side == 0 {
        return None;
    }
    if longest <= max_side {
        return Some((w, h));
    }
    let scale = |side: usize| (side * max_side / longest).max(1);
    Some((scale(w), scale(h)))
}

/// Shrink an RGB picture by averaging each target pixel's block of source pixels (blocks
/// tile the source exactly, so every source pixel counts once). Same size: a plain copy.
fn box_downscale(src: &[u8], w: usize, h: usize, to_w: usize, to_h: usize) -> Vec<u8> {
    if (w, h) == (to_w, to_h) {
        return src.to_vec();
    }
    let mut out = Vec::with_capacity(to_w * to_h * 3);
    for ty in 0..to_h {
        let (y0, y1) = block(ty, h, to_h);
        for tx in 0..to_w {
            let (x0, x1) = block(tx, w, to_w);
            let mut sum = [0u64; 3];
            for y in y0..y1 {
                for x in x0..x1 {
                    for (c, s) in sum.iter_mut().enumerate() {
                        *s += u64::from(src[(y * w + x) * 3 + c]);
                    }
                }
            }
            let count = ((y1 - y0) * (x1 - x0)) as u64;
            out.extend(sum.iter().map(|s| ((s + count / 2) / count) as u8));
        }
    }
    out
}

/// The source range `[start, end)` that target index `t` of `to` covers in `from` (`to ≤ from`).
fn block(t: usize, from: usize, to: usize) -> (usize, usize) {
    let start = t * from / to;
    let end = ((t + 1) * from / to).max(start + 1);
    (start, end)
}

/// The config in protobuf text format (tensorboard/plugins/projector/projector_config.proto).
fn config_pbtxt(name: &str, sprite_dims: Option<(usize, usize)>) -> String {
    let mut out = String::from("embeddings {\n");
    let _ = writeln!(out, "  tensor_name: {}", pbtxt_string(name));
    let _ = writeln!(out, "  tensor_path: {}", pbtxt_string(TENSORS_FILE));
    let _ = writeln!(out, "  metadata_path: {}", pbtxt_string(METADATA_FILE));
    if let Some((w, h)) = sprite_dims {
        out.push_str("  sprite {\n");
        let _ = writeln!(out, "    image_path: {}", pbtxt_string(SPRITE_FILE));
        let _ = writeln!(out, "    single_image_dim: {w}");
        let _ = writeln!(out, "    single_image_dim: {h}");
        out.push_str("  }\n");
    }
    out.push_str("}\n");
    out
}

/// A quoted text-format string: quotes, backslashes and control characters escaped (C-style,
/// as protobuf's text format reads them); other UTF-8 passes through.
fn pbtxt_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() && c.is_ascii() => {
                let _ = write!(out, "\\{:03o}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(values: &[&[&str]]) -> Vec<Vec<String>> {
        values
            .iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect()
    }

    fn input<'a>(
        values: &'a [f32],
        header: &'a [&'a str],
        metadata: &'a [Vec<String>],
    ) -> ProjectorInput<'a> {
        ProjectorInput {
            name: "faces",
            dim: 2,
            values,
            metadata_header: header,
            metadata,
            thumbnails: None,
        }
    }

    /// Pictures of `n` solid colours: picture i is (10·i, 20·i, 30·i).
    fn solid(n: usize, w: usize, h: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|i| {
                let rgb = [10 * i as u8, 20 * i as u8, 30 * i as u8];
                std::iter::repeat_n(rgb, w * h).flatten()
            })
            .collect()
    }

    #[test]
    fn one_metadata_column_has_no_header_and_two_have_one() {
        // vz_projector's parseMetadata: `hasHeader = line.indexOf('\t') >= 0` on the first
        // non-blank line; the plugin's metadata handler counts a header the same way.
        let one = rows(&[&["alice"], &["bob\tby"], &["carol\nc"]]);
        assert_eq!(
            metadata_tsv(&["identity"], &one),
            "alice\nbob by\ncarol c\n"
        );
        let two = rows(&[&["alice", "photo"], &["bob", "caricature"]]);
        assert_eq!(
            metadata_tsv(&["identity", "modality"], &two),
            "identity\tmodality\nalice\tphoto\nbob\tcaricature\n"
        );
        // A blank line would be skipped by the reader and shift every later row.
        let blank = rows(&[&[" ", ""], &["bob", ""]]);
        assert_eq!(
            metadata_tsv(&["a", "b"], &blank),
            "a\tb\n(blank)\t\nbob\t\n"
        );
    }

    #[test]
    fn the_folder_holds_four_files_named_by_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let values = [1.0, -2.5, 0.125, 3.0, 1e-7, 4.0];
        let meta = rows(&[&["a", "photo"], &["b", "caricature"], &["c", "photo"]]);
        let pixels = solid(3, 2, 2);
        let mut input = input(&values, &["identity", "modality"], &meta);
        input.name = "run \"A\"";
        input.thumbnails = Some(Thumbnails {
            width_px: 2,
            height_px: 2,
            rgb: &pixels,
        });
        write_projector(dir.path(), &input).unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert_eq!(read(TENSORS_FILE), "1\t-2.5\n0.125\t3\n0.0000001\t4\n");
        assert_eq!(read(METADATA_FILE).lines().count(), 4);
        assert_eq!(
            read(CONFIG_FILE),
            "embeddings {\n  tensor_name: \"run \\\"A\\\"\"\n  tensor_path: \"tensors.tsv\"\n  \
             metadata_path: \"metadata.tsv\"\n  sprite {\n    image_path: \"sprite.png\"\n    \
             single_image_dim: 2\n    single_image_dim: 2\n  }\n}\n"
        );
        let png = image::open(dir.path().join(SPRITE_FILE)).unwrap().to_rgb8();
        assert_eq!(png.dimensions(), (4, 4));
    }

    #[test]
    fn bad_input_is_named_with_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let meta = rows(&[&["a"], &["b"]]);
        let err =
            |input: &ProjectorInput| write_projector(dir.path(), input).unwrap_err().to_string();

        let mut one_dim = input(&[1.0, 2.0], &["id"], &meta);
        one_dim.dim = 1;
        assert!(
            err(&one_dim).contains("tensors.tsv: dim is 1"),
            "{}",
            err(&one_dim)
        );
        let ragged = input(&[1.0, 2.0, 3.0], &["id"], &meta);
        assert!(err(&ragged).contains("3 values"), "{}", err(&ragged));
        let infinite = input(&[1.0, 2.0, f32::INFINITY, 0.0], &["id"], &meta);
        assert!(err(&infinite).contains("point 1"), "{}", err(&infinite));
        let short = input(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &["id"], &meta);
        assert!(
            err(&short).contains("metadata.tsv: 2 metadata rows for 3 points"),
            "{}",
            err(&short)
        );
        let wide = input(&[1.0, 2.0, 3.0, 4.0], &["id", "modality"], &meta);
        assert!(
            err(&wide).contains("row 0 has 1 values for 2 columns"),
            "{}",
            err(&wide)
        );
        let mut thumbs = input(&[1.0, 2.0, 3.0, 4.0], &["id"], &meta);
        thumbs.thumbnails = Some(Thumbnails {
            width_px: 2,
            height_px: 2,
            rgb: &[0; 12],
        });
        assert!(
            err(&thumbs).contains("sprite.png: 12 thumbnail bytes"),
            "{}",
            err(&thumbs)
        );
        assert!(
            !dir.path().join(CONFIG_FILE).exists(),
            "nothing written for bad input"
        );
    }

    #[test]
    fn sprites_are_row_major_square_grids() {
        // The projector's sprite convention (TensorBoard's projector docs, "Images"): a square
        // grid of ceil(sqrt(N)) columns filled row by row from the top left, padded.
        let pixels = solid(3, 2, 2);
        let thumbs = Thumbnails {
            width_px: 2,
            height_px: 2,
            rgb: &pixels,
        };
        let sheet = sprite(&thumbs, 3).unwrap();
        assert_eq!(sheet.image.dimensions(), (4, 4));
        let at = |x, y| sheet.image.get_pixel(x, y).0;
        assert_eq!(at(1, 1), [0, 0, 0]);
        assert_eq!(at(3, 0), [10, 20, 30], "point 1 top right");
        assert_eq!(at(0, 3), [20, 40, 60], "point 2 bottom left");
        assert_eq!(at(3, 3), [0, 0, 0], "padding");
        assert_eq!(
            [grid_columns(1), grid_columns(4), grid_columns(5)],
            [1, 2, 3]
        );
        assert_eq!(grid_columns(10_001), 101);
    }

    #[test]
    fn thumbnails_shrink_to_keep_the_sprite_within_8192_px() {
        // 5 points → 3 columns; 3 × 3000 px > 8192, so each side scales by (8192 / 3) / 3000.
        let (w, h) = (3000, 10);
        let pixels = solid(5, w, h);
        let thumbs = Thumbnails {
            width_px: w,
            height_px: h,
            rgb: &pixels,
        };
        let sheet = sprite(&thumbs, 5).unwrap();
        assert_eq!((sheet.thumb_width_px, sheet.thumb_height_px), (2730, 9));
        assert_eq!(sheet.image.dimensions(), (3 * 2730, 3 * 9));
        assert_eq!(
            sheet.image.get_pixel(2730 + 5, 9 + 4).0,
            [40, 80, 120],
            "point 4"
        );
        // Box averaging: a 4×2 picture → 2×1 averages each 2×2 block.
        let src = [
            0, 0, 0, 10, 10, 10, 100, 0, 0, 0, 0, 0, 20, 20, 20, 30, 30, 30, 0, 0, 0, 200, 0, 0,
        ];
        assert_eq!(box_downscale(&src, 4, 2, 2, 1), [15, 15, 15, 75, 0, 0]);
    }
}
