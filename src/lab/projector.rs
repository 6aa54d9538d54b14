//! The embedding projector's state: which representation and images to project, each run's
//! t-SNE job and its frames, and the point or failure pair the user selected. The panel that
//! draws it is `ui::projector`.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::run::RunSlot;
use crate::data::Dataset;
use crate::eval::metrics::squared_distance;
use crate::eval::{EmbeddingRequest, EmbeddingSource, EvalReport};
use crate::session::Waker;
use crate::tsne::barnes_hut::TsneConfig;
use crate::tsne::{TsneJob, TsneUpdate};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Subset {
    /// Every image of the held-out identities.
    HeldOut,
    /// Images of the first K training identities.
    FirstTraining(usize),
    /// One held-out identity and the identities it is most confused with.
    Confusions(usize),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectorSettings {
    pub source: EmbeddingSource,
    pub subset: Subset,
    pub tsne: TsneConfig,
    /// The search text of the identity legend.
    pub search: String,
    /// Project again every `follow_every` steps while the runs train.
    pub follow_training: bool,
    pub follow_every: u64,
}

/// Iterations of a projection that starts from the previous layout (no early exaggeration:
/// the clusters are already formed, they only move).
const FOLLOW_ITERATIONS: usize = 250;

impl Default for ProjectorSettings {
    fn default() -> Self {
        ProjectorSettings {
            source: EmbeddingSource::Verif,
            subset: Subset::HeldOut,
            tsne: TsneConfig {
                perplexity: 20.0,
                iterations: 500,
                ..TsneConfig::default()
            },
            search: String::new(),
            follow_training: true,
            follow_every: 100,
        }
    }
}

/// One run's projection.
pub struct Projection {
    pub step: u64,
    pub source: EmbeddingSource,
    pub samples: Vec<usize>,
    pub dim: usize,
    pub values: Vec<f32>,
    pub positions: Vec<f32>,
    pub iteration: usize,
    pub iterations: usize,
    pub job: Option<TsneJob>,
    pub error: Option<String>,
}

impl Projection {
    /// Start t-SNE on a run's embeddings, from `previous`'s layout when it projected the same
    /// samples (the points then move from where they were).
    fn start(
        e: crate::eval::Embeddings,
        mut config: TsneConfig,
        previous: Option<&Projection>,
        wake: Waker,
    ) -> Projection {
        let init = previous
            .filter(|p| p.samples == e.samples && p.positions.len() == 2 * e.samples.len())
            .map(|p| p.positions.clone());
        if init.is_some() {
            config.exaggeration_iterations = 0;
            config.iterations = config.iterations.min(FOLLOW_ITERATIONS);
        }
        let (job, error) =
            match crate::tsne::start(e.values.clone(), e.dim, config.clone(), init.clone(), wake) {
                Ok(j) => (Some(j), None),
                Err(err) => (None, Some(format!("could not start t-SNE: {err}"))),
            };
        Projection {
            step: e.step,
            source: e.source,
            samples: e.samples,
            dim: e.dim,
            values: e.values,
            positions: init.unwrap_or_default(),
            iteration: 0,
            iterations: config.iterations,
            job,
            error,
        }
    }

    /// The 2-D position of the `k`-th projected sample.
    pub fn point(&self, k: usize) -> [f64; 2] {
        [
            self.positions[2 * k] as f64,
            self.positions[2 * k + 1] as f64,
        ]
    }

    /// The 2-D position of sample `sample`, if it is projected.
    pub fn position_of(&self, sample: usize) -> Option<[f64; 2]> {
        let k = self.samples.iter().position(|&i| i == sample)?;
        Some(self.point(k))
    }

    /// The `k` samples nearest to `sample` in the embedding space, with squared distances;
    /// None when `sample` is not projected.
    pub fn nearest(&self, sample: usize, k: usize) -> Option<Vec<(f32, usize)>> {
        let row_of = |j: usize| &self.values[j * self.dim..(j + 1) * self.dim];
        let at = self.samples.iter().position(|&i| i == sample)?;
        let mut near: Vec<(f32, usize)> = self
            .samples
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != at)
            .map(|(j, &i)| (squared_distance(row_of(at), row_of(j)), i))
            .collect();
        near.sort_by(|a, b| a.0.total_cmp(&b.0));
        near.truncate(k);
        Some(near)
    }

    /// Take the frames t-SNE has sent.
    pub fn take_frames(&mut self) {
        let updates: Vec<TsneUpdate> = self
            .job
            .as_ref()
            .map(|j| j.updates.try_iter().collect())
            .unwrap_or_default();
        for u in updates {
            match u {
                TsneUpdate::Frame(f) => {
                    self.iteration = f.iteration;
                    self.positions = f.positions;
                }
                TsneUpdate::Done(f) => {
                    self.iteration = f.iteration;
                    self.positions = f.positions;
                    self.job = None;
                }
                TsneUpdate::Error(e) => {
                    self.error = Some(e);
                    self.job = None;
                }
            }
        }
    }
}

