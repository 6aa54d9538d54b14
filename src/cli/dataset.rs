//! `cari-mtl dataset preview`: a contact sheet of the synthetic faces.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

use crate::atomic_file::write_atomically;
use crate::data::synthetic::{SyntheticConfig, contact_sheet};

#[derive(Args, Debug)]
pub struct DatasetArgs {
    #[command(subcommand)]
    pub command: DatasetCommand,
}

#[derive(Subcommand, Debug)]
pub enum DatasetCommand {
    /// Write a contact sheet: one row per identity, its photos then its caricatures.
    Preview {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 8)]
        rows: usize,
        /// Cell size in pixels.
        #[arg(long, default_value_t = 64)]
        cell: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

pub fn run(args: DatasetArgs) -> Result<()> {
    match args.command {
        DatasetCommand::Preview {
            out,
            rows,
            cell,
            seed,
        } => {
            if !(8..=512).contains(&cell) {
                anyhow::bail!("--cell {cell}: must be in 8..=512 pixels");
            }
            if rows == 0 {
                anyhow::bail!("--rows must be at least 1");
            }
            let config = SyntheticConfig {
                seed,
                ..SyntheticConfig::default()
            };
            // The format from --out's extension, checked before any work is done.
            let format = image::ImageFormat::from_path(&out)
                .ok()
                .filter(|f| matches!(f, image::ImageFormat::Png | image::ImageFormat::Jpeg))
                .with_context(|| {
                    format!(
                        "--out {}: name a .png or .jpg file (the format follows the extension)",
                        out.display()
                    )
                })?;
            let sheet = contact_sheet(&config, rows, cell)?;
            // Atomically: a failed or interrupted write never leaves half a PNG at --out.
            write_atomically(&out, |tmp| sheet.save_with_format(tmp, format))?;
            println!(
                "wrote {} ({}×{} px, {} identities)",
                out.display(),
                sheet.width(),
                sheet.height(),
                rows
            );
            Ok(())
        }
    }
}
