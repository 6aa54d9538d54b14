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
    /// CAGrad's c.
    pub cagrad_c: f64,
}

/// What a rule sees at one step.
pub struct HostView<'a> {
    /// The step t (0 for the starting state).
    pub step: usize,
    /// The losses L(t).
    pub losses: &'a [f64],
    /// The Gram matrix of the tasks' gradients, where there are gradients (the loss
    /// landscape; `aggregate`); `None` in the toy, which has losses only.
    pub gram: Option<&'a super::gram::Gram>,
}

/// A rule's host form.
pub trait HostRule {
    /// The coefficients on the tasks for step t from the rule's state, L(t) and the Gram
    /// matrix: weights summing to 1 for the loss rules; for the rules that combine
    /// gradients, the λ of their direction d = Σ λ_i g_i. An error says why the rule has no
    /// answer (e.g. it needs gradients and there are none).
    fn weights(&mut self, view: &HostView) -> Result<Vec<f64>, String>;

    /// After the step: the rule's state learns from L(t), the losses it saw.
    fn observe(&mut self, _losses_seen: &[f64]) {}
}

/// Fixed weights (equal, static, single-task).
pub struct FixedHost(pub Vec<f64>);

impl HostRule for FixedHost {
    fn weights(&mut self, _view: &HostView) -> Result<Vec<f64>, String> {
        Ok(self.0.clone())
    }
}

/// `1/T` for each of `tasks`.
pub fn uniform(tasks: usize) -> Vec<f64> {
    vec![1.0 / tasks as f64; tasks]
}
