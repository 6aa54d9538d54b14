//! Guided lessons. Each is a lab code (see `code.rs`: the whole lab it opens, the lesson's name
//! and the controls it hides included), a title and two or three sentences. A lesson is
//! authored in the window: set the lab up, hide what the lesson does not need, Files ▸ Copy lab
//! code, and paste the code here; the tests check every code opens its own lesson and hides
//! what [`Lesson::hides`] says.
//!
//! When the code's version or the lab's settings change, `cargo test --release --lib --
//! --ignored print_generated_codes --nocapture` prints every lesson's code built from its setup
//! in `generate::settings_of`, to paste back.

use serde::{Deserialize, Serialize};

/// Controls a lesson can hide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Control {
    Seed,
    Preset,
    Device,
    Rates,
    Scale,
    Strategy,
    Fork,
    Perturb,
    /// The per-task "hold w" controls of each run.
    Hold,
    Layout,
    Explain,
    /// The Toy tab's switch between the losses-only toy and the loss landscape.
    ToyView,
    /// The landscape's optimiser and variant (steps, rates, scaled loss).
    LandscapeSettings,
    /// The gradient lens and the gradient rules' space.
    Gradients,
}

impl Control {
    pub const ALL: [Control; 14] = [
        Control::Seed,
        Control::Preset,
        Control::Device,
        Control::Rates,
        Control::Scale,
        Control::Strategy,
        Control::Fork,
        Control::Perturb,
        Control::Hold,
        Control::Layout,
        Control::Explain,
        Control::ToyView,
        Control::LandscapeSettings,
        Control::Gradients,
    ];
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
    LandscapePaths,
}

/// Every control but these.
const fn all_but<const N: usize>(shown: [Control; N]) -> [bool; 14] {
    let mut hidden = [true; 14];
    let mut i = 0;
    while i < N {
        hidden[shown[i] as usize] = false;
        i += 1;
    }
    hidden
}

impl Lesson {
    pub const ALL: [Lesson; 9] = [
        Lesson::TwoTasksToy,
        Lesson::NaiveStarves,
        Lesson::ProposedChases,
        Lesson::SwitchMidRun,
        Lesson::HardestChanges,
        Lesson::ReadingEmbeddings,
        Lesson::IdeaBreaks,
        Lesson::TasksPullApart,
        Lesson::LandscapePaths,
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
            Lesson::LandscapePaths => "9 · Paths on the loss landscape",
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
            Lesson::LandscapePaths => LANDSCAPE_PATHS,
        }
    }

    /// The controls the lesson hides (its code hides exactly these).
    pub fn hides(self) -> Vec<Control> {
        let hidden = match self {
            Lesson::TwoTasksToy => all_but([]),
            Lesson::NaiveStarves | Lesson::ProposedChases => all_but([Control::Explain]),
            Lesson::SwitchMidRun => all_but([Control::Strategy, Control::Fork, Control::Explain]),
            Lesson::HardestChanges => all_but([Control::Perturb, Control::Explain]),
            Lesson::ReadingEmbeddings => all_but([Control::Strategy]),
            Lesson::IdeaBreaks => all_but([Control::Rates, Control::Explain]),
            Lesson::TasksPullApart => all_but([
                Control::Perturb,
                Control::Explain,
                Control::Gradients,
                Control::Strategy,
            ]),
            Lesson::LandscapePaths => all_but([]),
        };
        Control::ALL
            .into_iter()
            .filter(|c| hidden[*c as usize])
            .collect()
    }

    /// The lab code the lesson opens.
    pub fn code(self) -> &'static str {
        match self {
            Lesson::TwoTasksToy => TWO_TASKS_TOY,
            Lesson::NaiveStarves => NAIVE_STARVES,
            Lesson::ProposedChases => PROPOSED_CHASES,
            Lesson::SwitchMidRun => SWITCH_MID_RUN,
            Lesson::HardestChanges => HARDEST_CHANGES,
            Lesson::ReadingEmbeddings => READING_EMBEDDINGS,
            Lesson::IdeaBreaks => IDEA_BREAKS_CODE,
            Lesson::TasksPullApart => TASKS_PULL_APART_CODE,
            Lesson::LandscapePaths => LANDSCAPE_PATHS_CODE,
        }
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

