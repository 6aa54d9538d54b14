//! Evaluation as in the paper's Tables I–IV, on held-out data, with the authors' evaluation bugs
//! fixed (see `metrics`). The trainer calls [`evaluate`] on its own thread; results travel to
//! the window as plain numbers.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::data::batches::{HostBatch, class_of_identity};
use crate::data::{Dataset, Modality, Protocol, ProtocolFacts};
use crate::model::{Mode, Network};

pub mod metrics;
pub mod paired;
pub mod stats;

pub use stats::mean_sd;

/// Metric keys, in the order of the results table and `results.json`.
pub const METRIC_KEYS: [&str; 10] = [
    "verif_acc",
    "visual_id_top1",
    "cari_id_top1",
    "c2p_rank1",
    "c2p_rank10",
    "p2c_rank1",
    "p2c_rank10",
    "val_far_0_1",
    "val_far_1",
    "auc",
];

/// Column titles for the keys above.
pub fn metric_title(key: &str) -> &'static str {
    match key {
        "verif_acc" => "Cari-Visual verif",
        "visual_id_top1" => "Visual-id",
        "cari_id_top1" => "Cari-id",
        "c2p_rank1" => "C2P R1",
        "c2p_rank10" => "C2P R10",
        "p2c_rank1" => "P2C R1",
        "p2c_rank10" => "P2C R10",
        "val_far_0_1" => "VAL@FAR 0.1%",
        "val_far_1" => "VAL@FAR 1%",
        "auc" => "AUC",
        _ => "?",
    }
}

/// The task whose single-task run is a metric's baseline for Δm: verification and the
/// cross-modal identifications (C2P/P2C rank on the verification embedding) are `verif`'s.
pub fn metric_task(key: &str) -> Option<crate::task::Task> {
    use crate::task::Task;
    match key {
        "verif_acc" | "val_far_0_1" | "val_far_1" | "auc" | "c2p_rank1" | "c2p_rank10"
        | "p2c_rank1" | "p2c_rank10" => Some(Task::Verif),
        "visual_id_top1" => Some(Task::Visual),
        "cari_id_top1" => Some(Task::Cari),
        _ => None,
    }
}

/// Whether a larger value of a metric is better (every Table-I metric is an accuracy or a
/// rate of hits; Δm's sign follows this).
pub fn higher_is_better(key: &str) -> bool {
    METRIC_KEYS.contains(&key)
}

/// The paper's Table I as Markdown: a first column titled `first_column`, then one column per
/// metric of [`METRIC_KEYS`]; each row is a name and its cells, already formatted.
pub fn table_markdown(first_column: &str, rows: &[(String, Vec<String>)]) -> String {
    let mut out = format!("| {first_column} |");
    for key in METRIC_KEYS {
        out.push_str(&format!(" {} |", metric_title(key)));
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(METRIC_KEYS.len()));
    out.push('\n');
    for (name, cells) in rows {
        out.push_str(&format!("| {name} |"));
        for cell in cells {
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("evaluation failed in the model: {0}")]
    Model(#[from] candle_core::Error),
    #[error("evaluation impossible: {0}")]
    Data(String),
}

/// Which representation to embed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EmbeddingSource {
    #[default]
    Verif,
    Visual,
    Cari,
    /// The trunk's output Z.
    Trunk,
}

impl EmbeddingSource {
    pub const ALL: [EmbeddingSource; 4] = [
        EmbeddingSource::Verif,
        EmbeddingSource::Visual,
        EmbeddingSource::Cari,
        EmbeddingSource::Trunk,
    ];

    pub fn label(self) -> &'static str {
        match self {
            EmbeddingSource::Verif => "verification embedding",
            EmbeddingSource::Visual => "visual branch",
            EmbeddingSource::Cari => "caricature branch",
            EmbeddingSource::Trunk => "trunk Z",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct EmbeddingRequest {
    pub source: EmbeddingSource,
    /// Sample indices to embed.
    pub samples: Vec<usize>,
    /// Embed once the run has reached this step (so runs A and B can be projected at the
    /// same step); None or a step already passed: now.
    pub at_step: Option<u64>,
}

/// Embeddings as host numbers, row-major `samples.len() × dim`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Embeddings {
    pub step: u64,
    pub source: EmbeddingSource,
    pub samples: Vec<usize>,
    pub dim: usize,
    pub values: Vec<f32>,
}

/// One identification probe's outcome, for the failure inspector.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeOutcome {
    pub probe: usize,
    pub true_identity: usize,
    /// 1-based rank of the true identity; None when it is not in the gallery.
    pub true_rank: Option<usize>,
    /// Nearest gallery images (sample index, squared distance), one per identity.
    pub top: Vec<(usize, f32)>,
}

/// A figure's spread over the folds of one evaluation: the sample sd (n − 1) over `n` folds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub sd: f64,
    pub n: usize,
}

