//! A rule's host form: plain `f64` numbers in, weights out, for any number of tasks. The toy
//! model runs rules in this form, without a network; each rule's file builds its own (or says
//! through its `RuleSpec` why it cannot).

/// What a rule's host form is built with.
#[derive(Clone, Debug)]
pub struct HostSetup {
    /// Number of tasks T.
    pub tasks: usize,
    /// Feeds rules that draw random numbers.
    pub seed: u64,
    /// Learning rate η of the rule's own parameters (logits, log-variances).
    pub lr: f64,
    /// `None`: unbounded `softmax(a)`; `Some(s)`: the authors' `softmax(s·a/‖a‖)` (Ψ rules).
    pub scale: Option<f64>,
    /// The `static` rule's weights, already checked and normalised to sum 1.
    pub static_weights: Vec<f64>,
    /// DWA's temperature τ.
    pub dwa_temperature: f64,
}

/// What a rule sees at one step.
pub struct HostView<'a> {
    /// The step t (0 for the starting state).
    pub step: usize,
    /// The losses L(t).
    pub losses: &'a [f64],
}

/// A rule's host form.
pub trait HostRule {
    /// The weights w(t) (non-negative, summing to 1) from the rule's state and L(t).
    fn weights(&mut self, view: &HostView) -> Vec<f64>;

    /// After the step: the rule's state learns from L(t), the losses it saw.
    fn observe(&mut self, _losses_seen: &[f64]) {}
}

/// Fixed weights (equal, static, single-task).
pub struct FixedHost(pub Vec<f64>);

impl HostRule for FixedHost {
    fn weights(&mut self, _view: &HostView) -> Vec<f64> {
        self.0.clone()
    }
}

/// `1/T` for each of `tasks`.
pub fn uniform(tasks: usize) -> Vec<f64> {
    vec![1.0 / tasks as f64; tasks]
}
