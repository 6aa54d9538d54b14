//! `cari-mtl embed`: a checkpoint's embeddings and their t-SNE coordinates as CSV, so the
//! projector's figures can be redrawn elsewhere.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;

use crate::atomic_file::write_bytes;
use crate::eval::{EmbeddingRequest, EmbeddingSource};
use crate::model::Preset;
use crate::train::checkpoint::{self, CheckpointRun};
use crate::train::config::TrainConfig;
use crate::train::trainer::{Trainer, select_device};
use crate::tsne::barnes_hut::{TsneConfig, tsne};

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
    /// The run's seed (default: the checkpoint's; another value is refused).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The run's preset (default: the checkpoint's).
    #[arg(long)]
    pub preset: Option<String>,
    /// The run's dataset (default: the checkpoint's).
    #[arg(long)]
    pub dataset: Option<String>,
    /// Synthetic data: training identities (default: the checkpoint's).
    #[arg(long)]
    pub identities: Option<usize>,
    /// Synthetic data: held-out identities (default: the checkpoint's).
    #[arg(long)]
    pub open_identities: Option<usize>,
    /// Synthetic data: photos and caricatures per identity (default: the checkpoint's).
    #[arg(long)]
    pub images_per_modality: Option<usize>,
    /// Synthetic data: held-out images per identity and modality (default: the checkpoint's).
    #[arg(long)]
    pub test_images: Option<usize>,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

impl EmbedArgs {
    /// The run that wrote the checkpoint: its recorded facts, with any flag given checked
    /// against them; for a checkpoint without facts (older versions), the flags and defaults.
    fn run_config(&self, recorded: Option<&CheckpointRun>) -> Result<TrainConfig> {
        let mut config = match recorded {
            Some(run) => {
                let mut config = TrainConfig {
                    seed: run.seed,
                    preset: run.preset,
                    data: run.data.clone(),
                    ..TrainConfig::default()
                };
                config.data.synthetic.seed = run.seed;
                config.data.synthetic.image_size = run.preset.image_size();
                config
            }
            None => TrainConfig::default(),
        };
        if let Some(seed) = self.seed {
            config.seed = seed;
            config.data.synthetic.seed = seed;
        }
        if let Some(preset) = &self.preset {
            config.preset = Preset::parse(preset)
                .map_err(anyhow::Error::msg)
                .context("--preset")?;
            config.data.synthetic.image_size = config.preset.image_size();
        }
        if let Some(dataset) = &self.dataset {
            config.data.dataset = dataset.clone();
        }
        let synthetic = &mut config.data.synthetic;
        for (flag, value) in [
            (&mut synthetic.train_identities, self.identities),
            (&mut synthetic.open_identities, self.open_identities),
            (&mut synthetic.photos_per_identity, self.images_per_modality),
            (
                &mut synthetic.caricatures_per_identity,
                self.images_per_modality,
            ),
            (&mut synthetic.test_per_modality, self.test_images),
        ] {
            if let Some(v) = value {
                *flag = v;
            }
        }
        if let Some(run) = recorded {
            let conflicts = run.conflicts_with(&config);
            if !conflicts.is_empty() {
                bail!(
                    "the flags contradict the run that wrote {} ({}); leave them out to use the checkpoint's",
                    self.checkpoint.display(),
                    conflicts.join("; ")
                );
            }
        } else {
            eprintln!(
                "warning: {} does not record which run wrote it (an older version): using the flags' dataset, which must be the run's",
                self.checkpoint.display()
            );
        }
        config.device = self.device.clone();
        config
            .data
            .synthetic
            .validate()
            .context("synthetic dataset settings")?;
        config.validate().context("settings")?;
        Ok(config)
    }
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
    let recorded = checkpoint::read_run(&args.checkpoint)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("--checkpoint {}", args.checkpoint.display()))?;
    let config = args.run_config(recorded.as_ref())?;
    let device = select_device(&config.device)
        .map_err(anyhow::Error::msg)
        .context("--device")?;
    let dataset = crate::cli::train::load_dataset(&config, false)?;
    let samples: Vec<usize> = match args.subset.as_str() {
        "held-out" => dataset.splits.open.clone(),
        "all" => (0..dataset.images.len()).collect(),
        other => bail!("--subset '{other}': expected held-out or all"),
    };
    let seed = config.seed;
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
        seed,
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
    let mut embedding_csv = String::from("id,identity,modality,source");
    for k in 0..embeddings.dim {
        embedding_csv.push_str(&format!(",e{k}"));
    }
    embedding_csv.push('\n');
    let mut tsne_csv = String::from("id,identity,modality,source,x,y\n");
    for (row, &i) in embeddings.samples.iter().enumerate() {
        let values = &embeddings.values[row * embeddings.dim..(row + 1) * embeddings.dim];
        let values: Vec<String> = values.iter().map(|v| format!("{v:.6}")).collect();
        embedding_csv.push_str(&format!("{},{}\n", describe(i), values.join(",")));
        tsne_csv.push_str(&format!(
            "{},{:.5},{:.5}\n",
            describe(i),
            xy[2 * row],
            xy[2 * row + 1]
        ));
    }
    write_bytes(&args.out.join("embedding.csv"), embedding_csv.as_bytes())?;
    write_bytes(&args.out.join("tsne.csv"), tsne_csv.as_bytes())?;
    println!(
        "wrote {} points ({}-d {}) to {}",
        embeddings.samples.len(),
        embeddings.dim,
        source.label(),
        args.out.display()
    );
    Ok(())
}
