//! The trainer: one run's model, optimisers and data order. Synchronous; the worker thread and
//! the CLI drive it.

use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

#[cfg(test)]
mod kernel_tests;
#[cfg(test)]
mod lens_tests;
mod taskwise;
#[cfg(test)]
mod test_data;

use super::checkpoint::{self, CheckpointRun};
use super::config::{
    ConfigError, LearningRates, LrDrop, Perturbation, TaskPerturbation, TrainConfig,
};
use super::hold::{check_held, held_at, hold_plan};
use super::lens::LensRow;
use super::losses::{centre_loss, masked_centre_loss, masked_cross_entropy, update_centres};
use super::metrics::{RunInfo, StepMetrics};
use super::optim::Optimizer;
use super::snapshot::TrainerSnapshot;
use crate::data::batches::{BatchSampler, HostBatch, class_of_identity};
use crate::data::{Dataset, Modality};
use crate::eval::{self, EmbeddingRequest, Embeddings, EvalReport};
use crate::model::{Forward, Mode, Network};
use crate::task::{TASKS, Task};
use crate::weighting::{self, PsiUpdate, StrategyConfig, WeightInputs, WeightPlan, WeightingRule};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
    #[error(
        "the {task} loss became {value} at step {step}; the run is paused (try a lower learning rate)"
    )]
    NonFinite {
        step: u64,
        task: &'static str,
        value: f32,
    },
    #[error("dataset unusable: {0}")]
    Data(String),
    #[error(transparent)]
    Eval(#[from] eval::EvalError),
    #[error("checkpoint {path}: {reason}")]
    Checkpoint { path: String, reason: String },
}

/// Noise level of the `noise` perturbation, in normalised pixel units.
const PERTURB_NOISE_SIGMA: f32 = 1.0;

pub struct Trainer {
    config: TrainConfig,
    dataset: Arc<Dataset>,
    network: Network,
    rule: Box<dyn WeightingRule>,
    network_optimizer: Optimizer,
    psi_optimizer: Optimizer,
    /// Optimiser over the rule's own parameters (uncertainty's s), rebuilt with the rule.
    rule_optimizer: Optimizer,
    classes_of_identity: Vec<Option<usize>>,
    /// Each branch's centres, `classes × embedding_dim`; empty for a branch without a centre
    /// term.
    centres: [Vec<f32>; TASKS],
    sampler: BatchSampler,
    noise_rng: ChaCha8Rng,
    perturbations: [Perturbation; TASKS],
    /// Weights the window holds now, for as long as its user holds them (`train::hold`).
    live_holds: [Option<f64>; TASKS],
    step: u64,
    wall_secs: f64,
}

/// Check that `spec` is `cpu`, `auto`, `cuda` or `cuda:N`, without touching any device.
pub fn check_device_spec(spec: &str) -> Result<(), String> {
    match spec {
        "cpu" | "auto" | "cuda" => Ok(()),
        other => match other.strip_prefix("cuda:") {
            Some(n) if n.parse::<usize>().is_ok() => Ok(()),
            _ => Err(format!(
                "unknown device '{other}'; expected cpu, cuda, cuda:N or auto"
            )),
        },
    }
}

/// Resolve `cpu`, `cuda:N` or `auto`.
pub fn select_device(spec: &str) -> Result<Device, String> {
    match spec {
        "cpu" => Ok(Device::Cpu),
        "auto" => {
            if cfg!(feature = "cuda") {
                Ok(Device::cuda_if_available(0).unwrap_or(Device::Cpu))
            } else {
                Ok(Device::Cpu)
            }
        }
        other => {
            let Some(index) =
                other
                    .strip_prefix("cuda:")
                    .or(if other == "cuda" { Some("0") } else { None })
            else {
                return Err(format!(
                    "unknown device '{other}'; expected cpu, cuda, cuda:N or auto"
                ));
            };
            let index: usize = index
                .parse()
                .map_err(|_| format!("device '{other}': '{index}' is not a GPU number"))?;
            if !cfg!(feature = "cuda") {
                return Err(format!(
                    "device '{other}' needs a build with CUDA: cargo run --release --features cuda"
                ));
            }
            Device::new_cuda(index).map_err(|e| format!("device '{other}' did not answer: {e}"))
        }
    }
}