/// Lesson 9's text. What it says was measured with `cari-mtl toy --landscape cagrad --table`
/// and `--rule R --start X,Y` (100,000 Adam steps at lr 0.001 from each start): MGDA, CAGrad
/// and proposed end Pareto-stationary from all five starts; naive stalls 12 and 13 from the
/// front from (−8.5, 7.5) and (9, 9), with w1 = 1.000 and w2 = 1.000 at the end, as equal
/// weights stall 11 away; MGDA ends at x = −3.32 and 3.33 from those two, at x = −6.99 from
/// (−8.5, −5); CAGrad within 1e-4 of x = 0 and proposed within 0.2 of it from every start.
const LANDSCAPE_PATHS: &str = "Two tasks share two parameters θ = (x, y): grey contours of their mean loss, and the Pareto set as the thick gold curve, where no task can improve without the other getting worse. Naive, proposed, MGDA and CAGrad each run 100,000 Adam steps from the same five starts. MGDA and CAGrad end on the front from every start: MGDA's minimum-norm combination improves both tasks at every step and stops at the first Pareto point it meets (x ≈ ±3.3 from the upper corners); CAGrad stays near the mean gradient without letting either task get worse, and ends at the front's middle. Naive stalls from the two upper starts: there each loss has a narrow log gorge, naive puts all the weight on the task with the smaller loss — the one whose gorge the path is in — and follows that gorge for good (equal weights stall the same way). Proposed weights the task with the larger loss, climbs out, and ends near the middle from all five. The arrows are −∇f1 (blue), −∇f2 (orange) and the rule's step (its colour); hover a path for its weights.";

