//! Engine tests: the weight module's gradients, one step of each rule, determinism, and an
//! end-to-end `cari-mtl train` run.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is the failure report

use candle_core::{DType, Device, Tensor, Var};
use cari_mtl::data::synthetic::SyntheticConfig;
use cari_mtl::model::psi::{Psi, PsiWiring};
use cari_mtl::train::config::{OptimizerKind, TrainConfig};
use cari_mtl::train::optim::Optimizer;
use cari_mtl::train::trainer::Trainer;
use cari_mtl::weighting::{Strategy, StrategyConfig};
use std::sync::Arc;

const PLAIN: PsiWiring = PsiWiring {
    normalise_input: false,
    detach_input: false,
    detach_params: false,
};

fn psi(weight: &[&[f32]], bias: &[f32]) -> Psi {
    let dev = Device::Cpu;
    let rows = weight.len();
    let cols = weight[0].len();
    let flat: Vec<f32> = weight.iter().flat_map(|r| r.iter().copied()).collect();
    Psi {
        weight: Var::from_tensor(&Tensor::from_vec(flat, (rows, cols), &dev).unwrap()).unwrap(),
        bias: Var::from_tensor(&Tensor::new(bias, &dev).unwrap()).unwrap(),
    }
}

/// L4 = Σ w_i/(L_i + 0.01) as a function of Ψ.
fn l4(psi: &Psi, z: &Tensor, losses: &[f32], scale: f32) -> Tensor {
    let w = psi.weights(z, scale, PLAIN).unwrap();
    let inv = Tensor::new(losses, z.device())
        .unwrap()
        .affine(1.0, 0.01)
        .unwrap()
        .recip()
        .unwrap();
    (w * inv).unwrap().sum_all().unwrap()
}

#[test]
fn l4_gradient_matches_finite_differences_and_eq8() {
    // Fixed inputs: Z (two samples, 4-d, non-negative like a ReLU trunk), Ψ, losses.
    let dev = Device::Cpu;
    let z = Tensor::new(&[[0.5f32, 1.0, 0.0, 2.0], [1.5, 0.2, 0.7, 0.1]], &dev).unwrap();
    let p = psi(
        &[
            &[0.1, -0.2, 0.3, 0.05],
            &[-0.1, 0.2, 0.1, -0.3],
            &[0.2, 0.1, -0.2, 0.1],
        ],
        &[0.0, 0.1, -0.1],
    );
    let losses = [2.0f32, 1.0, 3.0];
    let scale = 1.0;
    let grads = l4(&p, &z, &losses, scale).backward().unwrap();
    let g = grads
        .get(p.weight.as_tensor())
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();

    // Finite differences (central, f64 steps on an f32 graph: h = 1e-2 keeps rounding small).
    let base = p.weight.as_tensor().to_vec2::<f32>().unwrap();
    let h = 1e-2f32;
    for i in 0..3 {
        for k in 0..4 {
            let mut plus = base.clone();
            plus[i][k] += h;
            let mut minus = base.clone();
            minus[i][k] -= h;
            let value = |w: &Vec<Vec<f32>>| {
                let rows: Vec<&[f32]> = w.iter().map(|r| r.as_slice()).collect();
                let q = psi(&rows, &[0.0, 0.1, -0.1]);
                l4(&q, &z, &losses, scale).to_scalar::<f32>().unwrap()
            };
            let fd = (value(&plus) - value(&minus)) / (2.0 * h);
            assert!(
                (fd - g[i][k]).abs() < 2e-3,
                "dL4/dψ[{i}][{k}]: autograd {} vs fd {fd}",
                g[i][k]
            );
        }
    }

    // Eq. (8) for one sample and an unnormalised softmax (scale-free logits ψ·Z + b):
    // ∂L4/∂ψ_i = Σ_j c_j ∂w_j/∂ψ_i = w_i (c_i − Σ_j w_j c_j) Z, with c_j = 1/(L_j + 0.01).
    // The paper prints only the j = i term, c_i·w_i(1 − w_i)·Z = (1/L_i)·a_i Σ_{j≠i} a_j/(Σ a)²·Z;
    // the cross terms it drops are −c_j w_j w_i Z (j ≠ i). Both are checked against autograd.
    let z1 = Tensor::new(&[[0.5f32, 1.0, 0.0, 2.0]], &dev).unwrap();
    let w_raw = p.weight.as_tensor();
    let logits = z1
        .matmul(&w_raw.t().unwrap())
        .unwrap()
        .broadcast_add(p.bias.as_tensor())
        .unwrap();
    let w = candle_nn::ops::softmax(&logits, 1)
        .unwrap()
        .squeeze(0)
        .unwrap();
    let c: Vec<f32> = losses.iter().map(|l| 1.0 / (l + 0.01)).collect();
    let objective = (w.clone() * Tensor::new(c.as_slice(), &dev).unwrap())
        .unwrap()
        .sum_all()
        .unwrap();
    let g = objective
        .backward()
        .unwrap()
        .get(w_raw)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let wv = w.to_vec1::<f32>().unwrap();
    let zv = [0.5f32, 1.0, 0.0, 2.0];
    let mean_c: f32 = (0..3).map(|j| wv[j] * c[j]).sum();
    for i in 0..3 {
        let eq8_term = c[i] * wv[i] * (1.0 - wv[i]);
        let cross: f32 = (0..3)
            .filter(|&j| j != i)
            .map(|j| -c[j] * wv[j] * wv[i])
            .sum();
        for k in 0..4 {
            let full = wv[i] * (c[i] - mean_c) * zv[k];
            assert!(
                (full - g[i][k]).abs() < 1e-5,
                "closed form vs autograd at [{i}][{k}]"
            );
            assert!(
                ((eq8_term + cross) * zv[k] - g[i][k]).abs() < 1e-5,
                "eq. (8) + cross terms at [{i}][{k}]"
            );
        }
    }
}

