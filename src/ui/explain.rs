//! The explain panel: equations (1), (5), (7) and the gradient (8) with the selected run's
//! current numbers substituted, and a one-line reading of the state.

use super::colours::TASK_COLOURS;
use crate::lab::PanelCtx;
use crate::lab::history::lens::LensQuantity;
use crate::lab::run::RunSlot;
use crate::task::{TASKS, Task};
use crate::train::lens::{GradSpace, PAIRS};
use crate::train::metrics::StepMetrics;
use crate::ui::view::View;
use crate::weighting::math::{L4_EPSILON, naive_gradient, proposed_gradient};

/// The numbers the panel shows for one step row, computed from the trainer's own figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    pub step: u64,
    pub weights: [f64; TASKS],
    pub losses: [f64; TASKS],
    /// 1/(L_i + 0.01)
    pub inverse_losses: [f64; TASKS],
    /// Eq. (1): Σ w_i·L_i
    pub total_loss: f64,
    /// Eq. (7): Σ w_i/(L_i + 0.01)
    pub l4: f64,
    /// −∂L4/∂a_i: the direction proposed moves logit i (positive raises w_i).
    pub proposed_step: [f64; TASKS],
    /// −∂(Σ w L)/∂a_i: the direction naive moves logit i.
    pub naive_step: [f64; TASKS],
    pub sentence: String,
}

pub fn explain(row: &StepMetrics) -> Explanation {
    let w: [f64; TASKS] = row.weights.map(|x| x as f64);
    let l: [f64; TASKS] = row.losses.map(|x| x as f64);
    let inverse = l.map(|x| 1.0 / (x + L4_EPSILON));
    let total_loss = (0..TASKS).map(|i| w[i] * l[i]).sum();
    let l4 = (0..TASKS).map(|i| w[i] * inverse[i]).sum();
    let pg = proposed_gradient(&w, &l);
    let ng = naive_gradient(&w, &l);
    let proposed_step = std::array::from_fn(|i| -pg[i]);
    let naive_step = std::array::from_fn(|i| -ng[i]);
    let hardest = (0..TASKS)
        .max_by(|&a, &b| l[a].total_cmp(&l[b]))
        .unwrap_or(0);
    let easiest = (0..TASKS)
        .min_by(|&a, &b| l[a].total_cmp(&l[b]))
        .unwrap_or(0);
    let verb = |x: f64| if x > 0.0 { "raises" } else { "lowers" };
    let sentence = format!(
        "{} has the largest loss ({:.2}): proposed {} its weight, naive {} it; {} has the smallest ({:.2}).",
        Task::ALL[hardest].key(),
        l[hardest],
        verb(proposed_step[hardest]),
        verb(naive_step[hardest]),
        Task::ALL[easiest].key(),
        l[easiest]
    );
    Explanation {
        step: row.step,
        weights: w,
        losses: l,
        inverse_losses: inverse,
        total_loss,
        l4,
        proposed_step,
        naive_step,
        sentence,
    }
}

const EQ8_READING: &str = "Descending it moves weight toward the task with the largest loss (smallest c_i). Naive descends Σ w_iL_i instead: ∂/∂a_j = w_j·(L_j − Σ w_iL_i), which moves weight toward the smallest loss.";
const STEP_NOTE: &str = "step = −∂/∂a_i of each rule's objective for the unbounded softmax; up raises the weight, down lowers it.";

/// The panel; `explain_run` is which run it reads (0 or 1).
/// The explain panel: the paper's equations with a run's live numbers.
#[derive(Default)]
pub struct Explain;

impl View for Explain {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut PanelCtx) {
        explain_ui(ui, &mut ctx.settings.explain_run, ctx.runs);
    }
}

fn explain_ui(ui: &mut egui::Ui, explain_run: &mut usize, runs: &[RunSlot; 2]) {
    ui.horizontal(|ui| {
        ui.heading("Explain");
        ui.selectable_value(explain_run, 0, "run A");
        ui.selectable_value(explain_run, 1, "run B");
    });
    let run = &runs[(*explain_run).min(1)];
    // The rule the trainer reports it trains with, in the registry's words.
    if let Some(applied) = &run.applied {
        ui.label(egui::RichText::new(applied.strategy.strategy.description()).italics());
    }
    let Some(row) = run.history.rows().last() else {
        ui.label("Press Play or Step: the equations fill with the run's numbers.");
        return;
    };
    let e = explain(row);
    ui.label(format!("step {} · strategy {}", e.step, row.strategy));
    ui.add_space(4.0);
    ui.label(egui::RichText::new(&e.sentence).strong());
    ui.add_space(6.0);
    egui::ScrollArea::vertical().show(ui, |ui| {
        if let Some(words) = gradients_in_words(run) {
            ui.label(words);
            ui.add_space(6.0);
        }
        equations_ui(ui, &e);
        steps_grid_ui(ui, &e);
    });
}

