//! The shared trunk. `tiny`: three 3×3 conv/ReLU/max-pool stages. `paper`: the shared part of
//! the authors' cut-down Inception-ResNet-v1 at 160×160 (models/inception_resnet_v1_cari_vis.py,
//! `inception_resnet_v1` up to `Mixed_7a`): stem → 1× block35 → reduction A → 1× block17 →
//! reduction B, batch norm on every convolution but the residual projections, ending in a
//! `[batch, 1792, 3, 3]` Z (non-negative: every part of reduction B comes out of a ReLU).

use candle_core::{Result, Tensor};

use super::layers::{Builder, Conv2d, ConvBn, Mode};
use super::preset::Preset;
use crate::kernels::Kernels;

pub enum Trunk {
    Tiny(Vec<Conv2d>),
    Paper(Box<PaperTrunk>),
}

/// Channels of the paper trunk's output (reduction B: 384 + 256 + 256 + 896).
pub const PAPER_Z_CHANNELS: usize = 1792;
/// Side of the paper trunk's output at 160×160 (160 → 79 → 77 → 38 → 36 → 17 → 8 → 3).
pub const PAPER_Z_SIDE: usize = 3;

impl Trunk {
    pub fn new(preset: Preset, b: &mut Builder) -> Result<Trunk> {
        Ok(match preset {
            Preset::Tiny => Trunk::Tiny(vec![
                b.conv("trunk.conv1", 3, 16, (3, 3), 1, (1, 1))?,
                b.conv("trunk.conv2", 16, 32, (3, 3), 1, (1, 1))?,
                b.conv("trunk.conv3", 32, 64, (3, 3), 1, (1, 1))?,
            ]),
            Preset::Paper => Trunk::Paper(Box::new(PaperTrunk::new(b)?)),
        })
    }

    /// Length of the flattened trunk output Z (what Ψ reads).
    pub fn z_dim(&self) -> usize {
        match self {
            // 32 → 16 → 8 → 4 after three pools: 64·4·4.
            Trunk::Tiny(_) => 64 * 4 * 4,
            Trunk::Paper(_) => PAPER_Z_CHANNELS * PAPER_Z_SIDE * PAPER_Z_SIDE,
        }
    }

    /// Z: `[batch, z_dim]` for `tiny`, `[batch, 1792, 3, 3]` for `paper` (its branches are
    /// convolutional; Ψ flattens it).
    pub fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        self.forward_last(&self.forward_head(x, mode)?, mode)
    }

    /// Every stage but the last: what the last stage reads.
    pub fn forward_head(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        match self {
            Trunk::Tiny(convs) => {
                let mut x = x.clone();
                for conv in &convs[..convs.len() - 1] {
                    x = conv.forward_relu_pool(&x, 2)?;
                }
                Ok(x)
            }
            Trunk::Paper(trunk) => trunk.forward_head(x, mode),
        }
    }

    /// The last stage (the gradient lens's `last` space: `tiny`'s third convolution,
    /// `paper`'s reduction B), from what [`Trunk::forward_head`] gave.
    pub fn forward_last(&self, head: &Tensor, mode: Mode) -> Result<Tensor> {
        match self {
            Trunk::Tiny(convs) => match convs.last() {
                Some(conv) => conv.forward_relu_pool(head, 2)?.flatten_from(1),
                None => head.flatten_from(1),
            },
            Trunk::Paper(trunk) => reduce(head, &trunk.reduction_b, mode, trunk.kernels),
        }
    }

    /// Whether the last stage can be run a second time on the same input without changing
    /// anything (it keeps no running statistics): `tiny`'s convolution can, `paper`'s
    /// batch-normed reduction B cannot.
    pub fn last_stage_runs_again(&self) -> bool {
        matches!(self, Trunk::Tiny(_))
    }

    /// The name prefix of the last stage's parameters.
    pub fn last_stage_prefix(&self) -> &'static str {
        match self {
            Trunk::Tiny(_) => "trunk.conv3.",
            Trunk::Paper(_) => "trunk.red_b.",
        }
    }
}

/// A residual Inception block: towers of convolutions (each conv + batch norm + ReLU),
/// concatenated, projected back by a 1×1 convolution with a bias and no batch norm, scaled and
/// added to the input, then a ReLU unless it is the last block of a branch.
pub struct ResidualBlock {
    towers: Vec<Vec<ConvBn>>,
    project: Conv2d,
    scale: f64,
    relu: bool,
}

