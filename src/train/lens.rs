//! The tasks' own gradients on the shared network, and the gradient lens built on them.
//!
//! A *space* says where each task's gradient g_i = ∂L_i/∂(shared part) is taken:
//!
//! - `z`: ∂L_i/∂Z, the trunk's output over the batch (cheapest). Tasks that see disjoint
//!   images of the batch (visual: photos only; cari: caricatures only) have gradients on
//!   disjoint rows, so their cosine there is exactly 0 by construction, whatever the rule.
//! - `last`: the gradient of the trunk's last stage's parameters (GradNorm's choice): every
//!   image of the batch meets there.
//! - `params`: the gradient of every trunk parameter (LibMTL's default for the rules that
//!   combine gradients); one trunk backward pass per task.
//!
//! The lens reports, per step it is on: each task's own (unweighted) gradient norm ‖g_i‖,
//! the pairwise cosines cos(g_i, g_j) (below 0 the tasks pull the shared layers apart), and
//! the alignments cos(d, g_i) of the gradient d the update actually used in that space (the
//! whole network loss, centre terms and Ψ's path included): which task the update serves.

use serde::{Deserialize, Serialize};

use crate::task::TASKS;

/// Where the tasks' gradients are taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GradSpace {
    /// ∂L_i/∂Z over the batch.
    Z,
    /// The trunk's last stage's parameters.
    Last,
    /// Every trunk parameter.
    #[default]
    Params,
}

impl GradSpace {
    pub const ALL: [GradSpace; 3] = [GradSpace::Z, GradSpace::Last, GradSpace::Params];

    pub fn key(self) -> &'static str {
        match self {
            GradSpace::Z => "z",
            GradSpace::Last => "last",
            GradSpace::Params => "params",
        }
    }

    pub fn parse(text: &str) -> Result<GradSpace, String> {
        GradSpace::ALL
            .into_iter()
            .find(|s| s.key() == text)
            .ok_or_else(|| format!("unknown gradient space '{text}'; expected z, last or params"))
    }

    /// What the space is, in words (hover texts, help).
    pub fn description(self) -> &'static str {
        match self {
            GradSpace::Z => {
                "∂L_i/∂Z over the batch (cheapest): visual (photos) and cari (caricatures) see disjoint images, so their cosine here is 0 by construction, and a rule cannot see their conflict"
            }
            GradSpace::Last => {
                "the gradient of the trunk's last stage's weights (GradNorm's choice): every image of the batch meets there"
            }
            GradSpace::Params => {
                "the gradient of every trunk parameter (one trunk backward pass per task)"
            }
        }
    }
}

/// When the lens looks: its space, and every how many steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LensConfig {
    /// `None`: off.
    pub space: Option<GradSpace>,
    /// On the steps that are a multiple of this (1: every step; 0 counts as 1).
    pub every: u64,
}

impl LensConfig {
    /// The space the lens looks in at `step`, if it looks then.
    pub fn due(&self, step: u64) -> Option<GradSpace> {
        self.space
            .filter(|_| step.is_multiple_of(self.every.max(1)))
    }
}

/// The task pairs of the cosines, in the order of metrics.csv's columns:
/// verif·visual, verif·cari, visual·cari.
pub const PAIRS: [(usize, usize); TASKS] = [(0, 1), (0, 2), (1, 2)];

/// The lens's figures of one step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LensRow {
    /// ‖g_i‖ per task.
    pub norms: [f32; TASKS],
    /// cos(g_i, g_j) for [`PAIRS`].
    pub cosines: [f32; TASKS],
    /// cos(d, g_i) per task.
    pub alignments: [f32; TASKS],
}

impl LensRow {
    /// From the 4×4 Gram matrix of (g_verif, g_visual, g_cari, d). A cosine with a zero vector
    /// is 0 (no direction to agree or conflict with).
    pub fn from_gram(k: &[[f64; 4]; 4]) -> LensRow {
        let norm = |i: usize| k[i][i].max(0.0).sqrt();
        let cos = |i: usize, j: usize| {
            let n = norm(i) * norm(j);
            if n > 0.0 {
                (k[i][j] / n).clamp(-1.0, 1.0)
            } else {
                0.0
            }
        };
        LensRow {
            norms: std::array::from_fn(|i| norm(i) as f32),
            cosines: PAIRS.map(|(i, j)| cos(i, j) as f32),
            alignments: std::array::from_fn(|i| cos(3, i) as f32),
        }
    }