/// What the lens saw last, in words with its numbers: which tasks pull the shared layers
/// apart, and which task the update serves.
pub fn gradients_in_words(run: &RunSlot) -> Option<String> {
    let p = run.history.lens.points().last()?;
    let space = run.applied.as_ref().and_then(|a| a.gradients.lens.space);
    let key = |t: usize| Task::ALL[t].key();
    let cos = |pair: usize| p.value(LensQuantity::Cosines, pair, false);
    let conflicts: Vec<String> = (0..TASKS)
        .filter(|&pair| cos(pair) < 0.0)
        .map(|pair| {
            let (a, b) = PAIRS[pair];
            format!("{} and {} (cos {:+.2})", key(a), key(b), cos(pair))
        })
        .collect();
    let mut text = format!("Gradients at step {}", p.step);
    if let Some(space) = space {
        text.push_str(&format!(" ({} space)", space.key()));
    }
    text.push_str(": ");
    if conflicts.is_empty() {
        let all: Vec<String> = (0..TASKS)
            .map(|pair| {
                let (a, b) = PAIRS[pair];
                format!("{}·{} {:+.2}", key(a), key(b), cos(pair))
            })
            .collect();
        text.push_str(&format!("no two tasks conflict ({}).", all.join(", ")));
    } else {
        text.push_str(&format!(
            "{} pull the shared layers apart.",
            conflicts.join(" and ")
        ));
    }
    if space == Some(GradSpace::Z) {
        text.push_str(
            " In z, visual and cari see disjoint images, so their cosine is 0 by construction.",
        );
    }
    let align = |t: usize| p.value(LensQuantity::Alignments, t, false);
    let share = |t: usize| p.value(LensQuantity::Shares, t, false);
    let order = {
        let mut o: Vec<usize> = (0..TASKS).collect();
        o.sort_by(|&a, &b| align(b).total_cmp(&align(a)));
        o
    };
    text.push_str(&format!(
        " The update serves {} most (cos(d, g) {:+.2}, share {:.0} %) and {} least ({:+.2}, {:.0} %).",
        key(order[0]),
        align(order[0]),
        100.0 * share(order[0]),
        key(order[TASKS - 1]),
        align(order[TASKS - 1]),
        100.0 * share(order[TASKS - 1]),
    ));
    Some(text)
}

fn mono(ui: &mut egui::Ui, text: impl Into<String>) {
    ui.label(egui::RichText::new(text).monospace());
}

/// Equations (1), (5), (7) and (8) with the numbers substituted.
fn equations_ui(ui: &mut egui::Ui, e: &Explanation) {
    let products = |other: &[f64; TASKS]| -> String {
        (0..TASKS)
            .map(|i| format!("{:.3}·{:.3}", e.weights[i], other[i]))
            .collect::<Vec<_>>()
            .join(" + ")
    };
    mono(ui, "(1) network loss  L = Σ w_i·L_i");
    mono(
        ui,
        format!("    = {} = {:.4}", products(&e.losses), e.total_loss),
    );
    ui.add_space(4.0);
    mono(ui, "(5) w_i = softmax over tasks of Ψ's logits on Z");
    ui.label(
        egui::RichText::new("    (L2-normalised logits × s: each weight is bounded)")
            .monospace()
            .small(),
    );
    ui.add_space(4.0);
    mono(ui, "(7) Ψ's loss (proposed)  L4 = Σ w_i/(L_i+0.01)");
    mono(
        ui,
        format!("    = {} = {:.4}", products(&e.inverse_losses), e.l4),
    );
    ui.add_space(4.0);
    mono(
        ui,
        "(8) ∂L4/∂a_j = w_j·(c_j − Σ w_ic_i), c_i = 1/(L_i+0.01)",
    );
    ui.label(EQ8_READING);
    ui.add_space(4.0);
}

/// Per task: the numbers and the direction each rule moves its logit.
fn steps_grid_ui(ui: &mut egui::Ui, e: &Explanation) {
    egui::Grid::new("explain_grid")
        .striped(true)
        .show(ui, |ui| {
            for h in [
                "task",
                "w_i",
                "L_i",
                "1/(L_i+0.01)",
                "proposed step",
                "naive step",
            ] {
                ui.label(egui::RichText::new(h).strong());
            }
            ui.end_row();
            for (i, colour) in TASK_COLOURS.iter().enumerate() {
                ui.colored_label(*colour, Task::ALL[i].key());
                ui.label(format!("{:.3}", e.weights[i]));
                ui.label(format!("{:.3}", e.losses[i]));
                ui.label(format!("{:.3}", e.inverse_losses[i]));
                ui.label(arrow(e.proposed_step[i]));
                ui.label(arrow(e.naive_step[i]));
                ui.end_row();
            }
        });
    ui.label(egui::RichText::new(STEP_NOTE).small());
}

fn arrow(x: f64) -> String {
    if x > 0.0 {
        format!("up {x:+.4}")
    } else {
        format!("down {x:+.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explanation_numbers() {
        // w = (0.2, 0.3, 0.5), L = (1, 2, 3):
        //   Σ wL = 0.2 + 0.6 + 1.5 = 2.3
        //   c = 1/(L+0.01) = (0.990099, 0.497512, 0.332226); Σ w c = 0.198020 + 0.149254 + 0.166113 = 0.513387
        //   proposed step_j = −w_j (c_j − 0.513387) = (−0.095342, +0.004762, +0.090580)
        //   naive step_j = −w_j (L_j − 2.3) = (+0.26, +0.09, −0.35)
        let row = StepMetrics {
            step: 7,
            wall_secs: 1.0,
            strategy: "proposed".into(),
            weights: [0.2, 0.3, 0.5],
            losses: [1.0, 2.0, 3.0],
            lr: 1e-3,
            coalesced_steps: 1,
            lens: None,
        };
        let e = explain(&row);
        assert!((e.total_loss - 2.3).abs() < 1e-6);
        assert!((e.l4 - 0.513_387).abs() < 1e-5, "{}", e.l4);
        for (a, b) in e
            .proposed_step
            .iter()
            .zip([-0.095_342, 0.004_762, 0.090_580])
        {
            assert!((a - b).abs() < 1e-5, "{:?}", e.proposed_step);
        }
        for (a, b) in e.naive_step.iter().zip([0.26, 0.09, -0.35]) {
            assert!((a - b).abs() < 1e-6, "{:?}", e.naive_step);
        }
        assert!(
            e.sentence.starts_with(
                "cari has the largest loss (3.00): proposed raises its weight, naive lowers it"
            ),
            "{}",
            e.sentence
        );
    }
}
