//! The step's backward pass when the tasks' own gradients are wanted (a rule that combines
//! them, GradNorm, or the lens): each branch reads its own copy of Z, so one backward pass of
//! Σ L_i through the branches gives every ∂L_i/∂Z at once; the rule's weights then meet the
//! trunk in a second pass. The result is the same gradient as one backward pass of the whole
//! objective (up to the order of float sums), plus each task's gradient in a space.

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};

use super::super::lens::{GradSpace, LensRow, SpaceVectors};
use super::{Pass, TaskBatch, TrainError, Trainer, finite_values};
use crate::model::{Forward, Mode};
use crate::task::TASKS;
use crate::weighting::gram::Gram;
use crate::weighting::{Needs, WeightInputs, WeightPlan, to_array};

/// What the step must compute besides the update.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Wanted {
    /// The space the rule combines gradients in.
    pub rule_space: Option<GradSpace>,
    /// Each task's ∂L_i/∂Z (GradNorm's norms).
    pub at_z: bool,
    /// The space the lens looks in this step.
    pub lens_space: Option<GradSpace>,
}

impl Wanted {
    pub fn any(&self) -> bool {
        self.rule_space.is_some() || self.at_z || self.lens_space.is_some()
    }

    fn splits_last(&self) -> bool {
        self.rule_space == Some(GradSpace::Last) || self.lens_space == Some(GradSpace::Last)
    }
}

/// The trunk's forward pass, split before its last stage where the `last` space is wanted.
struct TrunkPass {
    z: Tensor,
    /// The last stage's input as the trunk's head computed it, and the leaf the last stage
    /// read it from (a trunk whose last stage keeps running statistics: they must be updated
    /// once only).
    split: Option<(Tensor, Var)>,
    /// The last stage's input, detached, for a trunk whose last stage can simply be run
    /// again: its per-task weight gradients then cost no input gradient.
    head: Option<Tensor>,
    mode: Mode,
}

/// What [`Trainer::branch_pass`] leaves for the rest of the step.
struct BranchPass {
    trunk: TrunkPass,
    /// Ψ's own leaf copy of Z (what reaches it is added to the trunk's gradient at Z).
    z_psi: Var,
    fwd: Forward,
    losses: Tensor,
    loss_values: [f32; TASKS],
    /// The branches' gradients of Σ L_i (each branch's own loss only).
    unit: GradStore,
    /// Each task's ∂L_i/∂Z.
    g_z: [Tensor; TASKS],
}

/// Per-space results computed once per step and shared by the rule and the lens.
#[derive(Default)]
struct Spaces {
    vectors: Vec<(GradSpace, SpaceVectors)>,
    /// Each task's trunk gradients (the `params` space), to combine without another pass.
    trunk_grads: Option<[GradStore; TASKS]>,
}

impl Trainer {
    /// What this step must compute besides the update: the tasks' own gradients for the rule
    /// or the lens.
    pub(super) fn wanted(&self, step: u64) -> Wanted {
        let needs = self.config.strategy.strategy.needs();
        Wanted {
            rule_space: (needs == Needs::TaskGradients).then_some(self.config.grad_space),
            at_z: needs == Needs::GradientsAtZ,
            lens_space: self.config.lens.due(step),
        }
    }

