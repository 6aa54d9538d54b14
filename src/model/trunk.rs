//! The shared trunk. `tiny`: three 3×3 conv/ReLU/max-pool stages. `paper`: the authors' cut-down
//! Inception-ResNet-v1 at 160×160 (stem, 2× block35, reduction A, 2× block17, reduction B,
//! 1× block8, global average pool → Z of 1792), without batch norm (biases instead).

use candle_core::{D, Result, Tensor};

use super::layers::{Builder, Conv2d};
use super::preset::Preset;

pub enum Trunk {
    Tiny(Vec<Conv2d>),
    Paper(Box<PaperTrunk>),
}

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

    /// Length of the flattened trunk output Z.
    pub fn z_dim(&self) -> usize {
        match self {
            // 32 → 16 → 8 → 4 after three pools: 64·4·4.
            Trunk::Tiny(_) => 64 * 4 * 4,
            Trunk::Paper(_) => 1792,
        }
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Trunk::Tiny(convs) => {
                let mut x = x.clone();
                for conv in convs {
                    x = conv.forward_relu_pool(&x, 2)?;
                }
                x.flatten_from(1)
            }
            Trunk::Paper(trunk) => trunk.forward(x),
        }
    }
}

/// A residual Inception block: branches of convolutions, concatenated, projected back by a
/// 1×1 convolution, scaled and added to the input.
pub struct ResidualBlock {
    branches: Vec<Vec<Conv2d>>,
    project: Conv2d,
    scale: f64,
    relu: bool,
}

impl ResidualBlock {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut outs = Vec::with_capacity(self.branches.len());
        for branch in &self.branches {
            let mut y = x.clone();
            for conv in branch {
                y = conv.forward_relu(&y)?;
            }
            outs.push(y);
        }
        let mixed = Tensor::cat(&outs, 1)?;
        let y = (x + (self.project.forward(&mixed)? * self.scale)?)?;
        if self.relu { y.relu() } else { Ok(y) }
    }
}

pub struct PaperTrunk {
    stem: Vec<Conv2d>,
    stem_after_pool: Vec<Conv2d>,
    block35: Vec<ResidualBlock>,
    reduction_a: (Conv2d, Vec<Conv2d>),
    block17: Vec<ResidualBlock>,
    reduction_b: Vec<Vec<Conv2d>>,
    block8: ResidualBlock,
}

/// The code's 3×3/stride-2 max-pool, as a 2×2/stride-2 pool of the input cropped to the same
/// output size: candle has no backward for overlapping pooling windows, and our pooling
/// kernel covers window = stride. Output sizes match the 3×3/2 pool's ((n − 3)/2 + 1).
fn overlapping_pool(x: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let out_h = (h - 3) / 2 + 1;
    let out_w = (w - 3) / 2 + 1;
    let x = x.narrow(2, 0, 2 * out_h)?.narrow(3, 0, 2 * out_w)?;
    crate::kernels::max_pool2d(&x, 2)
}

fn chain(x: &Tensor, convs: &[Conv2d]) -> Result<Tensor> {
    let mut y = x.clone();
    for conv in convs {
        y = conv.forward_relu(&y)?;
    }
    Ok(y)
}

