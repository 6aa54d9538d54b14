//! Optimisers over candle `Var`s with their state as tensors: RMSProp with momentum (TF1
//! semantics, as the authors used; the formula is on `OptimizerKind::RmsProp`) and SGD with
//! heavy-ball momentum. candle-nn's SGD has no
//! momentum and it has no RMSProp.

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};

use super::config::OptimizerKind;

pub struct Optimizer {
    kind: OptimizerKind,
    vars: Vec<Var>,
    /// RMSProp's running mean of g² per var (empty for SGD).
    mean_square: Vec<Tensor>,
    /// Momentum buffer per var (empty when momentum is 0).
    velocity: Vec<Tensor>,
}

/// One tensor per var, every element `value` (RMSProp's mean square starts at 0 or, as in TF1, 1).
fn filled(vars: &[Var], value: f64) -> Result<Vec<Tensor>> {
    vars.iter()
        .map(|v| v.as_tensor().zeros_like()?.affine(1.0, value))
        .collect()
}

impl Optimizer {
    pub fn new(kind: OptimizerKind, vars: Vec<Var>) -> Result<Optimizer> {
        let zeros = |vars: &[Var]| -> Result<Vec<Tensor>> {
            vars.iter().map(|v| v.as_tensor().zeros_like()).collect()
        };
        let (mean_square, velocity) = match kind {
            OptimizerKind::RmsProp {
                momentum,
                initial_mean_square,
                ..
            } => (
                filled(&vars, initial_mean_square)?,
                if momentum > 0.0 {
                    zeros(&vars)?
                } else {
                    Vec::new()
                },
            ),
            OptimizerKind::Sgd { momentum } => (
                Vec::new(),
                if momentum > 0.0 {
                    zeros(&vars)?
                } else {
                    Vec::new()
                },
            ),
        };
        Ok(Optimizer {
            kind,
            vars,
            mean_square,
            velocity,
        })
    }

    pub fn vars(&self) -> &[Var] {
        &self.vars
    }

    /// Global L2 norm of this optimiser's gradients.
    pub fn grad_norm(&self, grads: &GradStore) -> Result<f64> {
        let mut sum = 0f64;
        for var in &self.vars {
            if let Some(g) = grads.get(var.as_tensor()) {
                sum += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
            }
        }
        Ok(sum.sqrt())
    }

    /// One update at learning rate `lr`, gradients scaled so their global norm is at most
    /// `clip_norm` (0 = no clipping). Vars without a gradient are left alone.
    pub fn step(&mut self, grads: &GradStore, lr: f64, clip_norm: f64) -> Result<()> {
        let mut factor = 1.0;
        if clip_norm > 0.0 {
            let norm = self.grad_norm(grads)?;
            if norm > clip_norm {
                factor = clip_norm / norm;
            }
        }
        for (i, var) in self.vars.iter().enumerate() {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            let g = if factor != 1.0 {
                (g * factor)?
            } else {
                g.clone()
            };
            let update = match self.kind {
                OptimizerKind::RmsProp { decay, eps, .. } => {
                    let ms = ((&self.mean_square[i] * decay)? + (g.sqr()? * (1.0 - decay))?)?;
                    let update = ((g * lr)? / (&ms + eps)?.sqrt()?)?;
                    self.mean_square[i] = ms;
                    update
                }
                OptimizerKind::Sgd { .. } => (g * lr)?,
            };
            let momentum = match self.kind {
                OptimizerKind::RmsProp { momentum, .. } | OptimizerKind::Sgd { momentum } => {
                    momentum
                }
            };
            let update = if momentum > 0.0 {
                let v = ((&self.velocity[i] * momentum)? + update)?;
                self.velocity[i] = v.clone();
                v
            } else {
                update
            };
            var.set(&(var.as_tensor() - update)?)?;
        }
        Ok(())
    }

    /// State as host vectors (mean squares, then velocities), for snapshots.
    pub fn export(&self) -> Result<Vec<Vec<f32>>> {
        self.mean_square
            .iter()
            .chain(self.velocity.iter())
            .map(|t| t.flatten_all()?.to_vec1::<f32>())
            .collect()
    }

