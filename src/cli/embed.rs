//! `cari-mtl embed`: a checkpoint's embeddings and their t-SNE coordinates as CSV, so the
//! projector's figures can be redrawn elsewhere.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

use crate::embed::tsne::{TsneConfig, tsne};
use crate::eval::{EmbeddingRequest, EmbeddingSource};
use crate::train::trainer::{Trainer, select_device};

#[derive(Args, Debug)]
pub struct EmbedArgs {
    /// A checkpoint written by `cari-mtl train` or the window (same preset and dataset).
    #[arg(long)]
    pub checkpoint: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    /// verif, visual, cari or trunk.
    #[arg(long, default_value = "verif")]
    pub source: String,
    /// held-out (images of identities never trained on) or all.
    #[arg(long, default_value = "held-out")]
    pub subset: String,
    #[arg(long, default_value_t = 30.0)]
    pub perplexity: f32,
    #[arg(long, default_value_t = 750)]
    pub iterations: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub run: crate::cli::train::RunArgs,
}

pub fn run(args: EmbedArgs) -> Result<()> {
    let source = match args.source.as_str() {
        "verif" => EmbeddingSource::Verif,
        "visual" => EmbeddingSource::Visual,
        "cari" => EmbeddingSource::Cari,
        "trunk" => EmbeddingSource::Trunk,
        other => bail!("--source '{other}': expected verif, visual, cari or trunk"),
    };
    if !args.checkpoint.is_file() {
        bail!("--checkpoint {}: no such file", args.checkpoint.display());
    }
    let config = args.run.config("equal", args.seed, 0)?;
    let device = select_device(&config.device)
        .map_err(anyhow::Error::msg)
        .context("--device")?;
    let dataset = crate::cli::train::load_dataset(&config, false)?;
    let samples: Vec<usize> = match args.subset.as_str() {
        "held-out" => dataset.splits.open.clone(),
        "all" => (0..dataset.images.len()).collect(),
        other => bail!("--subset '{other}': expected held-out or all"),
    };
    let mut trainer = Trainer::new(config, dataset.clone(), &device)?;
    trainer.load_checkpoint(&args.checkpoint)?;
    let embeddings = trainer.embed(&EmbeddingRequest {
        source,
        samples,
        at_step: None,
    })?;
    let tsne_config = TsneConfig {
        perplexity: args.perplexity,
        iterations: args.iterations,
        seed: args.seed,
        ..TsneConfig::default()
    };
    let xy = tsne(&embeddings.values, embeddings.dim, &tsne_config).context("t-SNE")?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let describe = |i: usize| {
        let s = &dataset.images.samples[i];
        format!(
            "{},\"{}\",{},\"{}\"",
            i,
            dataset.images.identities[s.identity].replace('"', "'"),
            s.modality.as_str(),
            s.source.replace('"', "'")
        )
    };
    let path = args.out.join("embedding.csv");
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?,
    );
    let header: Vec<String> = (0..embeddings.dim).map(|k| format!("e{k}")).collect();
    writeln!(f, "id,identity,modality,source,{}", header.join(","))?;
    for (row, &i) in embeddings.samples.iter().enumerate() {
        let values: Vec<String> = embeddings.values
            [row * embeddings.dim..(row + 1) * embeddings.dim]
            .iter()
            .map(|v| format!("{v:.6}"))
            .collect();
        writeln!(f, "{},{}", describe(i), values.join(","))?;
    }
    f.flush()?;
    let path = args.out.join("tsne.csv");
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?,
    );
    writeln!(f, "id,identity,modality,source,x,y")?;
    for (row, &i) in embeddings.samples.iter().enumerate() {
        writeln!(
            f,
            "{},{:.5},{:.5}",
            describe(i),
            xy[2 * row],
            xy[2 * row + 1]
        )?;
    }
    f.flush()?;
    println!(
        "wrote {} points ({}-d {}) to {}",
        embeddings.samples.len(),
        embeddings.dim,
        source.label(),
        args.out.display()
    );
    Ok(())
}