/// One SGD step of Ψ on `objective(w, losses)` for two tasks; returns w_1 before and after.
fn one_psi_step(proposed: bool) -> (f32, f32) {
    let dev = Device::Cpu;
    let p = psi(&[&[0.05, -0.02], &[0.01, 0.03]], &[0.0, 0.0]);
    let z = Tensor::new(&[[1.0f32, 0.5], [0.3, 1.2]], &dev).unwrap();
    let losses = Tensor::new(&[2.0f32, 1.0], &dev).unwrap(); // L1 > L2
    let weights = |p: &Psi| p.weights(&z, 1.0, PLAIN).unwrap();
    let before = weights(&p).to_vec1::<f32>().unwrap()[0];
    let w = weights(&p);
    let objective = if proposed {
        (w * losses.affine(1.0, 0.01).unwrap().recip().unwrap())
            .unwrap()
            .sum_all()
            .unwrap()
    } else {
        (w * &losses).unwrap().sum_all().unwrap()
    };
    let mut opt = Optimizer::new(OptimizerKind::Sgd { momentum: 0.0 }, p.vars()).unwrap();
    opt.step(&objective.backward().unwrap(), 0.5, 0.0).unwrap();
    (before, weights(&p).to_vec1::<f32>().unwrap()[0])
}

#[test]
fn proposed_step_raises_the_harder_tasks_weight_and_naive_lowers_it() {
    let (before, after) = one_psi_step(true);
    assert!(after > before, "proposed: w1 {before} → {after}");
    let (before, after) = one_psi_step(false);
    assert!(after < before, "naive: w1 {before} → {after}");
}

fn tiny_dataset(seed: u64) -> Arc<cari_mtl::data::Dataset> {
    let config = SyntheticConfig {
        seed,
        train_identities: 10,
        open_identities: 4,
        photos_per_identity: 5,
        caricatures_per_identity: 5,
        test_per_modality: 1,
        image_size: 32,
    };
    Arc::new(cari_mtl::data::synthetic::generate(&config, &|_| {}).unwrap())
}

