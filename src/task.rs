//! The paper's three tasks: names, order and colours. A leaf: it imports nothing of the crate,
//! and every layer above imports it.

use serde::{Deserialize, Serialize};

/// Number of tasks in the paper's network.
pub const TASKS: usize = 3;

/// The three tasks, in the order used by every `[f32; TASKS]` in this crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Task {
    /// Caricature–photo verification (paper's L1), blue in Fig. 3.
    Verif,
    /// Photo identification (paper's L3), orange in Fig. 3.
    Visual,
    /// Caricature identification (paper's L2), grey in Fig. 3.
    Cari,
}

impl Task {
    pub const ALL: [Task; TASKS] = [Task::Verif, Task::Visual, Task::Cari];

    pub fn index(self) -> usize {
        self as usize
    }

    /// Short name used in CSV headers and the CLI.
    pub fn key(self) -> &'static str {
        match self {
            Task::Verif => "verif",
            Task::Visual => "visual",
            Task::Cari => "cari",
        }
    }

    /// Name in words for legends.
    pub fn label(self) -> &'static str {
        match self {
            Task::Verif => "caricature–photo verification",
            Task::Visual => "photo identification",
            Task::Cari => "caricature identification",
        }
    }

    /// Fig. 3's colour as RGB: verif blue, visual orange, cari grey (matplotlib's C0, C1, C7).
    pub const fn rgb(self) -> [u8; 3] {
        match self {
            Task::Verif => [31, 119, 180],
            Task::Visual => [255, 127, 14],
            Task::Cari => [127, 127, 127],
        }
    }

    pub fn parse(text: &str) -> Option<Task> {
        Task::ALL.into_iter().find(|t| t.key() == text)
    }
}