/// Everything one evaluation found.
#[derive(Clone, Debug, Default)]
pub struct EvalReport {
    pub step: u64,
    /// Metric key -> value in 0..1 (fractions, not percent).
    pub summary: BTreeMap<String, f64>,
    /// Metric key -> sample standard deviation over folds, where the metric has two or more.
    pub spread: BTreeMap<String, Spread>,
    pub verification: metrics::Verification,
    /// Verification pairs (sample a, sample b, squared distance, same person).
    pub pairs: Vec<DistancePair>,
    pub c2p: Vec<ProbeOutcome>,
    pub p2c: Vec<ProbeOutcome>,
    /// The verification embeddings of `open` samples, for the projector.
    pub open_embeddings: Embeddings,
    pub eval_secs: f64,
    /// How the figures were obtained, in words: which pairs are scored and where the thresholds
    /// come from.
    pub protocol: String,
    /// What was evaluated, in facts (name, fold, pair counts, training and test identities).
    pub facts: ProtocolFacts,
    /// True once [`EvalReport::thin`] has dropped the per-pair and per-image detail.
    pub thinned: bool,
}

impl EvalReport {
    /// Keep the figures, drop the detail (pairs, probes, embeddings, ROC points): what a queue
    /// of evaluations waiting for an absent window shrinks to.
    pub fn thin(&mut self) {
        self.pairs = Vec::new();
        self.c2p = Vec::new();
        self.p2c = Vec::new();
        self.open_embeddings.values = Vec::new();
        self.open_embeddings.samples = Vec::new();
        self.verification.roc = Vec::new();
        self.thinned = true;
    }

    pub fn is_thin(&self) -> bool {
        self.thinned
    }
}

/// Rows of per-image outputs from one forward pass.
struct Outputs {
    embeddings: [Vec<f32>; 3],
    logits: [Vec<f32>; 3],
    trunk: Vec<f32>,
}

const EVAL_BATCH: usize = 200;

fn forward_rows(
    network: &Network,
    dataset: &Dataset,
    indices: &[usize],
    want_trunk: bool,
) -> Result<Outputs, EvalError> {
    let classes = class_of_identity(dataset);
    let mut out = Outputs {
        embeddings: Default::default(),
        logits: Default::default(),
        trunk: Vec::new(),
    };
    for chunk in indices.chunks(EVAL_BATCH) {
        let batch = HostBatch::gather(dataset, chunk, &classes);
        let images = batch.images(&network.device)?;
        // Running statistics, no dropout: evaluation never changes the network.
        let fwd = network.forward(&images, Mode::Eval)?;
        for task in 0..3 {
            out.embeddings[task].extend(to_rows(&fwd.embeddings[task])?);
            out.logits[task].extend(to_rows(&fwd.logits[task])?);
        }
        if want_trunk {
            out.trunk.extend(to_rows(&fwd.z)?);
        }
    }
    Ok(out)
}

fn to_rows(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.detach().flatten_all()?.to_vec1::<f32>()
}