#[test]
fn trainer_is_deterministic_and_runs_start_from_identical_parameters() {
    let data = tiny_dataset(3);
    let dev = Device::Cpu;
    let config = TrainConfig {
        seed: 3,
        batch_size: 16,
        ..TrainConfig::default()
    };
    let mut a = Trainer::new(config.clone(), data.clone(), &dev).unwrap();
    let mut b = Trainer::new(config.clone(), data.clone(), &dev).unwrap();
    assert_eq!(a.network().export().unwrap(), b.network().export().unwrap());
    // A naive run from the same seed starts from the same parameters too (runs A and B).
    let mut naive = config.clone();
    naive.strategy = StrategyConfig::new(Strategy::NAIVE);
    let c = Trainer::new(naive, data.clone(), &dev).unwrap();
    assert_eq!(a.network().export().unwrap(), c.network().export().unwrap());
    for _ in 0..4 {
        let (ra, rb) = (a.step().unwrap(), b.step().unwrap());
        assert_eq!(ra.losses, rb.losses);
        assert_eq!(ra.weights, rb.weights);
    }
    assert_eq!(a.network().export().unwrap(), b.network().export().unwrap());
    // Another seed gives other numbers.
    let other = TrainConfig { seed: 4, ..config };
    let mut d = Trainer::new(other, data, &dev).unwrap();
    assert_ne!(
        d.step().unwrap().losses,
        Trainer::new(
            TrainConfig {
                seed: 3,
                batch_size: 16,
                ..TrainConfig::default()
            },
            tiny_dataset(3),
            &dev
        )
        .unwrap()
        .step()
        .unwrap()
        .losses
    );
}

#[test]
fn strategy_switch_and_snapshot_restore_continue_identically() {
    let data = tiny_dataset(5);
    let dev = Device::Cpu;
    let config = TrainConfig {
        seed: 5,
        batch_size: 16,
        ..TrainConfig::default()
    };
    let mut a = Trainer::new(config.clone(), data.clone(), &dev).unwrap();
    for _ in 0..3 {
        a.step().unwrap();
    }
    let snapshot = a.snapshot().unwrap();
    let mut b = Trainer::new(config, data, &dev).unwrap();
    b.restore(&snapshot).unwrap();
    assert_eq!(b.step_count(), 3);
    let (ra, rb) = (a.step().unwrap(), b.step().unwrap());
    assert_eq!(
        ra.losses, rb.losses,
        "a fork continues exactly like its source"
    );
    a.set_strategy(StrategyConfig::new(Strategy::SINGLE_CARI))
        .unwrap();
    let r = a.step().unwrap();
    assert_eq!(r.strategy, "single-cari");
    assert_eq!(r.weights, [0.0, 0.0, 1.0]);
}

#[test]
fn a_nan_loss_is_reported_with_step_and_task() {
    let data = tiny_dataset(6);
    let dev = Device::Cpu;
    let mut config = TrainConfig {
        seed: 6,
        batch_size: 16,
        ..TrainConfig::default()
    };
    // An absurd learning rate without clipping blows the network up within a few steps.
    config.rates.lr = 1.0;
    config.clip_norm = 0.0;
    config.optimizer = OptimizerKind::Sgd { momentum: 0.9 };
    let mut t = Trainer::new(config, data, &dev).unwrap();
    let mut error = None;
    for _ in 0..200 {
        if let Err(e) = t.step() {
            error = Some(e.to_string());
            break;
        }
    }
    let message = error.expect("the run should diverge");
    assert!(message.contains("loss became"), "{message}");
    assert!(message.contains("at step"), "{message}");
}

