//! The loss landscape: the two-task, two-parameter toy every gradient-based MTL paper draws
//! (CAGrad, Nash-MTL, FAMO), its Pareto set, and the registry's rules moving a shared θ ∈ R²
//! with Adam from five starting points.
//!
//! | file | job |
//! |---|---|
//! | `functions.rs` | f1, f2 exactly as CAGrad's `toy.py`, their gradients (as torch's autograd gives them), the grid, the starts |
//! | `pareto.rs` | the Pareto set computed numerically, the distance to it, Pareto stationarity |
//! | `adam.rs` | `torch.optim.Adam` to rounding, and one path under a combination rule |
//! | `paths.rs` | the registry's rules (their host forms) as combination rules |
//! | `contour.rs` | contour lines of the grid, for the window |
//!
//! Every number here was checked against torch (float64): `bench/landscape_reference.py`
//! writes the reference values the tests hold the code to (`reference.rs`).

pub mod adam;
pub mod contour;
pub mod functions;
pub mod pareto;
pub mod paths;

pub use adam::{DEFAULT_LR, DEFAULT_STEPS, Path, PathPoint};
pub use functions::{STARTS, TaskLoss, Variant};
pub use paths::{
    LandscapeConfig, LandscapeError, Outcome, landscape_rules, refusal, run_rule,
    run_rule_until_stopped,
};

#[cfg(test)]
mod reference;