    pub(super) fn taskwise_pass(
        &mut self,
        batch: &TaskBatch,
        mode: Mode,
        step: u64,
        wanted: Wanted,
    ) -> Result<Pass, TrainError> {
        let BranchPass {
            trunk,
            z_psi,
            fwd,
            losses,
            loss_values,
            unit,
            g_z,
        } = self.branch_pass(batch, mode, step, wanted.splits_last())?;
        let mut spaces = Spaces::default();
        let gram = match wanted.rule_space {
            Some(space) => Some(self.rule_gram(space, &g_z, &trunk, &mut spaces)?),
            None => None,
        };
        let plan = self.rule.plan(&WeightInputs {
            z: &fwd.z,
            losses: &losses,
            loss_values,
            psi: &self.network.psi,
            step,
            weights_reach_trunk: self.config.weights_reach_trunk,
            task_gram: gram.as_ref(),
            task_grads_at_z: wanted.at_z.then_some(&g_z),
        })?;
        let psi_grads = psi_side_grads(&plan, &losses)?;
        let trunk_weights = to_array(&plan.network_weights)?;
        let mut grad_z = weighted_sum(&g_z, trunk_weights)?;
        let psi_path = psi_grads.as_ref().and_then(|g| g.get(z_psi.as_tensor()));
        if let Some(extra) = psi_path {
            grad_z = (grad_z + extra)?;
        }
        let mut grads = match spaces.trunk_grads.take() {
            // The rule's gradients are the trunk's own: combine them, no further pass.
            Some(per_task) if psi_path.is_none() => self.combine_trunk(&per_task, trunk_weights)?,
            _ => self.trunk_backward(&trunk, &grad_z, true)?,
        };
        let update_z = grad_z;
        self.add_branch_grads(
            &mut grads,
            &unit,
            plan.branch_weights.unwrap_or(trunk_weights),
        )?;
        if let Some(psi) = psi_grads {
            for var in self.psi_and_rule_vars() {
                if let Some(g) = psi.get(var.as_tensor()) {
                    grads.insert(var.as_tensor(), g.clone());
                }
            }
        }
        let lens = match wanted.lens_space {
            Some(space) => self.lens_row(space, &g_z, &trunk, &mut spaces, &update_z, &grads)?,
            None => None,
        };
        Ok(Pass {
            fwd,
            plan,
            loss_values,
            grads,
            lens,
        })
    }

    /// The trunk's forward pass, each branch on its own copy of Z, and one backward pass of
    /// Σ L_i through the branches: copy i's gradient is ∂L_i/∂Z.
    fn branch_pass(
        &self,
        batch: &TaskBatch,
        mode: Mode,
        step: u64,
        split_last: bool,
    ) -> Result<BranchPass, TrainError> {
        let trunk = self.trunk_forward(&batch.images, mode, split_last)?;
        let z_detached = trunk.z.detach();
        let copies: [Var; TASKS] = [
            Var::from_tensor(&z_detached)?,
            Var::from_tensor(&z_detached)?,
            Var::from_tensor(&z_detached)?,
        ];
        let z_psi = Var::from_tensor(&z_detached)?;
        let inputs = copies.each_ref().map(|v| v.as_tensor().clone());
        let fwd = self
            .network
            .branches_forward_each(&inputs, z_psi.as_tensor().clone(), mode)?;
        let losses = self.task_losses(&fwd, batch)?;
        let loss_values = finite_values(&losses, step)?;
        // Branch i reads only copy i, so copy i's gradient is ∂L_i/∂Z.
        let unit = losses.sum_all()?.backward()?;
        let g_z = copies
            .each_ref()
            .map(|copy| unit.get(copy.as_tensor()).cloned());
        let g_z: [Tensor; TASKS] = match g_z {
            [Some(a), Some(b), Some(c)] => [a, b, c],
            _ => [
                z_detached.zeros_like()?,
                z_detached.zeros_like()?,
                z_detached.zeros_like()?,
            ],
        };
        Ok(BranchPass {
            trunk,
            z_psi,
            fwd,
            losses,
            loss_values,
            unit,
            g_z,
        })
    }

    fn trunk_forward(
        &self,
        images: &Tensor,
        mode: Mode,
        split: bool,
    ) -> Result<TrunkPass, TrainError> {
        let trunk = &self.network.trunk;
        if !split {
            return Ok(TrunkPass {
                z: trunk.forward(images, mode)?,
                split: None,
                head: None,
                mode,
            });
        }
        let head = trunk.forward_head(images, mode)?;
        if trunk.last_stage_runs_again() {
            let z = trunk.forward_last(&head, mode)?;
            return Ok(TrunkPass {
                z,
                split: None,
                head: Some(head.detach()),
                mode,
            });
        }
        let leaf = Var::from_tensor(&head.detach())?;
        let z = trunk.forward_last(leaf.as_tensor(), mode)?;
        Ok(TrunkPass {
            z,
            split: Some((head, leaf)),
            head: None,
            mode,
        })
    }

    /// The trunk's gradients for `grad_z` arriving at Z: through the last stage, and on
    /// through the head unless `whole` is false (then the head's parameters get nothing).
    fn trunk_backward(
        &self,
        trunk: &TrunkPass,
        grad_z: &Tensor,
        whole: bool,
    ) -> Result<GradStore, TrainError> {
        let mut grads = (&trunk.z * grad_z.detach())?.sum_all()?.backward()?;
        if let (true, Some((head, leaf))) = (whole, &trunk.split)
            && let Some(grad_head) = grads.remove(leaf.as_tensor())
        {
            let head_grads = (head * grad_head)?.sum_all()?.backward()?;
            grads.extend(head_grads)?;
        }
        Ok(grads)
    }