#[test]
fn weights_under_each_rule_sum_to_one_and_stay_in_bounds() {
    let data = tiny_dataset(7);
    let dev = Device::Cpu;
    for strategy in Strategy::all() {
        let mut config = TrainConfig {
            seed: 7,
            batch_size: 16,
            ..TrainConfig::default()
        };
        config.strategy = StrategyConfig::new(strategy);
        let mut t = Trainer::new(config, data.clone(), &dev).unwrap();
        for _ in 0..3 {
            let r = t.step().unwrap();
            let sum: f32 = r.weights.iter().sum();
            assert!((sum - 1.0).abs() < 1e-4, "{strategy:?}: {:?}", r.weights);
            if strategy.uses_psi() {
                let (lo, hi) =
                    cari_mtl::weighting::math::weight_bounds(3, strategy.default_scale() as f64);
                assert!(
                    r.weights
                        .iter()
                        .all(|&w| w as f64 >= lo - 1e-5 && w as f64 <= hi + 1e-5),
                    "{strategy:?}: {:?}",
                    r.weights
                );
            }
            assert!(r.losses.iter().all(|l| l.is_finite() && *l > 0.0));
        }
    }
    let _ = DType::F32;
}

#[test]
fn train_command_writes_its_three_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cari-mtl"))
        .args([
            "train",
            "--strategy",
            "proposed",
            "--steps",
            "30",
            "--seed",
            "2",
            "--identities",
            "12",
            "--open-identities",
            "6",
            "--images-per-modality",
            "6",
            "--test-images",
            "2",
            "--batch-size",
            "16",
            "--device",
            "cpu",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.lines().count(), 1, "one-line summary: {stdout}");
    assert!(stdout.starts_with("proposed 30 steps"), "{stdout}");
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "step,wall_s,strategy,w_verif,w_visual,w_cari,loss_verif,loss_visual,loss_cari,lr,grad_norm_verif,grad_norm_visual,grad_norm_cari,grad_cos_verif_visual,grad_cos_verif_cari,grad_cos_visual_cari,grad_align_verif,grad_align_visual,grad_align_cari"
    );
    assert_eq!(lines.len(), 31);
    assert!(lines[30].starts_with("30,"));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["seed"], 2);
    // Written by its key, as on the command line (files from before the registry, which wrote
    // "Proposed", still read: see weighting's tests).
    assert_eq!(config["strategy"]["strategy"], "proposed");
    assert_eq!(config["synthetic"]["train_identities"], 12);
    let tensors =
        candle_core::safetensors::load(out.join("checkpoint.safetensors"), &Device::Cpu).unwrap();
    assert!(
        tensors.contains_key("psi.weight")
            && tensors.contains_key("trunk.conv1.weight")
            && tensors.contains_key("centres.verif")
    );
    assert!(!out.join("checkpoint.safetensors.tmp").exists());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    for key in cari_mtl::eval::METRIC_KEYS {
        assert!(
            summary["metrics"][key].is_number(),
            "summary.json lacks {key}: {summary}"
        );
    }
}

#[test]
fn bad_arguments_get_a_clear_message_and_a_non_zero_exit() {
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_cari-mtl"))
            .args(args)
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    let (ok, err) = run(&["train", "--strategy", "magic", "--out", "/tmp/x"]);
    assert!(!ok && err.contains("unknown strategy 'magic'"), "{err}");
    let (ok, err) = run(&["train", "--lr=-1", "--out", "/tmp/x"]);
    assert!(!ok && err.contains("lr"), "{err}");
    let (ok, err) = run(&[
        "train", "--device", "tpu", "--out", "/tmp/x", "--steps", "1",
    ]);
    assert!(!ok && err.contains("unknown device 'tpu'"), "{err}");
    let (ok, err) = run(&["train", "--perturb", "visual:melt@3", "--out", "/tmp/x"]);
    assert!(!ok && err.contains("unknown kind 'melt'"), "{err}");
    let (ok, err) = run(&["toy", "--losses", "2,x"]);
    assert!(!ok && err.contains("--losses"), "{err}");
    assert!(!err.contains("panicked"));
}