/// A failure card the user selected: the two images to highlight and join.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Highlight {
    pub run: usize,
    pub a: usize,
    pub b: usize,
}

#[derive(Default)]
pub struct ProjectorState {
    pub projections: [Option<Projection>; 2],
    /// The selected point (sample index) for the inspector.
    pub selected: Option<usize>,
    pub highlight: Option<Highlight>,
    /// The run the failure inspector reads.
    pub failure_run: usize,
    /// The step the last projection was asked for, and which runs have answered.
    target: Option<u64>,
    arrived: [bool; 2],
}

/// The sample indices of a subset.
pub fn subset_samples(
    dataset: &Dataset,
    subset: Subset,
    report: Option<&EvalReport>,
) -> Vec<usize> {
    let samples = &dataset.images.samples;
    match subset {
        Subset::HeldOut => dataset.splits.open.clone(),
        Subset::FirstTraining(k) => {
            let ids: Vec<usize> = dataset
                .splits
                .train_identities
                .iter()
                .take(k.max(1))
                .copied()
                .collect();
            (0..samples.len())
                .filter(|&i| ids.contains(&samples[i].identity))
                .collect()
        }
        Subset::Confusions(identity) => {
            let mut ids = vec![identity];
            if let Some(r) = report {
                for o in r
                    .c2p
                    .iter()
                    .chain(r.p2c.iter())
                    .filter(|o| o.true_identity == identity)
                {
                    for &(g, _) in &o.top {
                        let id = samples[g].identity;
                        if !ids.contains(&id) && ids.len() < 6 {
                            ids.push(id);
                        }
                    }
                }
            }
            dataset
                .splits
                .open
                .iter()
                .copied()
                .filter(|&i| ids.contains(&samples[i].identity))
                .collect()
        }
    }
}

impl ProjectorState {
    /// Take new embeddings from the runs and new t-SNE frames; never blocks.
    pub fn poll(&mut self, runs: &mut [RunSlot; 2], tsne: &TsneConfig, waker: Option<Waker>) {
        for (slot, run) in runs.iter_mut().enumerate() {
            if let Some(e) = run.embeddings.take() {
                let wake: Waker = waker.clone().unwrap_or_else(|| Arc::new(|| {}));
                let previous = self.projections[slot].as_ref();
                let projection = Projection::start(*e, tsne.clone(), previous, wake);
                self.projections[slot] = Some(projection);
                self.arrived[slot] = true;
            }
            if let Some(p) = &mut self.projections[slot] {
                p.take_frames();
            }
        }
    }

    /// Whether to project now without being asked: the first time the tab is shown on runs
    /// that have trained, then every `follow_every` steps while following training, once the
    /// previous projection has arrived and settled.
    pub fn due(&self, settings: &ProjectorSettings, runs: &[RunSlot; 2]) -> bool {
        let newest = runs.iter().map(|r| r.step).min().unwrap_or(0);
        if newest == 0 || !runs.iter().all(|r| r.is_ready()) || self.in_flight() {
            return false;
        }
        match self.target {
            None => true,
            Some(last) => {
                settings.follow_training
                    && newest >= last + settings.follow_every.max(1)
                    && self.projections.iter().flatten().all(|p| p.job.is_none())
            }
        }
    }

    /// Whether embeddings were asked for and have not all arrived.
    fn in_flight(&self) -> bool {
        self.target.is_some() && !self.arrived.iter().all(|&a| a)
    }

    /// What to ask each run for: steps to catch up (so both embed at the same step) and the
    /// request. The current projections stay on screen until the new ones arrive.
    pub fn requests(
        &mut self,
        dataset: &Dataset,
        settings: &ProjectorSettings,
        runs: &[RunSlot; 2],
        playing: bool,
    ) -> [(u64, EmbeddingRequest); 2] {
        let report = runs.iter().find_map(|r| r.last_report.clone());
        let samples = subset_samples(dataset, settings.subset, report.as_deref());
        // While playing, a few steps of margin cover rows the window has not received yet.
        let newest = runs.iter().map(|r| r.step).max().unwrap_or(0);
        let target = if playing { newest + 5 } else { newest };
        let request = EmbeddingRequest {
            source: settings.source,
            samples,
            at_step: Some(target),
        };
        self.target = Some(target);
        self.arrived = [false; 2];
        std::array::from_fn(|slot| {
            let behind = target.saturating_sub(runs[slot].step);
            let catch_up = if playing { 0 } else { behind };
            (catch_up, request.clone())
        })
    }
}