/// Words for a device, e.g. "CPU" or "CUDA:0".
pub fn device_label(device: &Device) -> String {
    match device {
        Device::Cpu => "CPU".into(),
        Device::Cuda(_) => {
            if let candle_core::DeviceLocation::Cuda { gpu_id } = device.location() {
                format!("CUDA:{gpu_id}")
            } else {
                "CUDA".into()
            }
        }
        Device::Metal(_) => "Metal".into(),
    }
}

impl Trainer {
    pub fn new(
        config: TrainConfig,
        dataset: Arc<Dataset>,
        device: &Device,
    ) -> Result<Trainer, TrainError> {
        config.validate()?;
        if dataset.splits.train.is_empty() || dataset.splits.train_identities.is_empty() {
            return Err(TrainError::Data("no training images".into()));
        }
        if dataset.images.image_size != config.preset.image_size() {
            return Err(TrainError::Data(format!(
                "images are {0}×{0} but preset {1} expects {2}×{2}",
                dataset.images.image_size,
                config.preset.key(),
                config.preset.image_size()
            )));
        }
        let classes = dataset.splits.train_identities.len();
        let network = Network::new(config.preset, classes, config.seed, device, config.kernels)?;
        let rule = weighting::build(&config.strategy, device, config.seed)?;
        let network_optimizer = Optimizer::new(config.optimizer, network.network_vars()?)?;
        let psi_optimizer = Optimizer::new(config.optimizer, network.psi.vars())?;
        let rule_optimizer = Optimizer::new(config.optimizer, rule.trainable_vars())?;
        let sampler = BatchSampler::new(
            &dataset.splits.train,
            ChaCha8Rng::seed_from_u64(config.seed ^ 0xba7c_4000),
        );
        let centres = Task::ALL.map(|task| {
            if config.centre_loss_on.covers(task) {
                vec![0.0; classes * config.preset.embedding_dim()]
            } else {
                Vec::new()
            }
        });
        Ok(Trainer {
            classes_of_identity: class_of_identity(&dataset),
            noise_rng: ChaCha8Rng::seed_from_u64(config.seed ^ 0x0153_0000),
            config,
            dataset,
            network,
            rule,
            network_optimizer,
            psi_optimizer,
            rule_optimizer,
            centres,
            sampler,
            perturbations: [Perturbation::None; TASKS],
            live_holds: [None; TASKS],
            step: 0,
            wall_secs: 0.0,
        })
    }

    /// Facts about the run for the window.
    pub fn info(&self) -> Result<RunInfo, TrainError> {
        Ok(RunInfo {
            device: device_label(&self.network.device),
            preset: self.config.preset.key().to_string(),
            dataset: self.dataset.name.clone(),
            parameters: self.network.parameter_count()?,
            train_images: self.dataset.splits.train.len(),
            classes: self.network.classes,
            embedding_dim: self.config.preset.embedding_dim(),
            z_dim: self.network.z_dim(),
        })
    }