/// Embed the requested samples.
pub fn embed(
    network: &Network,
    dataset: &Dataset,
    request: &EmbeddingRequest,
    step: u64,
) -> Result<Embeddings, EvalError> {
    let want_trunk = request.source == EmbeddingSource::Trunk;
    let out = forward_rows(network, dataset, &request.samples, want_trunk)?;
    let values = match request.source {
        EmbeddingSource::Verif => out.embeddings[0].clone(),
        EmbeddingSource::Visual => out.embeddings[1].clone(),
        EmbeddingSource::Cari => out.embeddings[2].clone(),
        EmbeddingSource::Trunk => out.trunk,
    };
    let dim = if request.samples.is_empty() {
        0
    } else {
        values.len() / request.samples.len()
    };
    Ok(Embeddings {
        step,
        source: request.source,
        samples: request.samples.clone(),
        dim,
        values,
    })
}

/// Evaluate the network on the dataset's held-out data (or its protocol).
pub fn evaluate(network: &Network, dataset: &Dataset, step: u64) -> Result<EvalReport, EvalError> {
    let started = std::time::Instant::now();
    let mut summary = BTreeMap::new();
    let mut spread = BTreeMap::new();
    closed_set(network, dataset, &mut summary)?;
    let protocol = dataset.protocol.as_ref();
    let open = OpenEmbeddings::compute(network, dataset, protocol)?;
    let scored = verify(dataset, protocol, &open)?;
    let verification = scored.verification;
    let pairs = scored.pairs;
    let folds = verification.fold_accuracy.len();
    for (key, mean, std) in [
        (
            "verif_acc",
            verification.accuracy_mean,
            verification.accuracy_std,
        ),
        (
            "val_far_0_1",
            verification.val_far_0_1,
            verification.val_far_0_1_std,
        ),
        (
            "val_far_1",
            verification.val_far_1,
            verification.val_far_1_std,
        ),
        ("auc", verification.auc_mean, verification.auc_std),
    ] {
        summary.insert(key.into(), mean);
        // A spread exists only over two folds or more (one published fold has none).
        if folds > 1 {
            spread.insert(key.into(), Spread { sd: std, n: folds });
        }
    }
    let mut outcomes: [Vec<ProbeOutcome>; 2] = Default::default();
    for (slot, probe_modality) in [Modality::Caricature, Modality::Photo]
        .into_iter()
        .enumerate()
    {
        outcomes[slot] = identify(
            dataset,
            protocol,
            &open,
            probe_modality,
            &mut summary,
            &mut spread,
        );
    }
    let open_samples = dataset.splits.open.clone();
    let open_embeddings = Embeddings {
        step,
        source: EmbeddingSource::Verif,
        values: open_samples
            .iter()
            .flat_map(|&i| open.row(i).to_vec())
            .collect(),
        samples: open_samples,
        dim: open.dim,
    };
    let [c2p, p2c] = outcomes;
    Ok(EvalReport {
        step,
        summary,
        spread,
        verification,
        pairs,
        c2p,
        p2c,
        open_embeddings,
        eval_secs: started.elapsed().as_secs_f64(),
        protocol: scored.description,
        facts: scored.facts,
        thinned: false,
    })
}

/// Closed set: held-out images of training identities, through each branch's own classifier
/// (visual-id on photos, cari-id on caricatures).
fn closed_set(
    network: &Network,
    dataset: &Dataset,
    summary: &mut BTreeMap<String, f64>,
) -> Result<(), EvalError> {
    let samples = &dataset.images.samples;
    let classes = class_of_identity(dataset);
    let closed = &dataset.splits.closed_test;
    let out = forward_rows(network, dataset, closed, false)?;
    let k = network.classes;
    for (task, modality, key) in [
        (1, Modality::Photo, "visual_id_top1"),
        (2, Modality::Caricature, "cari_id_top1"),
    ] {
        let mut logits = Vec::new();
        let mut labels = Vec::new();
        for (row, &index) in closed.iter().enumerate() {
            let sample = &samples[index];
            let class = classes[sample.identity].filter(|_| sample.modality == modality);
            if let Some(class) = class {
                logits.extend_from_slice(&out.logits[task][row * k..(row + 1) * k]);
                labels.push(class);
            }
        }
        let acc = if labels.is_empty() {
            f64::NAN
        } else {
            metrics::top1_accuracy(&logits, k, &labels)
        };
        summary.insert(key.to_string(), acc);
    }
    Ok(())
}

