//! Guided lessons: each sets the parameters (`Settings::open_lesson`), hides the controls it does
//! not need and shows two or three sentences. A lesson's state is saved with the settings (Files -> Save settings /
//! lesson) and reopened from that small JSON file.

use serde::{Deserialize, Serialize};

/// Controls a lesson can hide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Seed,
    Preset,
    Device,
    Rates,
    Scale,
    Strategy,
    Fork,
    Perturb,
    Layout,
    Explain,
    /// The gradient lens and the gradient rules' space.
    Gradients,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lesson {
    TwoTasksToy,
    NaiveStarves,
    ProposedChases,
    SwitchMidRun,
    HardestChanges,
    ReadingEmbeddings,
    IdeaBreaks,
    TasksPullApart,
}

impl Lesson {
    pub const ALL: [Lesson; 8] = [
        Lesson::TwoTasksToy,
        Lesson::NaiveStarves,
        Lesson::ProposedChases,
        Lesson::SwitchMidRun,
        Lesson::HardestChanges,
        Lesson::ReadingEmbeddings,
        Lesson::IdeaBreaks,
        Lesson::TasksPullApart,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Lesson::TwoTasksToy => "1 · Two tasks in the toy",
            Lesson::NaiveStarves => "2 · Naive starves the hard task",
            Lesson::ProposedChases => "3 · Proposed chases the hard task",
            Lesson::SwitchMidRun => "4 · Switching strategy mid-run",
            Lesson::HardestChanges => "5 · When the hardest task changes",
            Lesson::ReadingEmbeddings => "6 · Reading the t-SNE and the failures",
            Lesson::IdeaBreaks => "7 · When the idea breaks",
            Lesson::TasksPullApart => "8 · When tasks pull the trunk apart",
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Lesson::TwoTasksToy => {
                "Two tasks, no network: task 1 starts high and learns slowly, task 2 starts low and learns fast. Left, proposed moves weight to the task with the larger loss; right, naive moves it to the smaller one. Move the sliders: the curves recompute instantly."
            }
            Lesson::NaiveStarves => {
                "Run B trains the real three-task network with naive weighting: Ψ is trained on the same Σ w_iL_i, and the cheapest way to lower that sum is to give weight to the easiest task. Press Play and watch the grey caricature-identification weight sink while its loss stays the highest."
            }
            Lesson::ProposedChases => {
                "Run A uses the proposed rule: Ψ has its own loss L4 = Σ w_i/(L_i+0.01), so weight goes to the task with the largest loss until that loss falls. Press Play: the grey weight climbs to its bound while caricature identification is the hardest task. The explain panel shows the gradient with the live numbers."
            }
            Lesson::SwitchMidRun => {
                "Both runs start as naive. After a few hundred steps, switch run A to proposed (or fork A into B first): a marker shows where the rule changed, and the weights turn toward the hardest task within a few dozen steps."
            }
            Lesson::HardestChanges => {
                "Make photo identification unlearnable with 'visual: shuffle-labels' in both runs: its loss jumps to the top. Proposed moves its largest weight to visual within a few dozen steps; naive turns away from it. Restore it with 'none'."
            }
            Lesson::IdeaBreaks => IDEA_BREAKS,
            Lesson::TasksPullApart => TASKS_PULL_APART,
            Lesson::ReadingEmbeddings => {
                "Press Play, wait for the evaluation at step 200, then 'Project runs A and B'. Each colour is one held-out person, circles are photos and triangles caricatures: a good verification embedding puts a person's caricatures next to their photos. On the right, the worst false positives (different people judged the same) and false negatives; select a card to see where its two images sit in both projections."
            }
        }
    }

    pub fn shows(self, control: Control) -> bool {
        match self {
            Lesson::TwoTasksToy => false,
            Lesson::NaiveStarves | Lesson::ProposedChases => matches!(control, Control::Explain),
            Lesson::SwitchMidRun => matches!(
                control,
                Control::Strategy | Control::Fork | Control::Explain
            ),
            Lesson::HardestChanges => matches!(control, Control::Perturb | Control::Explain),
            Lesson::ReadingEmbeddings => matches!(control, Control::Strategy),
            Lesson::IdeaBreaks => matches!(control, Control::Rates | Control::Explain),
            Lesson::TasksPullApart => matches!(
                control,
                Control::Perturb | Control::Explain | Control::Gradients | Control::Strategy
            ),
        }
    }

    /// Whether the lesson trains the network (so opening it resets the runs).
    pub fn trains(self) -> bool {
        self != Lesson::TwoTasksToy
    }
}

/// Lesson 8's text. What it promises was measured (seed 1, 600 steps, the lens in `last` every
/// step, rows 300–600): `cari-mtl train --strategy proposed --lens last --perturb
/// cari:shuffle-labels@200 --steps 600` (and `naive`), then `bench/lens_summary.py`. Cari's
/// gradient norm falls from 3.0 at step 200 to 0.35 at 240 and 0.13 over 300–600 (unperturbed:
/// 2.4), its cosines with verif and visual average 0.00 and are below 0 on 49–51 % of rows
/// (unperturbed: 3–4 % and 23–28 %); proposed
/// keeps w_cari at 0.62 (the largest in every row) while cos(d, g_cari) is 0.13 (unperturbed 0.84)
/// and the update serves verif most; naive keeps w_cari at 0.22 and serves visual.
const TASKS_PULL_APART: &str = "Under each run's weights and losses, the gradients view shows the tasks' own gradients on the trunk's last layer: their cosines (below 0 two tasks pull the shared layers apart) and whom the update serves. Press Play; after about 200 steps make caricature identification unlearnable with 'cari: shuffle-labels' in both runs. Its gradient turns into faint noise: within about a hundred steps its norm falls some twentyfold and its cosines with the other tasks sit around 0, below 0 on every other step. Proposed keeps the largest weight on cari, because its loss is now the highest, yet the update hardly follows cari's gradient any more: that weight is simply taken from the tasks that can still learn. Naive keeps cari's weight low and serves photo identification. Switch a run to mgda or pcgrad and watch whom the update serves then.";

/// Lesson 7's text. What it promises was measured (seed 1, 500 steps, rows after step 100):
/// `cari-mtl train --strategy proposed --psi-lr 4e-4 --steps 500` then `bench/eq10_check.py`
/// gives the hardest task the largest weight in 20.5 % of rows and the smallest in 55.0 %
/// (naive-like); with `--constant-weights` the largest in 100 %.
const IDEA_BREAKS: &str = "Run A is proposed, but Ψ learns at 0.4× the network's rate (Ψ lr 4e-4 against lr 1e-3) and 'w reaches trunk' is ticked, as in the authors' code: the network's own loss Σ w_i·L_i reaches the trunk through w, and the trunk learns to make Ψ favour the easy tasks faster than Ψ's L4 pulls the weight back. Press Play: run A's weights drift like naive run B's. Then untick 'w reaches trunk' (the paper's eq. 11: w is a constant for the network) and watch A's largest weight return to the hardest task. Raising Ψ lr to 10× the network's mends it too.";
