//! The paper's three-task network: a shared trunk → three branches of the same shape →
//! embeddings (L2-normalised for distances) → one linear classifier per branch, plus Ψ.
//!
//! Parameters live in one candle `VarMap` (saved as safetensors) and are initialised from the
//! run's seed, so runs A and B start from identical parameters. Batch norm's running statistics
//! live there too (so checkpoints and snapshots carry them), but no optimiser sees them.

use candle_core::{D, DType, Device, Result, Tensor, Var};
use candle_nn::VarMap;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::kernels::Kernels;
use crate::seeded::derive_seed;
use crate::task::TASKS;

pub mod layers;
pub mod preset;
pub mod psi;
pub mod trunk;

pub use layers::Mode;
pub use preset::Preset;
pub use psi::Psi;
pub use trunk::Trunk;

/// Dropout's keep probability on each paper branch's pooled features: the paper's "dropout
/// probability is set 0.5" and the authors' `--keep_probability 0.5`.
pub const DROPOUT_KEEP: f64 = 0.5;

/// Tag mixed into the dropout seeds, so they are unrelated to the run's other seeded streams.
const DROPOUT_TAG: u64 = 0xd50f;

/// One branch: its layers up to the embedding, then a linear classifier that reads the
/// embedding before normalisation (as FaceNet-style code does); distances and the centre loss
/// use the normalised one.
pub enum Branch {
    /// `tiny`: hidden layer + ReLU → embedding.
    Mlp {
        hidden: layers::Linear,
        embed: layers::Linear,
        classifier: layers::Linear,
    },
    /// `paper`, as the authors' code: block8 (scale 0.2, ReLU) → block8 (scale 1, no
    /// activation) → global average pool → dropout → the 1792-d embedding (no bottleneck).
    /// In training the embedding is the dropped-out one, as in the code, where the classifier
    /// and the centre loss both read the dropout's output.
    Inception {
        blocks: Box<[trunk::ResidualBlock; 2]>,
        classifier: layers::Linear,
    },
}

impl Branch {
    fn new(
        preset: Preset,
        b: &mut layers::Builder,
        name: &str,
        z_dim: usize,
        classes: usize,
    ) -> Result<Branch> {
        let emb = preset.embedding_dim();
        Ok(match preset {
            Preset::Tiny => Branch::Mlp {
                hidden: b.linear(&format!("{name}.hidden"), z_dim, preset.branch_hidden())?,
                embed: b.linear(&format!("{name}.embed"), preset.branch_hidden(), emb)?,
                classifier: b.linear(&format!("{name}.classifier"), emb, classes)?,
            },
            Preset::Paper => Branch::Inception {
                blocks: Box::new([
                    trunk::ResidualBlock::block8(b, &format!("{name}.block8_0"), 0.2, true)?,
                    trunk::ResidualBlock::block8(b, &format!("{name}.block8_1"), 1.0, false)?,
                ]),
                classifier: b.linear(&format!("{name}.classifier"), emb, classes)?,
            },
        })
    }

    /// (embedding before normalisation, logits) for Z; `dropout_seed` draws this branch's
    /// dropout mask in training.
    fn forward(&self, z: &Tensor, mode: Mode, dropout_seed: u64) -> Result<(Tensor, Tensor)> {
        match self {
            Branch::Mlp {
                hidden,
                embed,
                classifier,
            } => {
                let h = hidden.forward(z)?.relu()?;
                let e = embed.forward(&h)?;
                let logits = classifier.forward(&e)?;
                Ok((e, logits))
            }
            Branch::Inception { blocks, classifier } => {
                let mut x = z.clone();
                for block in blocks.iter() {
                    x = block.forward(&x, mode)?;
                }
                let mut e = x.mean(D::Minus1)?.mean(D::Minus1)?;
                if mode.is_training() {
                    e = layers::dropout(&e, DROPOUT_KEEP, dropout_seed)?;
                }
                let logits = classifier.forward(&e)?;
                Ok((e, logits))
            }
        }
    }
}

/// What one forward pass gives.
pub struct Forward {
    /// Trunk output: `[batch, z_dim]` (tiny) or `[batch, 1792, 3, 3]` (paper).
    pub z: Tensor,
    /// Per task: L2-normalised embedding `[batch, embedding_dim]`.
    pub embeddings: [Tensor; TASKS],
    /// Per task: class logits `[batch, classes]`.
    pub logits: [Tensor; TASKS],
}

/// Parameters as host values: (name, shape, values), sorted by name.
pub type HostParams = Vec<(String, Vec<usize>, Vec<f32>)>;

pub struct Network {
    pub preset: Preset,
    pub trunk: Trunk,
    pub branches: [Branch; TASKS],
    pub psi: Psi,
    pub varmap: VarMap,
    pub classes: usize,
    pub device: Device,
    /// What its convolutions and poolings run on.
    pub kernels: Kernels,
    /// The run's seed, from which each training step's dropout masks are derived.
    seed: u64,
}