/// Verification embeddings of the held-out identities and of every image the protocol names.
struct OpenEmbeddings {
    row_of: std::collections::HashMap<usize, usize>,
    values: Vec<f32>,
    dim: usize,
}

impl OpenEmbeddings {
    fn compute(
        network: &Network,
        dataset: &Dataset,
        protocol: Option<&Protocol>,
    ) -> Result<OpenEmbeddings, EvalError> {
        let mut wanted: Vec<usize> = dataset.splits.open.clone();
        if let Some(p) = protocol {
            let pairs = p.verification.iter().chain(&p.calibration);
            wanted.extend(pairs.flat_map(|pair| [pair.a, pair.b]));
            for fold in p.c2p.iter().chain(p.p2c.iter()) {
                wanted.extend(fold.gallery.iter().chain(fold.probes.iter()));
            }
        }
        wanted.sort_unstable();
        wanted.dedup();
        let out = forward_rows(network, dataset, &wanted, false)?;
        let [values, _, _] = out.embeddings;
        let dim = values.len().checked_div(wanted.len()).unwrap_or(0);
        Ok(OpenEmbeddings {
            row_of: wanted.iter().enumerate().map(|(r, &i)| (i, r)).collect(),
            values,
            dim,
        })
    }

    /// The embedding of sample `index` (which must have been wanted).
    fn row(&self, index: usize) -> &[f32] {
        let r = self.row_of[&index];
        &self.values[r * self.dim..(r + 1) * self.dim]
    }

    /// Each pair's squared distance: scored pairs for the metrics, and the same pairs with
    /// their samples for the failure inspector.
    fn score(&self, raw: &[RawPair]) -> (Vec<metrics::ScoredPair>, Vec<DistancePair>) {
        raw.iter()
            .map(|&(a, b, same, fold)| {
                let distance = metrics::squared_distance(self.row(a), self.row(b));
                let scored = metrics::ScoredPair {
                    distance,
                    same,
                    fold,
                };
                (scored, (a, b, distance, same))
            })
            .unzip()
    }
}

/// Generated caricature–photo pairs of the held-out identities (the synthetic protocol).
fn generated_pairs(dataset: &Dataset) -> Vec<RawPair> {
    let samples = &dataset.images.samples;
    let labelled: Vec<(usize, usize, bool)> = dataset
        .splits
        .open
        .iter()
        .map(|&i| {
            let caricature = samples[i].modality == Modality::Caricature;
            (i, samples[i].identity, caricature)
        })
        .collect();
    metrics::make_cross_modal_pairs(&labelled, 20, 0x5eed)
}

/// The verification figures, the scored pairs, and what was evaluated.
struct Scored {
    verification: metrics::Verification,
    pairs: Vec<DistancePair>,
    description: String,
    facts: ProtocolFacts,
}