    pub fn step_count(&self) -> u64 {
        self.step
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    pub fn dataset(&self) -> &Arc<Dataset> {
        &self.dataset
    }

    pub fn strategy(&self) -> &StrategyConfig {
        &self.config.strategy
    }

    pub fn perturbations(&self) -> [Perturbation; TASKS] {
        self.perturbations
    }

    /// Change the weighting rule; takes effect at the next step. Ψ's parameters and optimiser
    /// state carry over, so switching back and forth continues from where Ψ was.
    pub fn set_strategy(&mut self, strategy: StrategyConfig) -> Result<(), TrainError> {
        strategy.validate().map_err(|reason| ConfigError {
            field: "strategy",
            reason,
        })?;
        let device = self.network.device.clone();
        self.rule = weighting::build(&strategy, &device, self.config.seed ^ self.step)?;
        self.rule_optimizer = Optimizer::new(self.config.optimizer, self.rule.trainable_vars())?;
        self.config.strategy = strategy;
        Ok(())
    }

    /// Look at the tasks' gradients (or stop looking) from the next step.
    pub fn set_lens(&mut self, lens: super::lens::LensConfig) {
        self.config.lens = lens;
    }

    /// Where the rules that combine gradients take them, and the lens, from the next step.
    pub fn set_gradients(
        &mut self,
        grad_space: super::lens::GradSpace,
        lens: super::lens::LensConfig,
    ) {
        self.config.grad_space = grad_space;
        self.config.lens = lens;
    }

    /// Let the network's loss reach the trunk through w, or hold w constant for it (eq. 11).
    pub fn set_weights_reach_trunk(&mut self, reach: bool) {
        self.config.weights_reach_trunk = reach;
    }

    pub fn set_rates(&mut self, rates: LearningRates) -> Result<(), TrainError> {
        let mut probe = self.config.clone();
        probe.rates = rates;
        probe.validate()?;
        self.config.rates = rates;
        Ok(())
    }

    pub fn perturb(&mut self, change: TaskPerturbation) {
        self.perturbations[change.task.index()] = change.perturbation;
    }

    /// Hold `task`'s weight at `value` from the next step on (None: release it); refused when
    /// the weights held together could not be met.
    pub fn hold(&mut self, task: Task, value: Option<f64>) -> Result<(), TrainError> {
        let next = self.step + 1;
        let mut held = held_at(&self.config.holds, next);
        if value.is_some() && held[task.index()].is_some() {
            return Err(ConfigError {
                field: "hold",
                reason: format!("{} is held by the run's --hold at step {next}", task.key()),
            }
            .into());
        }
        let mut live = self.live_holds;
        live[task.index()] = value;
        for (slot, live) in held.iter_mut().zip(live) {
            *slot = live.or(*slot);
        }
        check_held(held).map_err(|reason| ConfigError {
            field: "hold",
            reason,
        })?;
        self.live_holds = live;
        Ok(())
    }

    /// The weights held at `step`: the window's, else the run's `--hold`s.
    fn held(&self, step: u64) -> [Option<f64>; TASKS] {
        let scheduled = held_at(&self.config.holds, step);
        std::array::from_fn(|i| self.live_holds[i].or(scheduled[i]))
    }

    /// The rule's plan with the held weights applied (see `train::hold`).
    fn holding(&self, plan: WeightPlan, step: u64) -> Result<WeightPlan, TrainError> {
        Ok(hold_plan(plan, self.held(step))?)
    }

    /// One optimiser step on one batch.
    pub fn step(&mut self) -> Result<StepMetrics, TrainError> {
        let started = Instant::now();
        let next_step = self.step + 1;
        self.apply_scheduled_perturbations(next_step);
        let batch = self.next_batch()?;
        let mode = Mode::Train { step: next_step };
        let wanted = self.wanted(next_step);
        let pass = if wanted.any() {
            self.taskwise_pass(&batch, mode, next_step, wanted)?
        } else {
            self.joint_pass(&batch, mode, next_step)?
        };
        let rates = LrDrop::rates_at(self.config.lr_drop, self.config.rates, next_step);
        self.apply_updates(&pass.grads, pass.plan.psi_update, rates)?;
        self.move_centres(&pass.fwd, &batch)?;
        self.rule.observe(next_step, pass.loss_values);
        self.step = next_step;
        self.wall_secs += started.elapsed().as_secs_f64();
        Ok(StepMetrics {
            step: self.step,
            wall_secs: self.wall_secs,
            strategy: self.config.strategy.label(),
            weights: pass.plan.reported,
            losses: pass.loss_values,
            lr: rates.lr,
            coalesced_steps: 1,
            lens: pass.lens,
        })
    }

    /// The backward pass when no task's own gradient is wanted, split at Z: the branches, Ψ
    /// and the rule see a leaf copy of Z, and the trunk gets the gradient that arrives there
    /// in a second, separate pass. The result equals one backward pass.
    fn joint_pass(&mut self, batch: &TaskBatch, mode: Mode, step: u64) -> Result<Pass, TrainError> {
        let z_trunk = self.network.trunk.forward(&batch.images, mode)?;
        let z_leaf = Var::from_tensor(&z_trunk.detach())?;
        let fwd = self
            .network
            .branches_forward(z_leaf.as_tensor().clone(), mode)?;
        let losses = self.task_losses(&fwd, batch)?;
        let loss_values = finite_values(&losses, step)?;
        let plan = self.rule.plan(&WeightInputs {
            z: &fwd.z,
            losses: &losses,
            loss_values,
            psi: &self.network.psi,
            step,
            weights_reach_trunk: self.config.weights_reach_trunk,
            task_gram: None,
            task_grads_at_z: None,
        })?;
        let plan = self.holding(plan, step)?;
        let grads = backward_split_at_z(&plan, &losses, &z_trunk, &z_leaf)?;
        Ok(Pass {
            fwd,
            plan,
            loss_values,
            grads,
            lens: None,
        })
    }

    fn apply_scheduled_perturbations(&mut self, step: u64) {
        for scheduled in self.config.perturbations.clone() {
            if scheduled.step == step {
                self.perturb(scheduled.change);
            }
        }
    }

    /// The next batch, with each task's labels and mask, perturbations applied.
    fn next_batch(&mut self) -> Result<TaskBatch, TrainError> {
        let indices = self.sampler.next_batch(self.config.batch_size);
        let mut batch = HostBatch::gather(&self.dataset, &indices, &self.classes_of_identity);
        let task_modality = [None, Some(Modality::Photo), Some(Modality::Caricature)];
        let masks: [(Vec<f32>, usize); TASKS] = task_modality.map(|m| batch.mask(m));
        for task in Task::ALL {
            if self.perturbations[task.index()] == Perturbation::Noise {
                let mask = &masks[task.index()].0;
                batch.add_noise(mask, PERTURB_NOISE_SIGMA, &mut self.noise_rng);
            }
        }
        let classes = self.network.classes;
        let labels = Task::ALL.map(|task| {
            if self.perturbations[task.index()] == Perturbation::ShuffleLabels {
                (0..batch.size)
                    .map(|_| self.sampler.random_class(classes) as u32)
                    .collect()
            } else {
                batch.labels.iter().map(|&l| l as u32).collect()
            }
        });
        Ok(TaskBatch {
            images: batch.images(&self.network.device)?,
            size: batch.size,
            labels,
            masks,
        })
    }

    /// `[TASKS]`: each task's cross-entropy over the images it sees, plus the centre term on
    /// the embeddings of those images where the run puts one (`centre_loss_on`).
    fn task_losses(&self, fwd: &Forward, batch: &TaskBatch) -> Result<Tensor, TrainError> {
        let device = &self.network.device;
        let mut losses = Vec::with_capacity(TASKS);
        for task in Task::ALL {
            let i = task.index();
            let labels = Tensor::new(batch.labels[i].as_slice(), device)?;
            let (mask, count) = &batch.masks[i];
            let mask = Tensor::new(mask.as_slice(), device)?;
            let mut loss = masked_cross_entropy(&fwd.logits[i], &labels, &mask, *count)?;
            if self.has_centre_term(task) {
                let seen = (&mask, *count);
                let centre = self.centre_term(task, &fwd.embeddings[i], &batch.labels[i], seen)?;
                loss = (loss + (centre * self.config.centre_loss_factor)?)?;
            }
            losses.push(loss);
        }
        Ok(Tensor::stack(&losses, 0)?)
    }

    fn has_centre_term(&self, task: Task) -> bool {
        self.config.centre_loss_factor > 0.0 && !self.centres[task.index()].is_empty()
    }

    /// The centre loss of `task`'s `embeddings` against its centres of `labels`, over the rows
    /// the task sees (`seen`: mask and count).
    fn centre_term(
        &self,
        task: Task,
        embeddings: &Tensor,
        labels: &[u32],
        seen: (&Tensor, usize),
    ) -> Result<Tensor, TrainError> {
        let dim = self.config.preset.embedding_dim();
        let centres = &self.centres[task.index()];
        let size = labels.len();
        let mut batch_centres = Vec::with_capacity(size * dim);
        for &label in labels {
            let l = label as usize;
            batch_centres.extend_from_slice(&centres[l * dim..(l + 1) * dim]);
        }
        let batch_centres = Tensor::from_vec(batch_centres, (size, dim), &self.network.device)?;
        let (mask, count) = seen;
        // A task that sees every row (verification) keeps the unmasked form, so its numbers
        // stay bit-identical to runs made before the other branches had a centre term.
        if count == size {
            Ok(centre_loss(embeddings, &batch_centres)?)
        } else {
            Ok(masked_centre_loss(embeddings, &batch_centres, mask, count)?)
        }
    }

    /// One optimiser step for the network, the rule's own parameters and Ψ (by whom the rule
    /// says).
    fn apply_updates(
        &mut self,
        grads: &GradStore,
        psi: PsiUpdate,
        rates: LearningRates,
    ) -> Result<(), TrainError> {
        let clip = self.config.clip_norm;
        self.network_optimizer.step(grads, rates.lr, clip)?;
        self.rule_optimizer.step(grads, rates.lr, clip)?;
        match psi {
            PsiUpdate::Frozen => {}
            PsiUpdate::WithNetwork => self.psi_optimizer.step(grads, rates.lr, clip)?,
            PsiUpdate::Own => self.psi_optimizer.step(grads, rates.psi_lr, clip)?,
        }
        Ok(())
    }

    /// Move each branch's centres toward the embeddings of the images its task saw in this
    /// batch (the α-update).
    fn move_centres(&mut self, fwd: &Forward, batch: &TaskBatch) -> Result<(), TrainError> {
        let dim = self.config.preset.embedding_dim();
        let alpha = self.config.centre_alpha as f32;
        for task in Task::ALL {
            if !self.has_centre_term(task) {
                continue;
            }
            let i = task.index();
            let all = fwd.embeddings[i].detach().flatten_all()?.to_vec1::<f32>()?;
            let mut emb = Vec::with_capacity(all.len());
            let mut labels = Vec::with_capacity(batch.size);
            for (row, (&seen, &label)) in batch.masks[i].0.iter().zip(&batch.labels[i]).enumerate()
            {
                if seen > 0.0 {
                    emb.extend_from_slice(&all[row * dim..(row + 1) * dim]);
                    labels.push(label as usize);
                }
            }
            update_centres(&mut self.centres[i], dim, &emb, &labels, alpha);
        }
        Ok(())
    }

    pub fn evaluate(&self) -> Result<EvalReport, TrainError> {
        Ok(eval::evaluate(&self.network, &self.dataset, self.step)?)
    }

    pub fn embed(&self, request: &EmbeddingRequest) -> Result<Embeddings, TrainError> {
        Ok(eval::embed(
            &self.network,
            &self.dataset,
            request,
            self.step,
        )?)
    }

    /// Write parameters and centres as safetensors, atomically (a crash never leaves a
    /// half-written checkpoint).
    pub fn save_checkpoint(&self, path: &Path) -> Result<(), TrainError> {
        let fail = |reason: String| TrainError::Checkpoint {
            path: path.display().to_string(),
            reason,
        };
        let mut tensors = std::collections::HashMap::new();
        for (name, var) in self.network.named_vars()? {
            tensors.insert(name, var.as_tensor().clone());
        }
        let dim = self.config.preset.embedding_dim();
        for task in Task::ALL {
            let centres = &self.centres[task.index()];
            if centres.is_empty() {
                continue;
            }
            tensors.insert(
                centres_name(task),
                Tensor::from_vec(
                    centres.clone(),
                    (centres.len() / dim, dim),
                    &candle_core::Device::Cpu,
                )?,
            );
        }
        let run = CheckpointRun::of(&self.config, self.step, self.network.classes);
        checkpoint::save(path, &tensors, &run).map_err(fail)
    }

    /// The run a checkpoint was written by, refused when it contradicts this run (another
    /// preset, dataset, seed or size: its class ids would be other people).
    pub fn checkpoint_run(&self, path: &Path) -> Result<Option<CheckpointRun>, TrainError> {
        let fail = |reason: String| TrainError::Checkpoint {
            path: path.display().to_string(),
            reason,
        };
        let run = checkpoint::read_run(path).map_err(fail)?;
        if let Some(run) = &run {
            let conflicts = run.conflicts_with(&self.config);
            if !conflicts.is_empty() {
                return Err(fail(format!(
                    "it was written by another run ({})",
                    conflicts.join("; ")
                )));
            }
        }
        Ok(run)
    }

    /// Load parameters (and centres) from a checkpoint of the same preset and class count.
    pub fn load_checkpoint(&mut self, path: &Path) -> Result<(), TrainError> {
        let fail = |reason: String| TrainError::Checkpoint {
            path: path.display().to_string(),
            reason,
        };
        self.checkpoint_run(path)?;
        let tensors = candle_core::safetensors::load(path, &self.network.device)
            .map_err(|e| fail(e.to_string()))?;
        let mut params = Vec::new();
        for (name, var) in self.network.named_vars()? {
            let t = tensors.get(&name).ok_or_else(|| {
                fail(format!(
                    "parameter '{name}' missing (different preset or dataset?)"
                ))
            })?;
            if t.dims() != var.dims() {
                return Err(fail(format!(
                    "parameter '{name}' has shape {:?}, this model needs {:?} (different preset or class count?)",
                    t.dims(),
                    var.dims()
                )));
            }
            params.push((
                name,
                t.dims().to_vec(),
                t.flatten_all()?
                    .to_dtype(candle_core::DType::F32)?
                    .to_vec1::<f32>()?,
            ));
        }
        self.network.import(&params)?;
        for task in Task::ALL {
            let Some(c) = tensors.get(&centres_name(task)) else {
                continue;
            };
            let values = c.flatten_all()?.to_vec1::<f32>()?;
            let centres = &mut self.centres[task.index()];
            if !centres.is_empty() && values.len() == centres.len() {
                *centres = values;
            }
        }
        Ok(())
    }

    /// Continue a run from its checkpoint: its parameters, its step count and its training
    /// time. The optimisers' running averages are not in a checkpoint: they start afresh.
    pub fn continue_from(
        &mut self,
        path: &Path,
        step: u64,
        wall_secs: f64,
    ) -> Result<(), TrainError> {
        self.load_checkpoint(path)?;
        self.step = step;
        self.wall_secs = wall_secs;
        Ok(())
    }

    pub fn snapshot(&self) -> Result<TrainerSnapshot, TrainError> {
        Ok(TrainerSnapshot {
            config: self.config.clone(),
            strategy: self.config.strategy.clone(),
            step: self.step,
            wall_secs: self.wall_secs,
            params: self.network.export()?,
            centres: self.centres.clone(),
            network_optimizer: self.network_optimizer.export()?,
            psi_optimizer: self.psi_optimizer.export()?,
            sampler: self.sampler.clone(),
            perturbations: self.perturbations,
            noise_rng: self.noise_rng.clone(),
        })
    }

    /// Continue from another trainer's snapshot (same preset and dataset). The rule's own
    /// history (DWA's windows, uncertainty's s) starts afresh.
    pub fn restore(&mut self, snapshot: &TrainerSnapshot) -> Result<(), TrainError> {
        let same_tables = snapshot
            .centres
            .iter()
            .zip(&self.centres)
            .all(|(a, b)| a.len() == b.len());
        if snapshot.config.preset != self.config.preset || !same_tables {
            return Err(TrainError::Data(
                "the snapshot comes from a different preset or dataset".into(),
            ));
        }
        self.network.import(&snapshot.params)?;
        self.network_optimizer.import(&snapshot.network_optimizer)?;
        self.psi_optimizer.import(&snapshot.psi_optimizer)?;
        self.centres = snapshot.centres.clone();
        self.sampler = snapshot.sampler.clone();
        self.noise_rng = snapshot.noise_rng.clone();
        self.perturbations = snapshot.perturbations;
        self.step = snapshot.step;
        self.wall_secs = snapshot.wall_secs;
        self.config.rates = snapshot.config.rates;
        self.set_strategy(snapshot.strategy.clone())?;
        Ok(())
    }
}

/// A branch's centres in a checkpoint: `centres.verif` (the only table before every branch could
/// have one), `centres.visual`, `centres.cari`.
fn centres_name(task: Task) -> String {
    format!("centres.{}", task.key())
}

/// One step's forward and backward pass: what the update and the row are made of.
struct Pass {
    fwd: Forward,
    plan: WeightPlan,
    loss_values: [f32; TASKS],
    grads: GradStore,
    lens: Option<LensRow>,
}

/// One batch as the tasks see it.
struct TaskBatch {
    images: Tensor,
    size: usize,
    /// Per task: the label of each image (random under `shuffle-labels`).
    labels: [Vec<u32>; TASKS],
    /// Per task: 1 for the images it sees, 0 otherwise, and how many it sees.
    masks: [(Vec<f32>, usize); TASKS],
}

/// The losses as host numbers; a non-finite one is an error naming the task and step.
fn finite_values(losses: &Tensor, step: u64) -> Result<[f32; TASKS], TrainError> {
    let values = weighting::to_array(losses)?;
    for task in Task::ALL {
        let value = values[task.index()];
        if !value.is_finite() {
            return Err(TrainError::NonFinite {
                step,
                task: task.key(),
                value,
            });
        }
    }
    Ok(values)
}

/// Gradients of Σ w_i·L_i (+ the rule's extra objective): first through the branches to the
/// leaf copy of Z, then from Z through the trunk.
fn backward_split_at_z(
    plan: &WeightPlan,
    losses: &Tensor,
    z_trunk: &Tensor,
    z_leaf: &Var,
) -> Result<GradStore, TrainError> {
    let mut objective = (&plan.network_weights * losses)?.sum_all()?;
    if let Some(extra) = &plan.extra_objective {
        objective = (objective + extra)?;
    }
    let mut grads = objective.backward()?;
    if let Some(grad_z) = grads.get(z_leaf.as_tensor()) {
        let trunk_grads = (z_trunk * grad_z.detach())?.sum_all()?.backward()?;
        grads.extend(trunk_grads)?;
    }
    Ok(grads)
}