    /// Σ_i w_i · (task i's trunk gradients).
    fn combine_trunk(
        &self,
        per_task: &[GradStore; TASKS],
        weights: [f32; TASKS],
    ) -> Result<GradStore, TrainError> {
        let mut grads = GradStore::default();
        for (_, var) in self.network.trunk_vars()? {
            let mut total: Option<Tensor> = None;
            for (task, store) in per_task.iter().enumerate() {
                if let Some(g) = store.get(var.as_tensor()) {
                    let part = (g * f64::from(weights[task]))?;
                    total = Some(match total {
                        Some(t) => (t + part)?,
                        None => part,
                    });
                }
            }
            if let Some(total) = total {
                grads.insert(var.as_tensor(), total);
            }
        }
        Ok(grads)
    }

    /// Each branch's gradient of its own loss, scaled by its weight.
    fn add_branch_grads(
        &self,
        grads: &mut GradStore,
        unit: &GradStore,
        weights: [f32; TASKS],
    ) -> Result<(), TrainError> {
        for (task, weight) in weights.iter().enumerate() {
            for (_, var) in self.network.branch_vars(task)? {
                if let Some(g) = unit.get(var.as_tensor()) {
                    grads.insert(var.as_tensor(), (g * f64::from(*weight))?);
                }
            }
        }
        Ok(())
    }

    fn psi_and_rule_vars(&self) -> Vec<Var> {
        let mut vars = self.network.psi.vars();
        vars.extend(self.rule.trainable_vars());
        vars
    }

    /// The Gram matrix of the tasks' gradients in `space`, for the rule.
    fn rule_gram(
        &self,
        space: GradSpace,
        g_z: &[Tensor; TASKS],
        trunk: &TrunkPass,
        spaces: &mut Spaces,
    ) -> Result<Gram, TrainError> {
        let k = self.space_vectors(space, g_z, trunk, spaces)?.task_gram();
        let rows: Vec<Vec<f64>> = k.iter().map(|r| r.to_vec()).collect();
        Gram::from_matrix(&rows).map_err(|e| {
            TrainError::Candle(candle_core::Error::Msg(format!(
                "the tasks' gradients in the {} space: {e}",
                space.key()
            )))
        })
    }

    /// Each task's gradient in `space` as host vectors (computed once per step).
    fn space_vectors<'s>(
        &self,
        space: GradSpace,
        g_z: &[Tensor; TASKS],
        trunk: &TrunkPass,
        spaces: &'s mut Spaces,
    ) -> Result<&'s SpaceVectors, TrainError> {
        if let Some(i) = spaces.vectors.iter().position(|(s, _)| *s == space) {
            return Ok(&spaces.vectors[i].1);
        }
        let tasks: [Vec<f32>; TASKS] = match space {
            GradSpace::Z => [host(&g_z[0])?, host(&g_z[1])?, host(&g_z[2])?],
            GradSpace::Last => {
                let vars = self.network.last_stage_vars()?;
                // The last stage run again on its detached input, so each task's backward
                // pass computes its weight gradients only; or, for a stage that must run once,
                // back through it to the leaf it read.
                let again = match &trunk.head {
                    Some(head) => Some(self.network.trunk.forward_last(head, trunk.mode)?),
                    None => None,
                };
                let mut out: [Vec<f32>; TASKS] = Default::default();
                for (task, g) in g_z.iter().enumerate() {
                    let grads = match &again {
                        Some(z) => (z * g.detach())?.sum_all()?.backward()?,
                        None => self.trunk_backward(trunk, g, false)?,
                    };
                    out[task] = flatten(&grads, &vars)?;
                }
                out
            }
            GradSpace::Params => {
                let vars = self.network.trunk_vars()?;
                let stores = [
                    self.trunk_backward(trunk, &g_z[0], true)?,
                    self.trunk_backward(trunk, &g_z[1], true)?,
                    self.trunk_backward(trunk, &g_z[2], true)?,
                ];
                let out = [
                    flatten(&stores[0], &vars)?,
                    flatten(&stores[1], &vars)?,
                    flatten(&stores[2], &vars)?,
                ];
                spaces.trunk_grads = Some(stores);
                out
            }
        };
        spaces.vectors.push((
            space,
            SpaceVectors {
                tasks,
                update: None,
            },
        ));
        Ok(&spaces.vectors[spaces.vectors.len() - 1].1)
    }

    /// The lens in `space`: the tasks' gradients and the update's (`update_z` at Z, `grads`
    /// on the parameters).
    fn lens_row(
        &self,
        space: GradSpace,
        g_z: &[Tensor; TASKS],
        trunk: &TrunkPass,
        spaces: &mut Spaces,
        update_z: &Tensor,
        grads: &GradStore,
    ) -> Result<Option<LensRow>, TrainError> {
        let update = match space {
            GradSpace::Z => host(update_z)?,
            GradSpace::Last => flatten(grads, &self.network.last_stage_vars()?)?,
            GradSpace::Params => flatten(grads, &self.network.trunk_vars()?)?,
        };
        let tasks = &self.space_vectors(space, g_z, trunk, spaces)?.tasks;
        let vectors = SpaceVectors {
            tasks: tasks.clone(),
            update: Some(update),
        };
        Ok(vectors.lens_row())
    }
}