/// Verification by the published protocol's fold when the dataset has one (its pairs scored,
/// thresholds chosen on its calibration pairs, or cross-validated over its listed folds when it
/// has none), else over 10 folds of generated pairs of the held-out identities. A protocol
/// without verification pairs (e.g. a copy with C2P/P2C lists only) has no verification
/// figures (NaN). Never falls back from a protocol to other pairs: a fold that cannot be
/// evaluated is an error naming it.
fn verify(
    dataset: &Dataset,
    protocol: Option<&Protocol>,
    open: &OpenEmbeddings,
) -> Result<Scored, EvalError> {
    let mut facts = dataset.facts.clone();
    let Some(protocol) = protocol else {
        let raw = generated_pairs(dataset);
        if raw.is_empty() {
            return Err(EvalError::Data(
                "no caricature–photo pairs among the held-out identities".into(),
            ));
        }
        let (scored, pairs) = open.score(&raw);
        let verification = metrics::verification(&scored).map_err(EvalError::Data)?;
        count_raw(&mut facts, &raw);
        let description = format!(
            "{}: verification on {} generated caricature–photo pairs of them in 10 folds, each scored with the threshold best on the other 9; {}",
            facts.name,
            raw.len(),
            identification_source(dataset, None)
        );
        return Ok(Scored {
            verification,
            pairs,
            description,
            facts,
        });
    };
    let raw = raw_pairs(&protocol.verification);
    let (scored, pairs) = open.score(&raw);
    facts.count_pairs(&protocol.verification);
    let (verification, thresholds) = if raw.is_empty() {
        (
            not_evaluated(),
            "its protocol lists no verification pair".to_string(),
        )
    } else if protocol.calibration.is_empty() {
        let (renumbered, folds) = renumbered(&scored);
        let v = metrics::verification(&renumbered).map_err(|e| protocol_error(protocol, &e))?;
        (
            v,
            format!("thresholds cross-validated over its {folds} listed folds"),
        )
    } else {
        let (calibration, _) = open.score(&raw_pairs(&protocol.calibration));
        let v = metrics::verification_calibrated(&scored, &calibration)
            .map_err(|e| protocol_error(protocol, &e))?;
        let n = calibration.len();
        (v, format!("thresholds chosen on {n} other listed pairs"))
    };
    let description = format!(
        "{}: verification on the {} listed pairs of {}, {thresholds}; {}",
        facts.name,
        raw.len(),
        fold_names(protocol),
        identification_source(dataset, Some(protocol))
    );
    Ok(Scored {
        verification,
        pairs,
        description,
        facts,
    })
}

/// Where C2P/P2C's galleries and probes come from, in words (see [`identification_folds`]).
fn identification_source(dataset: &Dataset, protocol: Option<&Protocol>) -> &'static str {
    if protocol.is_some_and(|p| !p.c2p.is_empty() || !p.p2c.is_empty()) {
        "C2P/P2C on its gallery and probe lists"
    } else if !dataset.splits.open.is_empty() {
        "C2P/P2C with every held-out image of the other modality as the gallery"
    } else {
        "no C2P/P2C (the protocol lists none, and no identity is held out)"
    }
}

fn raw_pairs(pairs: &[crate::data::VerificationPair]) -> Vec<RawPair> {
    pairs.iter().map(|v| (v.a, v.b, v.same, v.fold)).collect()
}

fn count_raw(facts: &mut ProtocolFacts, raw: &[RawPair]) {
    facts.pairs_matched = raw.iter().filter(|p| p.2).count();
    facts.pairs_mismatched = raw.len() - facts.pairs_matched;
}

/// The listed folds numbered 0.. in order (cross-validation wants them consecutive), and how
/// many there are.
fn renumbered(scored: &[metrics::ScoredPair]) -> (Vec<metrics::ScoredPair>, usize) {
    let folds: std::collections::BTreeSet<usize> = scored.iter().map(|p| p.fold).collect();
    let index: BTreeMap<usize, usize> = folds.iter().enumerate().map(|(i, &f)| (f, i)).collect();
    let pairs = scored
        .iter()
        .map(|p| metrics::ScoredPair {
            fold: index[&p.fold],
            ..*p
        })
        .collect();
    (pairs, folds.len())
}

fn fold_names(protocol: &Protocol) -> String {
    let folds: std::collections::BTreeSet<usize> =
        protocol.verification.iter().map(|p| p.fold).collect();
    let names: Vec<String> = folds.iter().map(|&f| protocol.fold_name(f)).collect();
    names.join(", ")
}

fn protocol_error(protocol: &Protocol, detail: &str) -> EvalError {
    EvalError::Data(format!(
        "{} cannot be evaluated: {detail}",
        fold_names(protocol)
    ))
}

