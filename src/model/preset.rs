//! The network sizes: a tiny CNN for CPUs and the authors' Inception-ResNet cut.

use serde::{Deserialize, Serialize};

/// Network sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Preset {
    /// Small CNN at 32×32, sized so the live demo moves on a 2-core CPU.
    Tiny,
    /// The authors' cut-down Inception-ResNet-v1 at 160×160 (shared stem, block35,
    /// reduction A, block17, reduction B; two block8 per branch; batch norm); meant for CUDA.
    Paper,
}

impl Preset {
    pub const ALL: [Preset; 2] = [Preset::Tiny, Preset::Paper];

    pub fn key(self) -> &'static str {
        match self {
            Preset::Tiny => "tiny",
            Preset::Paper => "paper",
        }
    }

    pub fn parse(text: &str) -> std::result::Result<Preset, String> {
        Preset::ALL
            .into_iter()
            .find(|p| p.key() == text)
            .ok_or_else(|| format!("unknown preset '{text}'; expected tiny or paper"))
    }

    /// Input side length in pixels.
    pub fn image_size(self) -> usize {
        match self {
            Preset::Tiny => 32,
            Preset::Paper => 160,
        }
    }

    /// Hidden width of each branch before the embedding (`tiny`'s MLP branches; the paper
    /// branches have none).
    pub fn branch_hidden(self) -> usize {
        match self {
            Preset::Tiny => 128,
            Preset::Paper => 0,
        }
    }

    /// Embedding size of each branch: `tiny`'s bottleneck, or the paper branches' pooled
    /// block8 output (the authors' code has no bottleneck layer: 1792-d).
    pub fn embedding_dim(self) -> usize {
        match self {
            Preset::Tiny => 64,
            Preset::Paper => 1792,
        }
    }
}