    /// Each task's share of the update: c_i‖g_i‖cos(d, g_i) / Σ_j c_j‖g_j‖cos(d, g_j) for the
    /// coefficients c the update gave the tasks (the weights). Where d = Σ c_i g_i these are
    /// c_i⟨g_i, d⟩/‖d‖² and sum to 1; a negative share works against the update.
    pub fn shares(&self, coefficients: [f32; TASKS]) -> [f32; TASKS] {
        let parts: [f32; TASKS] =
            std::array::from_fn(|i| coefficients[i] * self.norms[i] * self.alignments[i]);
        let total: f32 = parts.iter().sum();
        if total.abs() > 0.0 && total.is_finite() {
            parts.map(|p| p / total)
        } else {
            [0.0; TASKS]
        }
    }
}

/// Vectors of one space: each task's gradient, and the update's (when known), as host numbers.
pub struct SpaceVectors {
    pub tasks: [Vec<f32>; TASKS],
    pub update: Option<Vec<f32>>,
}

impl SpaceVectors {
    /// The Gram matrix of the tasks' gradients, summed in f64.
    pub fn task_gram(&self) -> [[f64; TASKS]; TASKS] {
        std::array::from_fn(|i| std::array::from_fn(|j| dot(&self.tasks[i], &self.tasks[j])))
    }

    /// The lens's row, when the update's vector is known.
    pub fn lens_row(&self) -> Option<LensRow> {
        let update = self.update.as_ref()?;
        let vectors = [&self.tasks[0], &self.tasks[1], &self.tasks[2], update];
        let k = std::array::from_fn(|i| std::array::from_fn(|j| dot(vectors[i], vectors[j])));
        Some(LensRow::from_gram(&k))
    }
}

/// ⟨a, b⟩ summed in f64 (the gradients are f32; their dot products over a million
/// parameters need the wider sum).
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosines_and_alignments_by_hand() {
        // g_verif = (1, 0), g_visual = (0, 2), g_cari = (−1, 0), d = (1, 1):
        // norms (1, 2, 1); cos: verif·visual 0, verif·cari −1, visual·cari 0;
        // alignments: (1/√2, 1/√2, −1/√2).
        let v = SpaceVectors {
            tasks: [vec![1.0, 0.0], vec![0.0, 2.0], vec![-1.0, 0.0]],
            update: Some(vec![1.0, 1.0]),
        };
        let row = v.lens_row().unwrap();
        assert_eq!(row.norms, [1.0, 2.0, 1.0]);
        assert_eq!(row.cosines, [0.0, -1.0, 0.0]);
        let h = std::f32::consts::FRAC_1_SQRT_2;
        for (a, b) in row.alignments.iter().zip([h, h, -h]) {
            assert!((a - b).abs() < 1e-6, "{:?}", row.alignments);
        }
        // Shares with weights (0.5, 0.25, 0.25): parts 0.5·1·h, 0.25·2·h, −0.25·1·h
        // → (0.5, 0.5, −0.25)/0.75.
        let shares = row.shares([0.5, 0.25, 0.25]);
        for (a, b) in shares.iter().zip([2.0 / 3.0, 2.0 / 3.0, -1.0 / 3.0]) {
            assert!((a - b).abs() < 1e-6, "{shares:?}");
        }
    }

    #[test]
    fn a_zero_gradient_has_cosine_zero_and_the_lens_is_due_on_its_steps() {
        let v = SpaceVectors {
            tasks: [vec![0.0, 0.0], vec![0.0, 2.0], vec![1.0, 0.0]],
            update: Some(vec![0.0, 1.0]),
        };
        let row = v.lens_row().unwrap();
        assert_eq!(row.cosines[0], 0.0);
        assert_eq!(row.alignments[0], 0.0);
        let lens = LensConfig {
            space: Some(GradSpace::Params),
            every: 10,
        };
        assert_eq!(lens.due(10), Some(GradSpace::Params));
        assert_eq!(lens.due(11), None);
        assert_eq!(LensConfig::default().due(5), None);
    }

    #[test]
    fn two_identical_tasks_have_cosine_one() {
        // Values with no pattern (k·0.37 mod 1.3 − 0.6), two tasks identical, a third scaled
        // by 3: the cosines of the identical pair and of the scaled one are 1 to the f64
        // rounding of a dot product over 1,000 terms.
        let g: Vec<f32> = (0..1000).map(|k| (k as f32 * 0.37) % 1.3 - 0.6).collect();
        let scaled: Vec<f32> = g.iter().map(|v| 3.0 * v).collect();
        let v = SpaceVectors {
            tasks: [g.clone(), g.clone(), scaled],
            update: Some(g),
        };
        let row = v.lens_row().unwrap();
        for c in row.cosines.iter().chain(&row.alignments) {
            assert!((c - 1.0).abs() < 1e-6, "{row:?}");
        }
    }
}