/// Verification figures of a protocol that has no verification part.
fn not_evaluated() -> metrics::Verification {
    metrics::Verification {
        accuracy_mean: f64::NAN,
        accuracy_std: f64::NAN,
        val_far_0_1: f64::NAN,
        val_far_1: f64::NAN,
        val_far_0_1_std: f64::NAN,
        val_far_1_std: f64::NAN,
        auc_mean: f64::NAN,
        auc_std: f64::NAN,
        mean_threshold: f32::NAN,
        ..metrics::Verification::default()
    }
}

/// The gallery/probe splits for probes of one modality: the protocol's lists as given, or,
/// where it has none, every held-out image of the other modality as the gallery.
fn identification_folds(
    dataset: &Dataset,
    protocol: Option<&Protocol>,
    probe_modality: Modality,
) -> Vec<(Vec<usize>, Vec<usize>)> {
    if let Some(p) = protocol {
        let folds = if probe_modality == Modality::Caricature {
            &p.c2p
        } else {
            &p.p2c
        };
        if !folds.is_empty() {
            return folds
                .iter()
                .map(|f| (f.gallery.clone(), f.probes.clone()))
                .collect();
        }
    }
    let samples = &dataset.images.samples;
    let (probes, gallery): (Vec<usize>, Vec<usize>) = dataset
        .splits
        .open
        .iter()
        .partition(|&&i| samples[i].modality == probe_modality);
    vec![(gallery, probes)]
}

/// C2P (caricature probes) or P2C (photo probes): rank-1 and rank-10 over the folds into
/// `summary`/`spread`; returns the first fold's per-probe outcomes for the failure inspector.
fn identify(
    dataset: &Dataset,
    protocol: Option<&Protocol>,
    open: &OpenEmbeddings,
    probe_modality: Modality,
    summary: &mut BTreeMap<String, f64>,
    spread: &mut BTreeMap<String, Spread>,
) -> Vec<ProbeOutcome> {
    let prefix = match probe_modality {
        Modality::Caricature => "c2p",
        Modality::Photo => "p2c",
    };
    let samples = &dataset.images.samples;
    let gather = |list: &[usize]| -> (Vec<f32>, Vec<usize>) {
        let values = list.iter().flat_map(|&i| open.row(i).to_vec()).collect();
        (values, list.iter().map(|&i| samples[i].identity).collect())
    };
    let (mut rank1, mut rank10, mut outcomes) = (Vec::new(), Vec::new(), Vec::new());
    for (gallery, probes) in identification_folds(dataset, protocol, probe_modality) {
        let (pv, pid) = gather(&probes);
        let (gv, gid) = gather(&gallery);
        let cmc = metrics::cmc(&pv, &pid, &gv, &gid, open.dim, 10);
        if cmc.probes == 0 {
            continue;
        }
        rank1.push(cmc.rank_hits[0]);
        rank10.push(cmc.rank_hits[cmc.rank_hits.len().min(10) - 1]);
        if outcomes.is_empty() {
            outcomes = metrics::rank_probes(&pv, &pid, &gv, &gid, open.dim, 5)
                .into_iter()
                .map(|r| ProbeOutcome {
                    probe: probes[r.probe],
                    true_identity: pid[r.probe],
                    true_rank: r.true_rank,
                    top: r.top.iter().map(|&(g, d)| (gallery[g], d)).collect(),
                })
                .collect();
        }
    }
    for (key, values) in [
        (format!("{prefix}_rank1"), rank1),
        (format!("{prefix}_rank10"), rank10),
    ] {
        let (mean, sd) = mean_sd(&values);
        summary.insert(key.clone(), mean);
        if values.len() > 1 {
            let n = values.len();
            spread.insert(key, Spread { sd, n });
        }
    }
    outcomes
}

/// A verification pair before scoring: (sample a, sample b, same person, fold).
type RawPair = (usize, usize, bool, usize);
/// A scored pair for the failure inspector: (sample a, sample b, squared distance, same person).
type DistancePair = (usize, usize, f32, bool);