    /// Restore state written by `export` on an optimiser over the same vars.
    pub fn import(&mut self, state: &[Vec<f32>]) -> Result<()> {
        let slots = self.mean_square.len() + self.velocity.len();
        if state.len() != slots {
            return Err(candle_core::Error::Msg(format!(
                "optimiser state has {} buffers, expected {slots}",
                state.len()
            )));
        }
        let ms_len = self.mean_square.len();
        for (k, values) in state.iter().enumerate() {
            let var = &self.vars[k % self.vars.len().max(1)];
            let t = Tensor::from_vec(values.clone(), var.dims(), var.device())?;
            if k < ms_len {
                self.mean_square[k] = t;
            } else {
                self.velocity[k - ms_len] = t;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn rmsprop_with_momentum_matches_hand_computation() {
        // Minimise f(x) = x² from x = 1 with lr 0.1, ρ = 0.9, μ = 0.5, ε = 1e-6 (TF semantics):
        // step 1: g = 2, ms = 0.1·4 = 0.4, u = 0.1·2/√(0.400001) = 0.316227, v = u, x = 0.683773
        // step 2: g = 1.367545, ms = 0.36 + 0.1·1.870180 = 0.547018,
        //         u = 0.1367545/√0.547019 = 0.184901, v = 0.5·0.316227 + 0.184901 = 0.343015,
        //         x = 0.340758
        let x = Var::new(&[1f32], &Device::Cpu).unwrap();
        let mut opt = Optimizer::new(
            OptimizerKind::RmsProp {
                decay: 0.9,
                momentum: 0.5,
                eps: 1e-6,
                initial_mean_square: 0.0,
            },
            vec![x.clone()],
        )
        .unwrap();
        let mut values = Vec::new();
        for _ in 0..2 {
            let loss = x.as_tensor().sqr().unwrap().sum_all().unwrap();
            let grads = loss.backward().unwrap();
            opt.step(&grads, 0.1, 0.0).unwrap();
            values.push(x.as_tensor().to_vec1::<f32>().unwrap()[0]);
        }
        assert!((values[0] - 0.683_773).abs() < 1e-5, "{values:?}");
        assert!((values[1] - 0.340_758).abs() < 1e-5, "{values:?}");
    }

    /// `steps` updates of f(x) = x² from x = 1 at learning rate `lr`; x after each.
    fn minimise_square(kind: OptimizerKind, lr: f64, steps: usize) -> Vec<f32> {
        let x = Var::new(&[1f32], &Device::Cpu).unwrap();
        let mut opt = Optimizer::new(kind, vec![x.clone()]).unwrap();
        (0..steps)
            .map(|_| {
                let loss = x.as_tensor().sqr().unwrap().sum_all().unwrap();
                opt.step(&loss.backward().unwrap(), lr, 0.0).unwrap();
                x.as_tensor().to_vec1::<f32>().unwrap()[0]
            })
            .collect()
    }

    #[test]
    fn tf1_rmsprop_as_the_authors_built_it_matches_hand_computation() {
        // TF1 RMSPropOptimizer(lr 0.1, decay 0.9, momentum 0.9, epsilon 1.0): ms starts at 1,
        // mom at 0; f(x) = x² from x = 1.
        // step 1: g = 2, ms = 0.9·1 + 0.1·4 = 1.3, mom = 0.1·2/√(1.3 + 1) = 0.131876,
        //         x = 0.868124
        // step 2: g = 1.736248, ms = 0.9·1.3 + 0.1·3.014557 = 1.471456,
        //         mom = 0.9·0.131876 + 0.1·1.736248/√2.471456 = 0.118688 + 0.110443 = 0.229131,
        //         x = 0.638993
        // (python3: the same three lines in a loop give 0.8681239, 0.6389932, 0.3517479.)
        let values = minimise_square(OptimizerKind::TF_RMSPROP_AUTHORS, 0.1, 3);
        for (got, want) in values.iter().zip([0.868_124, 0.638_993, 0.351_748]) {
            assert!((got - want).abs() < 1e-5, "{values:?}");
        }
        // With the mean square starting at 0 instead, step 1 is 0.1·2/√(0.4 + 1) = 0.169031:
        // the accumulator's start is what TF1 adds, and it matters.
        let from_zero = minimise_square(
            OptimizerKind::RmsProp {
                decay: 0.9,
                momentum: 0.9,
                eps: 1.0,
                initial_mean_square: 0.0,
            },
            0.1,
            1,
        );
        assert!((from_zero[0] - 0.830_969).abs() < 1e-5, "{from_zero:?}");
    }

    #[test]
    fn clipping_caps_the_global_norm() {
        // SGD lr 1 on f = 3a + 4b: gradient (3, 4), norm 5; clip to 1 → step (0.6, 0.8).
        let dev = Device::Cpu;
        let a = Var::new(&[0f32], &dev).unwrap();
        let b = Var::new(&[0f32], &dev).unwrap();
        let mut opt = Optimizer::new(
            OptimizerKind::Sgd { momentum: 0.0 },
            vec![a.clone(), b.clone()],
        )
        .unwrap();
        let f = ((a.as_tensor() * 3.0).unwrap() + (b.as_tensor() * 4.0).unwrap())
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = f.backward().unwrap();
        assert!((opt.grad_norm(&grads).unwrap() - 5.0).abs() < 1e-6);
        opt.step(&grads, 1.0, 1.0).unwrap();
        assert!((a.as_tensor().to_vec1::<f32>().unwrap()[0] + 0.6).abs() < 1e-6);
        assert!((b.as_tensor().to_vec1::<f32>().unwrap()[0] + 0.8).abs() < 1e-6);
    }
}
