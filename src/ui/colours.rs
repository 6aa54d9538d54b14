//! The window's colours: Fig. 3's task colours and the marker colours of runs A and B.

use egui::Color32;

use crate::task::{TASKS, Task};

const fn colour(task: Task) -> Color32 {
    let [r, g, b] = task.rgb();
    Color32::from_rgb(r, g, b)
}

/// Fig. 3's colours, indexed like every `[f32; TASKS]`: verif blue, visual orange, cari grey.
pub const TASK_COLOURS: [Color32; TASKS] = [
    colour(Task::Verif),
    colour(Task::Visual),
    colour(Task::Cari),
];

/// The gradient lens's pair colours, in `train::lens::PAIRS`' order (verif·visual,
/// verif·cari, visual·cari): hues none of the tasks takes, far apart so that three noisy lines
/// can be told apart (the mean of two tasks' colours made visual·cari read as visual's orange).
pub const PAIR_COLOURS: [Color32; 3] = [
    Color32::from_rgb(200, 80, 190),
    Color32::from_rgb(40, 180, 170),
    Color32::from_rgb(225, 60, 60),
];

/// Run A's and run B's colour for markers and per-run curves.
pub const RUN_COLOURS: [Color32; 2] = [
    Color32::from_rgb(160, 60, 200),
    Color32::from_rgb(60, 160, 120),
];

/// A panel's frame without its fill. The window is cleared to the panel colour once
/// (`LabApp::clear_color`), so a panel painting that colour again shades every pixel a second
/// time; on a software renderer (no GPU) shading is most of a frame's cost, paid by training.
pub fn unfilled(frame: egui::Frame) -> egui::Frame {
    frame.fill(Color32::TRANSPARENT)
}

/// Rules' colours in the Sweep tab, in the sweep's order (Tableau's 10, then their lighter
/// tints; repeating past 20 rules).
const RULE_COLOURS: [Color32; 20] = [
    Color32::from_rgb(31, 119, 180),
    Color32::from_rgb(255, 127, 14),
    Color32::from_rgb(44, 160, 44),
    Color32::from_rgb(214, 39, 40),
    Color32::from_rgb(148, 103, 189),
    Color32::from_rgb(140, 86, 75),
    Color32::from_rgb(227, 119, 194),
    Color32::from_rgb(127, 127, 127),
    Color32::from_rgb(188, 189, 34),
    Color32::from_rgb(23, 190, 207),
    Color32::from_rgb(174, 199, 232),
    Color32::from_rgb(255, 187, 120),
    Color32::from_rgb(152, 223, 138),
    Color32::from_rgb(255, 152, 150),
    Color32::from_rgb(197, 176, 213),
    Color32::from_rgb(196, 156, 148),
    Color32::from_rgb(247, 182, 210),
    Color32::from_rgb(199, 199, 199),
    Color32::from_rgb(219, 219, 141),
    Color32::from_rgb(158, 218, 229),
];

/// The colour of the sweep's `i`-th rule.
pub fn rule_colour(i: usize) -> Color32 {
    RULE_COLOURS[i % RULE_COLOURS.len()]
}
