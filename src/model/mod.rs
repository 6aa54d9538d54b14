//! The paper's three-task network: a shared trunk → three branches of the same shape →
//! embeddings (L2-normalised for distances) → one linear classifier per branch, plus Ψ.
//!
//! Parameters live in one candle `VarMap` (saved as safetensors) and are initialised from the
//! run's seed, so runs A and B start from identical parameters.

use candle_core::{DType, Device, Result, Tensor, Var};
use candle_nn::VarMap;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::task::TASKS;

pub mod layers;
pub mod preset;
pub mod psi;
pub mod trunk;

pub use preset::Preset;
pub use psi::Psi;
pub use trunk::Trunk;

/// One branch: hidden layer, embedding, classifier. The classifier reads the embedding before
/// normalisation (as FaceNet-style code does); distances and the centre loss use the normalised one.
pub struct Branch {
    pub hidden: layers::Linear,
    pub embed: layers::Linear,
    pub classifier: layers::Linear,
}

/// What one forward pass gives.
pub struct Forward {
    /// Trunk output, `[batch, z_dim]`.
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
}

const BRANCH_PREFIX: [&str; TASKS] = ["verif", "visual", "cari"];

impl Network {
    /// Build with parameters drawn from `seed`: Kaiming-uniform weights for the convolutions,
    /// U(±1/√fan_in) for the linear layers (PyTorch's default, which keeps the first logits
    /// small so the losses start near ln(classes) instead of spiking), zero biases, and Ψ's
    /// weights N(0, 0.1) as in the authors' code.
    pub fn new(preset: Preset, classes: usize, seed: u64, device: &Device) -> Result<Network> {
        let varmap = VarMap::new();
        let mut builder = layers::Builder::new(&varmap, device);
        let trunk = Trunk::new(preset, &mut builder)?;
        let z_dim = trunk.z_dim();
        let hidden = preset.branch_hidden();
        let emb = preset.embedding_dim();
        let branch = |b: &mut layers::Builder, name: &str| -> Result<Branch> {
            Ok(Branch {
                hidden: b.linear(&format!("{name}.hidden"), z_dim, hidden)?,
                embed: b.linear(&format!("{name}.embed"), hidden, emb)?,
                classifier: b.linear(&format!("{name}.classifier"), emb, classes)?,
            })
        };
        let branches = [
            branch(&mut builder, BRANCH_PREFIX[0])?,
            branch(&mut builder, BRANCH_PREFIX[1])?,
            branch(&mut builder, BRANCH_PREFIX[2])?,
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
            let values: Vec<f32> = if name.ends_with(".bias") {
                vec![0.0; count]
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

    /// The network's own parameters (everything but Ψ).
    pub fn network_vars(&self) -> Result<Vec<Var>> {
        Ok(self
            .named_vars()?
            .into_iter()
            .filter(|(name, _)| !name.starts_with("psi."))
            .map(|(_, v)| v)
            .collect())
    }

    pub fn parameter_count(&self) -> Result<usize> {
        Ok(self.named_vars()?.iter().map(|(_, v)| v.elem_count()).sum())
    }

    pub fn z_dim(&self) -> usize {
        self.trunk.z_dim()
    }

    /// Full forward pass on images `[batch, 3, s, s]`.
    pub fn forward(&self, images: &Tensor) -> Result<Forward> {
        let z = self.trunk.forward(images)?;
        self.branches_forward(z)
    }

    /// The branches on a given trunk output Z (the trainer passes a leaf copy of Z, so the
    /// branches' backward pass stops there and per-task gradients at Z are cheap).
    pub fn branches_forward(&self, z: Tensor) -> Result<Forward> {
        let mut embeddings = Vec::with_capacity(TASKS);
        let mut logits = Vec::with_capacity(TASKS);
        for branch in &self.branches {
            let h = branch.hidden.forward(&z)?.relu()?;
            let e = branch.embed.forward(&h)?;
            logits.push(branch.classifier.forward(&e)?);
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