const BRANCH_PREFIX: [&str; TASKS] = ["verif", "visual", "cari"];

impl Network {
    /// Build with parameters drawn from `seed`: Kaiming-uniform weights for the convolutions,
    /// U(±1/√fan_in) for the linear layers (PyTorch's default, which keeps the first logits
    /// small so the losses start near ln(classes) instead of spiking), zero biases and batch
    /// norm offsets, running statistics at mean 0 / variance 1 (TF's initial moving averages),
    /// and Ψ's weights N(0, 0.1) as in the authors' code. Its convolutions and poolings run on
    /// `kernels`.
    pub fn new(
        preset: Preset,
        classes: usize,
        seed: u64,
        device: &Device,
        kernels: Kernels,
    ) -> Result<Network> {
        let varmap = VarMap::new();
        let mut builder = layers::Builder::new(&varmap, device, kernels);
        let trunk = Trunk::new(preset, &mut builder)?;
        let z_dim = trunk.z_dim();
        let mut branch = |name: &str| Branch::new(preset, &mut builder, name, z_dim, classes);
        let branches = [
            branch(BRANCH_PREFIX[0])?,
            branch(BRANCH_PREFIX[1])?,
            branch(BRANCH_PREFIX[2])?,
        ];
        let psi_layer = builder.linear("psi", z_dim, TASKS)?;
        let psi = Psi {
            weight: psi_layer.weight,
            bias: psi_layer.bias,
        };
        let network = Network {
            preset,
            trunk,
            branches,
            psi,
            varmap,
            classes,
            device: device.clone(),
            kernels,
            seed,
        };
        network.initialise(seed)?;
        Ok(network)
    }