/// One tower's spec: (name, inputs, outputs, kernel, padding); all stride 1.
type TowerSpec<'a> = &'a [(&'a str, usize, usize, (usize, usize), (usize, usize))];

impl ResidualBlock {
    fn new(
        b: &mut Builder,
        prefix: &str,
        towers: &[TowerSpec],
        channels: usize,
        scale: f64,
        relu: bool,
    ) -> Result<ResidualBlock> {
        let mut built = Vec::with_capacity(towers.len());
        for tower in towers {
            let mut convs = Vec::with_capacity(tower.len());
            for &(name, inputs, outputs, kernel, padding) in tower.iter() {
                let name = format!("{prefix}.{name}");
                convs.push(b.conv_bn(&name, inputs, outputs, kernel, 1, padding)?);
            }
            built.push(convs);
        }
        // The projection reads the towers' outputs side by side.
        let mixed: usize = towers.iter().filter_map(|t| t.last()).map(|c| c.2).sum();
        Ok(ResidualBlock {
            towers: built,
            project: b.conv(&format!("{prefix}.up"), mixed, channels, (1, 1), 1, (0, 0))?,
            scale,
            relu,
        })
    }

    /// Inception-ResNet-A (block35) on 256 channels.
    fn block35(b: &mut Builder, prefix: &str) -> Result<ResidualBlock> {
        let one = ((1, 1), (0, 0));
        let three = ((3, 3), (1, 1));
        let towers: [TowerSpec; 3] = [
            &[("b0", 256, 32, one.0, one.1)],
            &[
                ("b1a", 256, 32, one.0, one.1),
                ("b1b", 32, 32, three.0, three.1),
            ],
            &[
                ("b2a", 256, 32, one.0, one.1),
                ("b2b", 32, 32, three.0, three.1),
                ("b2c", 32, 32, three.0, three.1),
            ],
        ];
        ResidualBlock::new(b, prefix, &towers, 256, 0.17, true)
    }

    /// Inception-ResNet-B (block17) on 896 channels.
    fn block17(b: &mut Builder, prefix: &str) -> Result<ResidualBlock> {
        let towers: [TowerSpec; 2] = [
            &[("b0", 896, 128, (1, 1), (0, 0))],
            &[
                ("b1a", 896, 128, (1, 1), (0, 0)),
                ("b1b", 128, 128, (1, 7), (0, 3)),
                ("b1c", 128, 128, (7, 1), (3, 0)),
            ],
        ];
        ResidualBlock::new(b, prefix, &towers, 896, 0.1, true)
    }

    /// Inception-ResNet-C (block8) on 1792 channels; the code's last block8 has scale 1 and
    /// no activation (`block8(net, activation_fn=None)`).
    pub fn block8(b: &mut Builder, prefix: &str, scale: f64, relu: bool) -> Result<ResidualBlock> {
        let towers: [TowerSpec; 2] = [
            &[("b0", 1792, 192, (1, 1), (0, 0))],
            &[
                ("b1a", 1792, 192, (1, 1), (0, 0)),
                ("b1b", 192, 192, (1, 3), (0, 1)),
                ("b1c", 192, 192, (3, 1), (1, 0)),
            ],
        ];
        ResidualBlock::new(b, prefix, &towers, 1792, scale, relu)
    }

    pub fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let mut outs = Vec::with_capacity(self.towers.len());
        for tower in &self.towers {
            outs.push(chain(x, tower, mode)?);
        }
        let mixed = Tensor::cat(&outs, 1)?;
        let y = (x + (self.project.forward(&mixed)? * self.scale)?)?;
        if self.relu { y.relu() } else { Ok(y) }
    }
}

fn chain(x: &Tensor, convs: &[ConvBn], mode: Mode) -> Result<Tensor> {
    let mut y = x.clone();
    for conv in convs {
        y = conv.forward_relu(&y, mode)?;
    }
    Ok(y)
}

/// Inception-ResNet's 3×3/2 max-pool with VALID padding (windows overlap).
fn pool_3x3_2(x: &Tensor, kernels: Kernels) -> Result<Tensor> {
    kernels.max_pool2d_strided(x, 3, 2)
}

pub struct PaperTrunk {
    /// What the pools run on (the convolutions carry their own, the same).
    kernels: Kernels,
    stem: Vec<ConvBn>,
    stem_after_pool: Vec<ConvBn>,
    block35: ResidualBlock,
    /// Mixed_6a: a 3×3/2 conv; 1×1 → 3×3 → 3×3/2; the pool.
    reduction_a: [Vec<ConvBn>; 2],
    block17: ResidualBlock,
    /// Mixed_7a: three conv towers ending in a 3×3/2 conv; the pool.
    reduction_b: [Vec<ConvBn>; 3],
}

impl PaperTrunk {
    fn new(b: &mut Builder) -> Result<PaperTrunk> {
        let valid = (0, 0);
        let same = (1, 1);
        let stem = vec![
            b.conv_bn("trunk.stem1", 3, 32, (3, 3), 2, valid)?,
            b.conv_bn("trunk.stem2", 32, 32, (3, 3), 1, valid)?,
            b.conv_bn("trunk.stem3", 32, 64, (3, 3), 1, same)?,
        ];
        let stem_after_pool = vec![
            b.conv_bn("trunk.stem4", 64, 80, (1, 1), 1, valid)?,
            b.conv_bn("trunk.stem5", 80, 192, (3, 3), 1, valid)?,
            b.conv_bn("trunk.stem6", 192, 256, (3, 3), 2, valid)?,
        ];
        let block35 = ResidualBlock::block35(b, "trunk.block35")?;
        let reduction_a = [
            vec![b.conv_bn("trunk.red_a.b0", 256, 384, (3, 3), 2, valid)?],
            vec![
                b.conv_bn("trunk.red_a.b1a", 256, 192, (1, 1), 1, valid)?,
                b.conv_bn("trunk.red_a.b1b", 192, 192, (3, 3), 1, same)?,
                b.conv_bn("trunk.red_a.b1c", 192, 256, (3, 3), 2, valid)?,
            ],
        ];
        let block17 = ResidualBlock::block17(b, "trunk.block17")?;
        let reduction_b = [
            vec![
                b.conv_bn("trunk.red_b.b0a", 896, 256, (1, 1), 1, valid)?,
                b.conv_bn("trunk.red_b.b0b", 256, 384, (3, 3), 2, valid)?,
            ],
            vec![
                b.conv_bn("trunk.red_b.b1a", 896, 256, (1, 1), 1, valid)?,
                b.conv_bn("trunk.red_b.b1b", 256, 256, (3, 3), 2, valid)?,
            ],
            vec![
                b.conv_bn("trunk.red_b.b2a", 896, 256, (1, 1), 1, valid)?,
                b.conv_bn("trunk.red_b.b2b", 256, 256, (3, 3), 1, same)?,
                b.conv_bn("trunk.red_b.b2c", 256, 256, (3, 3), 2, valid)?,
            ],
        ];
        Ok(PaperTrunk {
            kernels: b.kernels(),
            stem,
            stem_after_pool,
            block35,
            reduction_a,
            block17,
            reduction_b,
        })
    }

    /// Up to reduction B's input; shapes at 160×160 in the comments (channels × side).
    /// Reduction B then takes 896×8 → 384 + 256 + 256 + 896 (pool) = 1792×3.
    fn forward_head(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        // 3×160 → 32×79 → 32×77 → 64×77 → pool 64×38 → 80×38 → 192×36 → 256×17
        let x = chain(x, &self.stem, mode)?;
        let x = pool_3x3_2(&x, self.kernels)?;
        let x = chain(&x, &self.stem_after_pool, mode)?;
        let x = self.block35.forward(&x, mode)?;
        // 256×17 → 384 + 256 + 256 (pool) = 896×8, in the code's concatenation order
        let x = reduce(&x, &self.reduction_a, mode, self.kernels)?;
        self.block17.forward(&x, mode)
    }
}

/// A reduction block: each tower, then the 3×3/2 pool, concatenated over channels.
fn reduce(x: &Tensor, towers: &[Vec<ConvBn>], mode: Mode, kernels: Kernels) -> Result<Tensor> {
    let mut parts = Vec::with_capacity(towers.len() + 1);
    for tower in towers {
        parts.push(chain(x, tower, mode)?);
    }
    parts.push(pool_3x3_2(x, kernels)?);
    Tensor::cat(&parts, 1)
}