const TWO_TASKS_TOY: &str = "CARI1.vVRLb6MwEP4vPqOIdNseOG73dchhtYn2UiFrChOwYmxkm9Ao4r_vjDHZtMr2uJECzMP-5pvXWQR4EYXY2ZPIhIaTHQKJW1Xj5xM_Ses7a0OrTCOKfPWYiRG0lkF1KOFVeVHsQXskt9aOEl97DcqIIriBdEmUbiBVTj6ItSjWmegdemSknTKM7LBSPZK8oXBIhIB081lox6B5zke8kklcT3RVBZoOmEFrCglV0wYvHULVSsI2hyWExkGt0IR4HQvS91AxVA8OOs-00UTrYtDgA6nxiO4kiodpml3kUeFI5ifrlUEfPUDL5HaXM7_AkTeKg38-L-KJwZztrSf27yL3AYKqZCJAp_LVfZavPvG_zEQ9ghyVqe3ICLMcsOuRLh4c3XK3Im0FkVjFybmfsjfABtQR_wNqyRBO9WGmTr7k-kIwlpP7TObW6jp-coQf2kkI1JBUksqavWr4yw0a3-UxgAtSW-9jujmmfPVAZ_faWjezWpNqXV4aijT5Q_LiXlqvYtGw90sBP8xSuXTwP3JCjeLYV6Zgl9ynxtnMofKcmZqQuOGvKR7BKTA8FU8xteIS2zrnX3Y9Dgwh_3K4jvtNYW4We8nB7cImjtMMwicuTK7S3zU1iAVMlKke7B0H78aDfIhssEMszrw25meyXs1qWipgVBd7RHqsSP1ISY7j6L01vD5GuwN_8PP-alVdo-F4txhj_DmvmUx8waOqmMCv2AiZ2MaE0XuZlEx8s-7AZ-bOpK8f1JD02sxbMRNf03LLeF3-5pqyMZVyiyHQjuS7v19olNMf";
const NAIVE_STARVES: &str = "CARI1.vVTNbtswDH4XnY3AyZoeclyHbYdgGJZilyIQWJuxhcqSIcl2jcDvPlKWs7TIelwAKxJF8vv4p7MI8Cx2Yk9rJjSMtgt0PKgSP4-8ktQ31oZamUrs8tV9JgbQWgbVoIRX5cXuBNojqdV2kPjaalBG7ILrSJaO0nUkWpMOYhk3rUOPjPSozEgYDgvV4oWIg4Dk-Sy0Y9A8ZxOvZDquJ3JVgCYD02lNlFBVdfDSIRS1JGzzslCoHJQKTYju-CB9CwVDteCg8Rw2mni7XGjwgcTYoxvFbjtNs4rsFQ50_WC9MuijBmiZ1DZ5TqQCM68Uk386L8eRwZxtrafo3zH3AYIqZAqArPLVXZavPvF3zEQ5gByUKe3ACPM5YNMiOe4cedmsSFpADKzg5NxN2RtgA6rH_4B6ZAin2jCHTrqk-kwwlpP7RNe11WXcMsMP7-kQ7MglKaw5qYp3rtP4Lo8BXJDaeh_TzZzW9OWrLdmftLVujmydpe94aSyS5lsSbZI29xXbkk9s_VLMDzN2XLr5H_mhpnGsKxPxpQ6pifYzbZ45UxISN_91uD04BYYn5CGmWVy4rXP-ZdejwRDybwzXvN8U6WbhtykHt4ucYpxmELa4RHJViqYqQSxg4phqw9pxCG8spEPBBtvFIs1PyLym26u5TQ8MGNXEfpEeCxLfU5LjaHpv6XkRP5jXgYD7mNhalSUaJnzASPLn_OZk4gv2quAIfsVuyMQhZoz-l7HJxFfrXthmblPafafupL_9_ERm4tGOv7mULEoVPGAI9Eyyx28X9sfpDw";
const PROPOSED_CHASES: &str = "CARI1.vVTNbtswDH4XnY3A6ZoeclyGbYcciqXYpTAE1mZsobJkSHJcI_C7j5TlLC2yHmfAskWR_D7-6SwCvIit2NOaCQ2j7QNtD6rCryOvJPWttaFRphbbfPWQiQG0lkG1KOFNebE9gvZIao0dJL51GpQR2-B6kqWtdD2JctJBrMR2nYnOoUdGelJmJAyHperwQsRBQPJ8FtoxaJ6ziVcybdcTuSpBk4HptSZKqOomeOkQykYStnldKNQOKoUmRHe8kb6DkqE6cNB6DhtNPF0ONPhAYjyhG8V2M02zijwpHOh4Z70y6KMGaJnU7nKOLzDzWjH55_OyHRnM2c56iv4Dcx8gqFKmAMgqX91n-eoLv0UmqgHkoExlB0aY9wHbDslx78jL3YqkJcTASk7O_ZS9AzagTvgfUAuGcKoLc-ikS6ovBGM5uc903FhdxV9m-Ok5bYIduSSlNUdV85_rNX7IYwAXpLbex3QzpzW9-WpD9kdtrZsjW2fpLS6NRdJ8Q6K7pM19xbbkEzu_FPPTjBVLN_8jP9Q0jnVlIr7UITXRfqbNM2cqQuLmvw73BE6B4QnZxTSLC7d1zk92PRoMIf_GcM37XZFuFn6TcnC7yCnGaQZhi0skV6Vo6wrEAiaKVBvWjkN4YyEdCjbYPhZpvkLmNZ1ezW26YMCoNvaL9FiS-IGSHEfTe0vXi3hMfHYNzKltVFWhYcoHjDQf51snE9_wpEqO4Vfsh0wcYs7ouwxOJr5b98o2c6PS30_qT_rs50syE092_M3FZFGq4QFDoIuSPf648C-mPw";
const SWITCH_MID_RUN: &str = "CARI1.xVTNitswEH4XnU1w0s0ecuwW2kMKZbP0shihtSf2UFkykhyvCX73zshy6kK61wasaP6_-dFcRVBv4iCOdGZCq9H2gcgTVvB55JO4vrU2NGhqccg3j5kYlNYyYAtSvaMXh7PSHkitsYOE904rNOIQXE-8RErXEysnHYBKHLaZ6Bx44EgvaEaK4aDEDm5AnApAnq9COw6a52ziUSZyO5GrUmkyML3WBAmwboKXDlTZSIptfi0QaqcqBBOiOyak71TJoTrlVOs5bTBRugi08oHYcAE3isN-mmYVeUEYSPxkPRrwUUNpmdR2OecXGHmNDP71upAkFUbhJRZzDdsHFbCUCT2Z5JuHLN984q_IRDUoOaCp7MDuZzpA2wF57R152W2IW6qYVcmVeZiy_xK14BAOuzDnTbqk-kZhLFf2lcSN1VW8MsIP5UQEO3I_SmvOWPPN9Tp2zNnOehqhmIQLUlvvY60Z05a-fLMn-7O21s2ZbbP0FbepIm6-J9YuafNQsS35hM4vnfywYsUyyv-oD02MY12ZgC99SBN0nGHzgzMVReLJX6d7UQ6V4efxFMssbti2Of-y9bvgEPJPDmvcfzXpbuP3qQb3m5xynOYgbHHLZNWKtq6UWIKJIvWGteMLvHOQDiUbbB-bNO-P-UzS1aNN20UZbOO8SA8lsR-pyPFdem8Nb6wBQ9l8x-qZVg2NE1YVGAZ8ggjyx7xwMvEFLlhyBs9xGjJxihUjjXko6faNZpH-jvM2zMSLHX9y45iV-nWCEGgjsv3XG9Zi-g0";
const HARDEST_CHANGES: &str = "CARI1.vVTNbtswDH4XnY3A6ZoeclyGrYcchqXYpTAE1mZsobJkSHJcI_C7j5TlLC2yHmfAsklR_D7-6SwCvIit2NOaCQ2j7QOJB1Xh15FX0vrW2tAoU4ttvnrIxABay6BalPCmvNgeQXsks8YOEt86DcqIbXA96ZIoXU-qnGwQK7FdZ6Jz6JGRnpQZCcNhqTq8EHEQkDyfhXYMmud8xCuZxPVErkrQdMD0WhMlVHUTvHQIZSMJ27wuFGoHlUITojsWpO-gZKgOHLSew0YTd5cNDT6QGk_oRrHdTNNsIk8KB9reWa8M-mgBWiazu5zjC8y8Vkz--byII4M521lP0X9g7gMEVcoUAJ3KV_dZvvrCb5GJagA5KFPZgRFmOWDbITnuHXm5W5G2hBhYycm5n7J3wAbUCf8DasEQTnVhDp1syfSFYCwn95m2G6ur-MsMP90nIdiRS1Jac1Q1_7le44c8BnBBaut9TDdzWtObrzZ0_qitdXNk6yy9xaWxSJtvSHWXrLmv-Cz5xM4vxfw0Y8XSzf_IDzWNY1uZiC91SE20n2nzzJmKkLj5r8M9gVNgeEJ2Mc3iwm2d85NdjwZDyL8xXPN-V6Sbhd-kHNwucopxmkH4xCWSq1K0dQViARNFqg1bxyG8sZANBRtsH4s0XyHzmnav5jZdMGBUG_tFeixJ_UBJjqPpvaXrRTyCq9CHXQOmjqltVFWhYcoHjDR_zrdOJr7hSZUcw6_YD5k4xJzRdxmcTHy37pU-j9SV9NnPV2Mmnuz4m0vIqlS5A4ZA1yP7-XFhXUx_AA";
const READING_EMBEDDINGS: &str = "CARI1.vVTNbtswDH4XnYXA6ZoefFzXbYcciqbYpTAExWZsrbJkSHJcI_C7j5TlLC2yHhfAivinjx9J6cSC3LOcPTr7G8pgHeNMy9H2AZU7VcHXkVbU-tba0ChTszxb3XE2SK1FUC0I-aY8yw9Se0C3xg4C3jotlWF5cD3qkihcj6oMfQAqlq856xx4IKRnZUbEcFCqDlDeYlIoygB48olpR6BZRiFeiSSuJzyqlBoDTK81pgSqboIXDmTZCMQ2r0sKtZOVAhPicSQI38mSoDrpZOuJNphoXQxa-oBqOIIbWb6ZptlFHBUMaL63Xhnw0UNqkdxuMuIXKPNaUfIvp0UcCczZznpk_yFzH2RQpUgEMCpb3fJs9YW-grNqkGJQprIDIcxygLYDPLh3eMrNCrWljMRKKs7txN8BG6mO8B9QC4JwqgszdfRF1z3CWCruC5obq6u4pQw_taMQ7EgtKa05qJp2rtfwoY5BuiC09T6Wm3Ja45etNhh_0Na6mdmap684DxZqsw2qbpI3zRXF4pnQ-aWZn1asWKb5H_XBoXHkK1LiSx_SEG3ntOnOmQqRaPgv6R6lU9LQDbmPZWbn3NYZ_fjl1SAI8ZfDZd7vmnS18ZtUg-tNThynGYQizkwuWtHWlWQLGCtSb8g7XsIrC_og2WD72KT5CZnXZL24t-mBkUa1cV6EhxLVd1jkeDW9t_i8sCfACFM_tHuoaEPVbVRVgaGsdxAzfZwfHs6-wVGVROMpjgRnu1g2zr5b90qO84Di7ifOJf5t58eRs4f0xnH2bMdf1E4ypi7uIISE_ePMoJj-AA";
const IDEA_BREAKS_CODE: &str = "CARI1.vVTNbqMwEH4Xn1FEuk0PHNvV_kg5rJRqLxWypjABK8ZGtglFUd59Z4zJplW2x0XCMOOxv29-TyLAqyjEltZMaJjsEEjcqRofJ15J6ztrQ6tMI4p89ZCJEbSWQXUo4U15UexBeySz1o4S33oNyogiuIF0SZRuIFVONoi1KNaZ6B16ZKRnZSbCcFipHi9EHASkm09COwbNcz7ilVzE_P5Ml1Wg6YgZtCZSqJo2eOkQqlYSujksJBoHtUIT4oUsSN9DxWA9OOg8O44m7i4bGnwgNR7RTaLYnM-ziTwqHGn7yXpl0EcL0DKZ3eXsYWDujWL6L6dFnBjM2d568v8Dcx8gqEomB-hUvrrP8tUXfstM1CPIUZnajowwywG7HuniwdEtdyvSVhAdqzg8FJt3wAbUEf8DaskQTvVhdp1syfSVYCwH94W2W6vr-MsMP90nIdiJU1JZs1cN_7lB44c4BnBBaut9DDdzWtObrzZ0fq-tdbNn6yy95aW0SJtvSHWXrLmy-Czdib1fkvlpxMqlnv8RHyoax7YyEV_ykIpoO9PmrjM1IXH5X7t7BKfAcI88xTCLC7d1zk923RwMIf_6cM37XZJuJn6TYnA7ycnH8wzCJy6eXKWia2oQC5goU27YOjbhjYVsyNlgh5ikeYjMa9q96ts0YsCoLtaL9FiR-oGCHFvTe0sDRvysER5pAhw4rK2qazRMd4eR4q955mTiKx5Vxfx3MU70XZolE9-sO7DtXJz094Nqkj7beTRm4tlOvzmBrEp522EINB4Z9PuFc3n-Aw";
const TASKS_PULL_APART_CODE: &str = "CARI1.vVQ9b9swEP0vnAVDTuMM3toURQcPQR10CQTiIp0lwhQpkJQVwdB_7x1FuU7gZqwAUeLxyPfeffAsAryKrdjRmAkNo-0DTfeqwm8jj2T1rbWhUaYW23z1kIkBtJZBtSjhTXmxPYD2SG6NHSS-dRqUEdvgerKlqXQ9mXLyQazEdp2JzqFHRnpWZiQMh6Xq8ELEQUA6-Sy0Y9A85y1eyTRdT3RUCZo2mF5rooSqboKXDqFsJGGb40KhdlApNCEexxPpOygZqgMHrWfZaOLqsqDBBzLjCd1IbKdpdpEnhQMtP1qvDProAVomt7uc9QVmXism_3JepiODOdtZT-o_MPcBgiplEkC78tV9lq--8FtkohpADspUdmCEeR6w7ZAO7h2dcrciawlRWMnBuZ-yd8AG1An_A2rBEE51YZZOvuT6SjCWg_tCy43VVfxlhp-u0yTYkVNSWnNQNf-5XuOHOAZwQWrrfQw3c1rTm682tP-grXWzsnWW3uJSWGTNN2S6S95cV7yXzsTOL8n8NGLFUs3_iA8VjWNfmYgveUhFtJtpc8-ZipC4-K_lnsApMNwhjzHM4sJtnfOTXbcGQ8i_Gq55v0vSzcRvUgxuJzlpnGYQ3nFRcpWKtq5ALGCiSLlh79iENwbyIbHB9jFJ8xUyj2n1qm_TBQNGtbFepMeSzA8U5Nia3lvDVwn4o38i1V-ps7mBG1VVaJjyHiPNp_nWycR3PKmSNfyK9ZCJfYxZJn5Yd6TPTypF-uzm-zATz3b8zXljU0rXHkOgO9GLYvoD";
const LANDSCAPE_PATHS_CODE: &str = "CARI1.vVTNbtswDH4XnYXAyZoeclz3d8ihWIpdikBgbSYWKkuGJMcNAr_7SFlOkyLrcQZsixTFjx9_dBIRXsRKPLmjkMLA0XWRxI2u8OuRv6QNjXOx1nYvVsXsXooejFFRN6jgTQex2oEJSGa16xW-tQa0FavoO9JlUfmOVAXZIFZiNZei9RiQkZ60ZWSPpW6R5DWFQyJEJM8nYTyDFgUfCVplcT6QqxIMHbCdMRQS6n0dg_IIZa0I275OIew9VBptTO5YUKGFkqFa8NAEpo027U4bBkIkNR7QH8VqOQyjiTpo7Gn7wQVtMSQLMCqbLQrmFznyvebgn0-TeGQw71oXiP2HyEOEqEuVCdCpYnYni9kXfrdSVD2oXtvK9YwwyhGbFslx58nLYkbaEhKxkpNzN8grYAv6gP8BdcsQXrdxpE62ZPpCMI6T-0zbtTNVWnKEn-6TEKkhqSSlszu955XvDH7IYwQflXEhpHRzTHN6i9mSzu-Mc35kNpf53Z4bi7TFklSLbM19xWfJJ7ZhKuanGdtO3fyP_FDTeLZVOfCpDrmJ1mArAmgxjd20vmJ8AK_B8pA8pEyLc3jzgh95OR2Mot5pXIZ-VaebtV_mNNyuc6Y5jCB84kzmohrNvgIxgYltLg9bpzm88SEbIhtdl-o03iLjN-9ejO44y2B1kzpGBSxJe09pTsMZgrOXSX2EWPOA1rqq0HLEG0xRPo73jhTf8KBLpvA7dYQUm5Qy-k-jI8UP51_5zNiqtPpFHUq_9XhNSvE933aS788_XFj5HsMGY6RLk33_PBPZDn8B";

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::code::LabState;
    use super::*;

    #[test]
    fn every_lessons_code_opens_that_lesson_and_hides_what_it_says() {
        for lesson in Lesson::ALL {
            let state = LabState::decode(lesson.code())
                .unwrap_or_else(|e| panic!("{}: {e}", lesson.title()));
            assert_eq!(state.lesson, Some(lesson), "{}", lesson.title());
            assert_eq!(state.hidden, lesson.hides(), "{}", lesson.title());
            state
                .applied_to(&super::super::settings::Settings::default())
                .unwrap_or_else(|e| panic!("{}: {e}", lesson.title()));
            assert!(!lesson.text().is_empty());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod generate {
    use super::super::code::LabState;
    use super::super::history::lens::LensQuantity;
    use super::super::settings::{Layout, Settings, Tab};
    use super::super::toy::ToyView;
    use super::*;
    use crate::train::config::LearningRates;
    use crate::train::lens::{GradSpace, LensConfig};
    use crate::train::recipe::Recipe;
    use crate::weighting::toy::ToyConfig;
    use crate::weighting::{Strategy, StrategyConfig};

    fn settings_of(lesson: Lesson) -> Settings {
        let mut s = Settings {
            lesson: Some(lesson),
            hidden: lesson.hides(),
            welcome_seen: true,
            layout: Layout::SideBySide,
            scale: None,
            recipe: Recipe::Lab,
            rates: LearningRates::default(),
            weights_reach_trunk: true,
            ..Settings::default()
        };
        let both = |a, b| [StrategyConfig::new(a), StrategyConfig::new(b)];
        match lesson {
            Lesson::TwoTasksToy => {
                s.tab = Tab::Toy;
                s.toy.view = ToyView::Losses;
                s.toy.config = ToyConfig {
                    rule: Strategy::PROPOSED,
                    start_losses: vec![2.0, 0.5],
                    floors: vec![0.1, 0.1],
                    rates: vec![0.05, 0.5],
                    lr: 1.0,
                    steps: 200,
                    ..ToyConfig::default()
                };
                s.toy.right_rule = Strategy::NAIVE;
            }
            Lesson::NaiveStarves | Lesson::ProposedChases | Lesson::HardestChanges => {
                s.tab = Tab::Lab;
                s.strategies = both(Strategy::PROPOSED, Strategy::NAIVE);
                s.explain_run = if lesson == Lesson::NaiveStarves { 1 } else { 0 };
                s.show_explain = true;
            }
            Lesson::ReadingEmbeddings => {
                s.tab = Tab::Projector;
                s.strategies = both(Strategy::PROPOSED, Strategy::NAIVE);
                s.eval_every = 200;
            }
            Lesson::IdeaBreaks => {
                s.tab = Tab::Lab;
                s.strategies = both(Strategy::PROPOSED, Strategy::NAIVE);
                s.rates.psi_lr = 0.4 * s.rates.lr;
                s.explain_run = 0;
                s.show_explain = true;
            }
            Lesson::SwitchMidRun => {
                s.tab = Tab::Lab;
                s.strategies = both(Strategy::NAIVE, Strategy::NAIVE);
                s.show_explain = true;
            }
            Lesson::TasksPullApart => {
                s.tab = Tab::Lab;
                s.strategies = both(Strategy::PROPOSED, Strategy::NAIVE);
                s.gradients.lens = LensConfig {
                    space: Some(GradSpace::Last),
                    every: 1,
                };
                s.lens_view = LensQuantity::Cosines;
                s.explain_run = 0;
                s.show_explain = true;
            }
            Lesson::LandscapePaths => {
                s.tab = Tab::Toy;
                s.toy.view = ToyView::Landscape;
                s.toy.landscape.gradients = true;
            }
        }
        s
    }

    #[test]
    #[ignore]
    fn print_generated_codes() {
        for lesson in Lesson::ALL {
            let s = settings_of(lesson);
            println!(
                "{:?} {}",
                lesson,
                LabState::of(&s, s.scripts.clone()).encode()
            );
        }
    }
}
