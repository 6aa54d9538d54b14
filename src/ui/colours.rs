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