    /// Deterministic initialisation in sorted-name order, independent of build order.
    fn initialise(&self, seed: u64) -> Result<()> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x1417_0000);
        for (name, var) in self.named_vars()? {
            let dims = var.dims().to_vec();
            let count: usize = dims.iter().product();
            let values: Vec<f32> = if name.ends_with(".bias")
                || name.ends_with(".beta")
                || name.ends_with(".running_mean")
            {
                vec![0.0; count]
            } else if name.ends_with(".running_var") {
                vec![1.0; count]
            } else if name == "psi.weight" {
                let normal = Normal::new(0.0f32, 0.1).map_err(candle_core::Error::wrap)?;
                (0..count).map(|_| normal.sample(&mut rng)).collect()
            } else {
                let fan_in: usize = dims.iter().skip(1).product();
                let bound = if dims.len() == 4 {
                    (6.0 / fan_in.max(1) as f32).sqrt()
                } else {
                    1.0 / (fan_in.max(1) as f32).sqrt()
                };
                (0..count)
                    .map(|_| rng.random_range(-bound..bound))
                    .collect()
            };
            var.set(&Tensor::from_vec(values, dims, &self.device)?)?;
        }
        Ok(())
    }

    /// All parameters sorted by name.
    pub fn named_vars(&self) -> Result<Vec<(String, Var)>> {
        let data = self
            .varmap
            .data()
            .lock()
            .map_err(|_| candle_core::Error::Msg("parameter map lock poisoned".into()))?;
        let mut vars: Vec<(String, Var)> =
            data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(vars)
    }

    /// The network's own trainable parameters (everything but Ψ and the running statistics).
    pub fn network_vars(&self) -> Result<Vec<Var>> {
        Ok(self
            .named_vars()?
            .into_iter()
            .filter(|(name, _)| !name.starts_with("psi.") && !layers::is_running_statistic(name))
            .map(|(_, v)| v)
            .collect())
    }

    /// The trunk's trainable parameters, by name.
    pub fn trunk_vars(&self) -> Result<Vec<(String, Var)>> {
        self.trainable_with_prefix("trunk.")
    }

    /// The trunk's last stage's trainable parameters (the lens's `last` space).
    pub fn last_stage_vars(&self) -> Result<Vec<(String, Var)>> {
        self.trainable_with_prefix(self.trunk.last_stage_prefix())
    }

    /// Branch `task`'s trainable parameters.
    pub fn branch_vars(&self, task: usize) -> Result<Vec<(String, Var)>> {
        self.trainable_with_prefix(&format!("{}.", BRANCH_PREFIX[task]))
    }

    fn trainable_with_prefix(&self, prefix: &str) -> Result<Vec<(String, Var)>> {
        Ok(self
            .named_vars()?
            .into_iter()
            .filter(|(name, _)| name.starts_with(prefix) && !layers::is_running_statistic(name))
            .collect())
    }

    /// Trainable parameters, Ψ included, running statistics not.
    pub fn parameter_count(&self) -> Result<usize> {
        Ok(self.parameter_groups()?.iter().map(|g| g.1).sum())
    }

    /// Trainable parameters per top-level group (`trunk`, `verif`, `visual`, `cari`, `psi`),
    /// in name order, and the number of running statistics (not trained, saved all the same).
    pub fn parameter_groups(&self) -> Result<Vec<(String, usize)>> {
        let mut groups: Vec<(String, usize)> = Vec::new();
        for (name, var) in self.named_vars()? {
            if layers::is_running_statistic(&name) {
                continue;
            }
            let group = name.split('.').next().unwrap_or_default().to_string();
            match groups.iter_mut().find(|g| g.0 == group) {
                Some(g) => g.1 += var.elem_count(),
                None => groups.push((group, var.elem_count())),
            }
        }
        Ok(groups)
    }

    /// How many running-statistic values (batch norm means and variances) the network keeps.
    pub fn running_statistic_count(&self) -> Result<usize> {
        Ok(self
            .named_vars()?
            .iter()
            .filter(|(name, _)| layers::is_running_statistic(name))
            .map(|(_, v)| v.elem_count())
            .sum())
    }

    pub fn z_dim(&self) -> usize {
        self.trunk.z_dim()
    }

    /// Full forward pass on images `[batch, 3, s, s]`.
    pub fn forward(&self, images: &Tensor, mode: Mode) -> Result<Forward> {
        let z = self.trunk.forward(images, mode)?;
        self.branches_forward(z, mode)
    }

    /// The branches on a given trunk output Z (the trainer passes a leaf copy of Z, so the
    /// branches' backward pass stops there and per-task gradients at Z are cheap).
    pub fn branches_forward(&self, z: Tensor, mode: Mode) -> Result<Forward> {
        let inputs = [z.clone(), z.clone(), z.clone()];
        self.branches_forward_each(&inputs, z, mode)
    }

    /// The branches, each on its own copy of Z (`inputs[i]` for branch i), and `z` for Ψ: a
    /// backward pass through them then gives each task's own ∂L_i/∂Z at once, one per copy.
    pub fn branches_forward_each(
        &self,
        inputs: &[Tensor; TASKS],
        z: Tensor,
        mode: Mode,
    ) -> Result<Forward> {
        let mut embeddings = Vec::with_capacity(TASKS);
        let mut logits = Vec::with_capacity(TASKS);
        for (index, branch) in self.branches.iter().enumerate() {
            let (e, l) = branch.forward(&inputs[index], mode, self.dropout_seed(mode, index))?;
            logits.push(l);
            embeddings.push(psi::l2_normalise_rows(&e)?);
        }
        let [e0, e1, e2]: [Tensor; TASKS] = embeddings
            .try_into()
            .map_err(|_| candle_core::Error::Msg("branch count".into()))?;
        let [l0, l1, l2]: [Tensor; TASKS] = logits
            .try_into()
            .map_err(|_| candle_core::Error::Msg("branch count".into()))?;
        Ok(Forward {
            z,
            embeddings: [e0, e1, e2],
            logits: [l0, l1, l2],
        })
    }

    /// The seed of branch `index`'s dropout mask at a training step: a function of the run's
    /// seed and the step only, so a fork restored from a snapshot draws the same masks.
    fn dropout_seed(&self, mode: Mode, index: usize) -> u64 {
        match mode {
            Mode::Train { step } => derive_seed(&[self.seed, DROPOUT_TAG, step, index as u64]),
            Mode::Eval => 0,
        }
    }

    /// Copy every parameter's values to the host: (name, shape, values), sorted by name.
    pub fn export(&self) -> Result<HostParams> {
        self.named_vars()?
            .into_iter()
            .map(|(name, var)| {
                let dims = var.dims().to_vec();
                let values = var
                    .as_tensor()
                    .flatten_all()?
                    .to_dtype(DType::F32)?
                    .to_vec1::<f32>()?;
                Ok((name, dims, values))
            })
            .collect()
    }

    /// Overwrite parameters from host values; every parameter must be present with its shape.
    pub fn import(&self, params: &[(String, Vec<usize>, Vec<f32>)]) -> Result<()> {
        let vars = self.named_vars()?;
        for (name, var) in vars {
            let (_, dims, values) = params
                .iter()
                .find(|(n, _, _)| *n == name)
                .ok_or_else(|| candle_core::Error::Msg(format!("parameter '{name}' missing")))?;
            if dims.as_slice() != var.dims() {
                return Err(candle_core::Error::Msg(format!(
                    "parameter '{name}' has shape {dims:?}, expected {:?}",
                    var.dims()
                )));
            }
            var.set(&Tensor::from_vec(
                values.clone(),
                dims.clone(),
                &self.device,
            )?)?;
        }
        Ok(())
    }
}
