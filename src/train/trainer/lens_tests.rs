//! The lens's per-task gradients against candle's autograd run the plain way: for each task
//! alone, one forward pass of the whole network and one backward pass of that task's loss.
//! The lens takes another route (a copy of Z per branch, one backward pass of Σ L_i through
//! the branches, then the trunk once per task, or the last stage run again on its detached
//! input), so agreement to 1e-5 says the route is right, not that one code path equals itself.

use candle_core::{Device, Tensor, Var};

use super::super::config::TrainConfig;
use super::super::lens::GradSpace;
use super::taskwise::Wanted;
use super::test_data::small_synthetic;
use super::{TaskBatch, Trainer};
use crate::model::{Mode, Preset};
use crate::task::TASKS;
use crate::weighting::{RuleSettings, Strategy, StrategyConfig};

const MODE: Mode = Mode::Train { step: 1 };

fn trainer(preset: Preset, batch_size: usize, config: TrainConfig) -> (Trainer, TaskBatch) {
    let data = small_synthetic(preset);
    let config = TrainConfig {
        seed: 3,
        preset,
        batch_size,
        ..config
    };
    let mut t = Trainer::new(config, data, &Device::Cpu).unwrap();
    let batch = t.next_batch().unwrap();
    (t, batch)
}

/// Each task's gradient in `space` by the lens's route.
fn by_the_lens(t: &Trainer, batch: &TaskBatch, space: GradSpace) -> [Vec<f32>; TASKS] {
    t.lens_vectors_for_test(batch, MODE, space).unwrap()
}

/// Each task's gradient in `space`, one plain backward pass of that task's loss alone.
fn by_autograd(t: &Trainer, batch: &TaskBatch, space: GradSpace) -> [Vec<f32>; TASKS] {
    let net = t.network();
    if space == GradSpace::Z {
        let z = net.trunk.forward(&batch.images, MODE).unwrap();
        let leaf = Var::from_tensor(&z.detach()).unwrap();
        let fwd = net
            .branches_forward(leaf.as_tensor().clone(), MODE)
            .unwrap();
        let losses = t.task_losses(&fwd, batch).unwrap();
        return std::array::from_fn(|i| {
            let grads = losses.get(i).unwrap().backward().unwrap();
            values(grads.get(leaf.as_tensor()).unwrap())
        });
    }
    let vars = match space {
        GradSpace::Last => net.last_stage_vars().unwrap(),
        _ => net.trunk_vars().unwrap(),
    };
    let fwd = net.forward(&batch.images, MODE).unwrap();
    let losses = t.task_losses(&fwd, batch).unwrap();
    std::array::from_fn(|i| {
        let grads = losses.get(i).unwrap().backward().unwrap();
        vars.iter()
            .flat_map(|(name, var)| match grads.get(var.as_tensor()) {
                Some(g) => values(g),
                None => panic!("task {i} left no gradient on {name}"),
            })
            .collect()
    })
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

/// ‖a − b‖ / ‖b‖.
fn relative_gap(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let diff: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum();
    let norm: f64 = b.iter().map(|y| f64::from(*y).powi(2)).sum();
    (diff / norm).sqrt()
}

fn assert_lens_matches_autograd(preset: Preset, batch_size: usize, spaces: &[GradSpace]) {
    let (t, batch) = trainer(preset, batch_size, TrainConfig::default());
    for &space in spaces {
        let lens = by_the_lens(&t, &batch, space);
        let reference = by_autograd(&t, &batch, space);
        for task in 0..TASKS {
            let gap = relative_gap(&lens[task], &reference[task]);
            assert!(
                gap <= 1e-5,
                "{preset:?}, {} space, task {task}: the lens is {gap:e} away from autograd",
                space.key()
            );
            assert!(
                reference[task].iter().any(|v| *v != 0.0),
                "task {task}: zero"
            );
        }
    }
}

#[test]
fn the_lens_gradients_equal_each_tasks_own_backward_pass_in_every_space_tiny() {
    assert_lens_matches_autograd(
        Preset::Tiny,
        16,
        &[GradSpace::Z, GradSpace::Last, GradSpace::Params],
    );
}

/// The paper trunk's last stage keeps running statistics, so the `last` space backs through
/// it from a leaf instead of running it again: the other route, checked the same way.
#[test]
fn the_lens_gradients_equal_each_tasks_own_backward_pass_paper_trunk() {
    assert_lens_matches_autograd(Preset::Paper, 4, &[GradSpace::Last, GradSpace::Params]);
}

/// With constant weights and no centre term, the update's trunk gradient is Σ w_i g_i (the
/// rule's weights over each task's own gradient), in the spaces the update's gradients cover.
#[test]
fn with_constant_weights_the_update_is_the_weighted_sum_of_the_tasks_gradients() {
    let weights = [0.5f32, 0.3, 0.2];
    let config = TrainConfig {
        strategy: StrategyConfig {
            strategy: Strategy::STATIC,
            settings: RuleSettings {
                static_weights: weights,
                ..RuleSettings::default()
            },
        },
        centre_loss_factor: 0.0,
        ..TrainConfig::default()
    };
    let (mut t, batch) = trainer(Preset::Tiny, 16, config);
    for space in [GradSpace::Last, GradSpace::Params] {
        let reference = by_autograd(&t, &batch, space);
        let expected: Vec<f32> = (0..reference[0].len())
            .map(|k| (0..TASKS).map(|i| weights[i] * reference[i][k]).sum())
            .collect();
        let wanted = Wanted {
            lens_space: Some(space),
            ..Wanted::default()
        };
        let update = t
            .update_vector_for_test(&batch, MODE, wanted, space)
            .unwrap();
        let gap = relative_gap(&update, &expected);
        assert!(
            gap <= 1e-5,
            "{} space: d is {gap:e} from Σ w_i g_i",
            space.key()
        );
    }
}