#[test]
fn psi_moves_under_the_rules_that_train_it_and_only_those() {
    // Regression: candle-nn's softmax_last_dim has no backward, which silently froze Ψ.
    let data = tiny_dataset(8);
    let dev = Device::Cpu;
    for (strategy, moves) in [
        (Strategy::PROPOSED, true),
        (Strategy::NAIVE, true),
        (Strategy::EQUAL, false),
    ] {
        let config = TrainConfig {
            seed: 8,
            batch_size: 16,
            strategy: StrategyConfig::new(strategy),
            ..TrainConfig::default()
        };
        let mut t = Trainer::new(config, data.clone(), &dev).unwrap();
        let before = t
            .network()
            .psi
            .weight
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        t.step().unwrap();
        let after = t
            .network()
            .psi
            .weight
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let change: f32 = before.iter().zip(&after).map(|(a, b)| (a - b).abs()).sum();
        assert_eq!(change > 0.0, moves, "{strategy:?}: Ψ changed by {change}");
    }
}

/// A paper-preset trainer at batch 4 on a small 160×160 dataset (always the same images;
/// `seed` is the run's).
fn paper_trainer(seed: u64) -> Trainer {
    use cari_mtl::model::Preset;
    let config = SyntheticConfig {
        seed: 9,
        train_identities: 4,
        open_identities: 2,
        photos_per_identity: 3,
        caricatures_per_identity: 3,
        test_per_modality: 1,
        image_size: Preset::Paper.image_size(),
    };
    let data = Arc::new(cari_mtl::data::synthetic::generate(&config, &|_| {}).unwrap());
    let train = TrainConfig {
        seed,
        preset: Preset::Paper,
        batch_size: 4,
        ..TrainConfig::default()
    };
    Trainer::new(train, data, &Device::Cpu).unwrap()
}

/// One parameter's values by name.
fn param(t: &Trainer, name: &str) -> Vec<f32> {
    let all = t.network().export().unwrap();
    all.into_iter()
        .find(|(n, _, _)| n == name)
        .unwrap_or_else(|| panic!("no parameter {name}"))
        .2
}

#[test]
fn paper_preset_takes_a_training_step() {
    let mut t = paper_trainer(9);
    // Ψ reads the flattened reduction-B output, 1792 channels × 3 × 3 at 160×160.
    assert_eq!(t.network().z_dim(), 1792 * 3 * 3);
    assert_eq!(t.info().unwrap().embedding_dim, 1792);
    let psi_before = param(&t, "psi.weight");
    let stats_before = param(&t, "trunk.stem1.bn.running_mean");
    let first = t.step().unwrap();
    let second = t.step().unwrap();
    assert!(
        first
            .losses
            .iter()
            .chain(second.losses.iter())
            .all(|l| l.is_finite() && *l > 0.0)
    );
    assert!(
        psi_before != param(&t, "psi.weight"),
        "Ψ trains under the paper preset too"
    );
    assert!(
        stats_before != param(&t, "trunk.stem1.bn.running_mean"),
        "training moves batch norm's running statistics"
    );
}

#[test]
fn paper_checkpoint_and_snapshot_keep_the_running_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paper.safetensors");
    let mut a = paper_trainer(11);
    a.step().unwrap();
    let trained = a.network().export().unwrap();
    let running: Vec<&(String, Vec<usize>, Vec<f32>)> = trained
        .iter()
        .filter(|(n, _, _)| n.ends_with(".running_var"))
        .collect();
    assert!(!running.is_empty());
    assert!(
        running.iter().all(|(_, _, v)| v.iter().any(|&x| x != 1.0)),
        "every running variance has moved from its initial 1"
    );
    a.save_checkpoint(&path).unwrap();

    // A fresh trainer of the same run (a checkpoint of another seed's dataset is refused):
    // its untrained parameters differ until it loads the checkpoint.
    let mut b = paper_trainer(11);
    assert_ne!(b.network().export().unwrap(), trained);
    b.load_checkpoint(&path).unwrap();
    assert_eq!(
        b.network().export().unwrap(),
        trained,
        "checkpoint round trip"
    );

    // A fork (same seed, as runs A and B have) from a's snapshot.
    let mut c = paper_trainer(11);
    c.restore(&a.snapshot().unwrap()).unwrap();
    assert_eq!(
        c.network().export().unwrap(),
        trained,
        "snapshot round trip"
    );

    // Same parameters and statistics: the same evaluation-mode embeddings.
    let request = cari_mtl::eval::EmbeddingRequest {
        source: cari_mtl::eval::EmbeddingSource::Verif,
        samples: vec![0, 1, 2],
        at_step: None,
    };
    let (ea, eb) = (a.embed(&request).unwrap(), b.embed(&request).unwrap());
    assert_eq!(ea.dim, 1792);
    assert!(ea.values == eb.values, "same evaluation embeddings");
    // Evaluation reads the running statistics and leaves them alone.
    assert!(a.network().export().unwrap() == trained);
    // Dropout masks come from the seed and the step, statistics from the snapshot: the fork
    // takes the same next step as its source.
    assert_eq!(a.step().unwrap().losses, c.step().unwrap().losses);
}