impl PaperTrunk {
    fn new(b: &mut Builder) -> Result<PaperTrunk> {
        let stem = vec![
            b.conv("trunk.stem1", 3, 32, (3, 3), 2, (0, 0))?,
            b.conv("trunk.stem2", 32, 32, (3, 3), 1, (0, 0))?,
            b.conv("trunk.stem3", 32, 64, (3, 3), 1, (1, 1))?,
        ];
        let stem_after_pool = vec![
            b.conv("trunk.stem4", 64, 80, (1, 1), 1, (0, 0))?,
            b.conv("trunk.stem5", 80, 192, (3, 3), 1, (0, 0))?,
            b.conv("trunk.stem6", 192, 256, (3, 3), 2, (0, 0))?,
        ];
        let mut block35 = Vec::new();
        for i in 0..2 {
            let p = format!("trunk.block35_{i}");
            block35.push(ResidualBlock {
                branches: vec![
                    vec![b.conv(&format!("{p}.b0"), 256, 32, (1, 1), 1, (0, 0))?],
                    vec![
                        b.conv(&format!("{p}.b1a"), 256, 32, (1, 1), 1, (0, 0))?,
                        b.conv(&format!("{p}.b1b"), 32, 32, (3, 3), 1, (1, 1))?,
                    ],
                    vec![
                        b.conv(&format!("{p}.b2a"), 256, 32, (1, 1), 1, (0, 0))?,
                        b.conv(&format!("{p}.b2b"), 32, 32, (3, 3), 1, (1, 1))?,
                        b.conv(&format!("{p}.b2c"), 32, 32, (3, 3), 1, (1, 1))?,
                    ],
                ],
                project: b.conv(&format!("{p}.up"), 96, 256, (1, 1), 1, (0, 0))?,
                scale: 0.17,
                relu: true,
            });
        }
        let reduction_a = (
            b.conv("trunk.red_a.b0", 256, 384, (3, 3), 2, (0, 0))?,
            vec![
                b.conv("trunk.red_a.b1a", 256, 192, (1, 1), 1, (0, 0))?,
                b.conv("trunk.red_a.b1b", 192, 192, (3, 3), 1, (1, 1))?,
                b.conv("trunk.red_a.b1c", 192, 256, (3, 3), 2, (0, 0))?,
            ],
        );
        let mut block17 = Vec::new();
        for i in 0..2 {
            let p = format!("trunk.block17_{i}");
            block17.push(ResidualBlock {
                branches: vec![
                    vec![b.conv(&format!("{p}.b0"), 896, 128, (1, 1), 1, (0, 0))?],
                    vec![
                        b.conv(&format!("{p}.b1a"), 896, 128, (1, 1), 1, (0, 0))?,
                        b.conv(&format!("{p}.b1b"), 128, 128, (1, 7), 1, (0, 3))?,
                        b.conv(&format!("{p}.b1c"), 128, 128, (7, 1), 1, (3, 0))?,
                    ],
                ],
                project: b.conv(&format!("{p}.up"), 256, 896, (1, 1), 1, (0, 0))?,
                scale: 0.1,
                relu: true,
            });
        }
        let reduction_b = vec![
            vec![
                b.conv("trunk.red_b.b0a", 896, 256, (1, 1), 1, (0, 0))?,
                b.conv("trunk.red_b.b0b", 256, 384, (3, 3), 2, (0, 0))?,
            ],
            vec![
                b.conv("trunk.red_b.b1a", 896, 256, (1, 1), 1, (0, 0))?,
                b.conv("trunk.red_b.b1b", 256, 256, (3, 3), 2, (0, 0))?,
            ],
            vec![
                b.conv("trunk.red_b.b2a", 896, 256, (1, 1), 1, (0, 0))?,
                b.conv("trunk.red_b.b2b", 256, 256, (3, 3), 1, (1, 1))?,
                b.conv("trunk.red_b.b2c", 256, 256, (3, 3), 2, (0, 0))?,
            ],
        ];
        let block8 = ResidualBlock {
            branches: vec![
                vec![b.conv("trunk.block8.b0", 1792, 192, (1, 1), 1, (0, 0))?],
                vec![
                    b.conv("trunk.block8.b1a", 1792, 192, (1, 1), 1, (0, 0))?,
                    b.conv("trunk.block8.b1b", 192, 192, (1, 3), 1, (0, 1))?,
                    b.conv("trunk.block8.b1c", 192, 192, (3, 1), 1, (1, 0))?,
                ],
            ],
            project: b.conv("trunk.block8.up", 384, 1792, (1, 1), 1, (0, 0))?,
            scale: 0.2,
            relu: false,
        };
        Ok(PaperTrunk {
            stem,
            stem_after_pool,
            block35,
            reduction_a,
            block17,
            reduction_b,
            block8,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // 160 → 79 → 77 → 77 → pool 38 → 38 → 36 → 17
        let x = chain(x, &self.stem)?;
        let x = overlapping_pool(&x)?;
        let mut x = chain(&x, &self.stem_after_pool)?;
        for block in &self.block35 {
            x = block.forward(&x)?;
        }
        // 17 → 8, channels 256 + 384 + 256 = 896
        let pooled = overlapping_pool(&x)?;
        let a0 = self.reduction_a.0.forward_relu(&x)?;
        let a1 = chain(&x, &self.reduction_a.1)?;
        let mut x = Tensor::cat(&[pooled, a0, a1], 1)?;
        for block in &self.block17 {
            x = block.forward(&x)?;
        }
        // 8 → 3, channels 896 + 384 + 256 + 256 = 1792
        let mut parts = vec![overlapping_pool(&x)?];
        for branch in &self.reduction_b {
            parts.push(chain(&x, branch)?);
        }
        let x = Tensor::cat(&parts, 1)?;
        let x = self.block8.forward(&x)?;
        x.mean(D::Minus1)?.mean(D::Minus1)
    }
}