/// Gradients of Σ w_i·L_i with the losses held constant, plus the rule's extra objective:
/// what reaches Ψ, the rule's own parameters and (where w reaches the trunk) Z. `None` when
/// the weights are constants and there is no extra objective.
fn psi_side_grads(plan: &WeightPlan, losses: &Tensor) -> Result<Option<GradStore>, TrainError> {
    if !plan.network_weights.track_op() && plan.extra_objective.is_none() {
        return Ok(None);
    }
    let mut objective = (&plan.network_weights * losses.detach())?.sum_all()?;
    if let Some(extra) = &plan.extra_objective {
        objective = (objective + extra)?;
    }
    Ok(Some(objective.backward()?))
}

/// Σ_i w_i·t_i.
fn weighted_sum(tensors: &[Tensor; TASKS], weights: [f32; TASKS]) -> Result<Tensor, TrainError> {
    let mut total = (&tensors[0] * f64::from(weights[0]))?;
    for (t, w) in tensors.iter().zip(weights).skip(1) {
        total = (total + (t * f64::from(w))?)?;
    }
    Ok(total)
}

/// A tensor's values on the host, flattened.
fn host(t: &Tensor) -> Result<Vec<f32>, TrainError> {
    Ok(t.flatten_all()?
        .to_dtype(candle_core::DType::F32)?
        .to_vec1::<f32>()?)
}

/// The gradients of `vars` (in their order) concatenated; a var without one counts as zeros.
fn flatten(grads: &GradStore, vars: &[(String, Var)]) -> Result<Vec<f32>, TrainError> {
    let mut out = Vec::new();
    for (_, var) in vars {
        match grads.get(var.as_tensor()) {
            Some(g) => out.extend(host(g)?),
            None => out.extend(std::iter::repeat_n(0.0, var.elem_count())),
        }
    }
    Ok(out)
}

/// The lens's pieces on one batch, for its tests against plain autograd.
#[cfg(test)]
impl Trainer {
    pub(super) fn lens_vectors_for_test(
        &self,
        batch: &TaskBatch,
        mode: Mode,
        space: GradSpace,
    ) -> Result<[Vec<f32>; TASKS], TrainError> {
        let pass = self.branch_pass(batch, mode, 1, space == GradSpace::Last)?;
        let mut spaces = Spaces::default();
        let vectors = self.space_vectors(space, &pass.g_z, &pass.trunk, &mut spaces)?;
        Ok(vectors.tasks.clone())
    }

    /// The gradient the step's update takes in `space` (`last` or `params`).
    pub(super) fn update_vector_for_test(
        &mut self,
        batch: &TaskBatch,
        mode: Mode,
        wanted: Wanted,
        space: GradSpace,
    ) -> Result<Vec<f32>, TrainError> {
        let pass = self.taskwise_pass(batch, mode, 1, wanted)?;
        let vars = match space {
            GradSpace::Last => self.network.last_stage_vars()?,
            _ => self.network.trunk_vars()?,
        };
        flatten(&pass.grads, &vars)
    }
}