#[test]
fn explain_panel_shows_the_trainers_numbers() {
    let data = tiny_dataset(10);
    let config = TrainConfig {
        seed: 10,
        batch_size: 16,
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(config, data, &Device::Cpu).unwrap();
    t.step().unwrap();
    let row = t.step().unwrap();
    let e = cari_mtl::ui::explain::explain(&row);
    assert_eq!(e.step, row.step);
    for i in 0..3 {
        assert_eq!(e.weights[i], row.weights[i] as f64);
        assert_eq!(e.losses[i], row.losses[i] as f64);
        assert!((e.inverse_losses[i] - 1.0 / (row.losses[i] as f64 + 0.01)).abs() < 1e-12);
    }
    let total: f64 = (0..3)
        .map(|i| row.weights[i] as f64 * row.losses[i] as f64)
        .sum();
    assert!((e.total_loss - total).abs() < 1e-9);
    // The sentence names the task whose loss the trainer reported largest.
    let hardest = (0..3)
        .max_by(|&a, &b| row.losses[a].total_cmp(&row.losses[b]))
        .unwrap();
    assert!(
        e.sentence
            .starts_with(cari_mtl::task::Task::ALL[hardest].key()),
        "{}",
        e.sentence
    );
}

/// Events of a trainer thread until `done` says stop (fails after 60 s).
fn events_until(
    handle: &cari_mtl::session::TrainerHandle,
    mut done: impl FnMut(&cari_mtl::session::Event) -> bool,
) -> Vec<cari_mtl::session::Event> {
    let started = std::time::Instant::now();
    let mut seen = Vec::new();
    loop {
        for e in handle.drain() {
            let stop = done(&e);
            seen.push(e);
            if stop {
                return seen;
            }
        }
        assert!(started.elapsed().as_secs() < 60, "timed out: {seen:?}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn a_run_whose_step_panicked_refuses_to_train_until_it_is_rebuilt() {
    use cari_mtl::session::{Command, Event, ThreadBudget, spawn};
    // Fault: training indices that point past the images make the step panic.
    let mut data = (*tiny_dataset(13)).clone();
    data.splits.train = vec![data.images.len() + 5; 8];
    let config = TrainConfig {
        seed: 13,
        batch_size: 4,
        ..TrainConfig::default()
    };
    let trainer = Trainer::new(config, Arc::new(data), &Device::Cpu).unwrap();
    let mut handle = spawn(
        "trainer-fault",
        move || Ok(trainer),
        Arc::new(|| {}),
        &ThreadBudget::new(1),
    )
    .unwrap();
    events_until(&handle, |e| matches!(e, Event::Ready { .. }));
    handle.send(Command::Play);
    let seen = events_until(&handle, |e| matches!(e, Event::Error { fatal: true, .. }));
    let Some(Event::Error { message, .. }) = seen.last() else {
        unreachable!()
    };
    assert!(message.contains("panicked"), "{message}");
    // Play again: the run refuses, and no step is ever taken.
    handle.send(Command::Play);
    handle.send(Command::Step(3));
    let seen = events_until(&handle, |e| matches!(e, Event::Error { .. }));
    let Some(Event::Error { message, fatal, .. }) = seen.last() else {
        unreachable!()
    };
    assert!(*fatal && message.contains("press Reset"), "{message}");
    assert!(!seen.iter().any(|e| matches!(e, Event::Metrics(_))));
}
