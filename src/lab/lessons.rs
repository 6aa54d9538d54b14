//! Guided lessons. Each is a lab code (see `code.rs`: the whole lab it opens, the lesson's name
//! and the controls it hides included), a title and two or three sentences. A lesson is
//! authored in the window: set the lab up, hide what the lesson does not need, Files ▸ Copy lab
//! code, and paste the code here; the tests check every code opens its own lesson and hides
//! what [`Lesson::hides`] says.
//!
//! When the code's version changes, `cargo test --release --lib -- --ignored
//! print_lesson_codes` prints each code re-encoded in the new version (fields the new version
//! added take their defaults) to paste back.

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
}

impl Control {
    pub const ALL: [Control; 13] = [
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
    LandscapePaths,
}

/// Every control but these.
const fn all_but<const N: usize>(shown: [Control; N]) -> [bool; 13] {
    let mut hidden = [true; 13];
    let mut i = 0;
    while i < N {
        hidden[shown[i] as usize] = false;
        i += 1;
    }
    hidden
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
            Lesson::LandscapePaths => "8 · Paths on the loss landscape",
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
            Lesson::LandscapePaths => LANDSCAPE_PATHS_CODE,
        }
    }
}

/// Lesson 7's text. What it promises was measured (seed 1, 500 steps, rows after step 100):
/// `cari-mtl train --strategy proposed --psi-lr 4e-4 --steps 500` then `bench/eq10_check.py`
/// gives the hardest task the largest weight in 20.5 % of rows and the smallest in 55.0 %
/// (naive-like); with `--constant-weights` the largest in 100 %.
const IDEA_BREAKS: &str = "Run A is proposed, but Ψ learns at 0.4× the network's rate (Ψ lr 4e-4 against lr 1e-3) and 'w reaches trunk' is ticked, as in the authors' code: the network's own loss Σ w_i·L_i reaches the trunk through w, and the trunk learns to make Ψ favour the easy tasks faster than Ψ's L4 pulls the weight back. Press Play: run A's weights drift like naive run B's. Then untick 'w reaches trunk' (the paper's eq. 11: w is a constant for the network) and watch A's largest weight return to the hardest task. Raising Ψ lr to 10× the network's mends it too.";

/// Lesson 8's text. What it says was measured with `cari-mtl toy --landscape cagrad --table`
/// and `--rule R --start X,Y` (100,000 Adam steps at lr 0.001 from each start): MGDA, CAGrad
/// and proposed end Pareto-stationary from all five starts; naive stalls 12 and 13 from the
/// front from (−8.5, 7.5) and (9, 9), with w1 = 1.000 and w2 = 1.000 at the end, as equal
/// weights stall 11 away; MGDA ends at x = −3.32 and 3.33 from those two, at x = −6.99 from
/// (−8.5, −5); CAGrad within 1e-4 of x = 0 and proposed within 0.2 of it from every start.
const LANDSCAPE_PATHS: &str = "Two tasks share two parameters θ = (x, y): grey contours of their mean loss, and the Pareto set as the thick dark curve, where no task can improve without the other getting worse. Naive, proposed, MGDA and CAGrad each run 100,000 Adam steps from the same five starts. MGDA and CAGrad end on the front from every start: MGDA's minimum-norm combination improves both tasks at every step and stops at the first Pareto point it meets (x ≈ ±3.3 from the upper corners); CAGrad stays near the mean gradient without letting either task get worse, and ends at the front's middle. Naive stalls from the two upper starts: there each loss has a narrow log gorge, naive puts all the weight on the task with the smaller loss — the one whose gorge the path is in — and follows that gorge for good (equal weights stall the same way). Proposed weights the task with the larger loss, climbs out, and ends near the middle from all five. The arrows are −∇f1 (blue), −∇f2 (orange) and the rule's step (its colour); hover a path for its weights.";

const TWO_TASKS_TOY: &str = "CARI1.vVTNbtswDH4XnQ3D7toectwfduhhWIJdCkNgbcYWIkuGJMcNAr_7SFnO0iLrcQEiixTF7-OPeBYBXsRG7OxJZELDyY6BxK1q8POJV9L63trQKdOKTZE_ZmICrWVQPUp4VV5s9qA9kllnJ4mvgwZlxCa4kXRJlG4kVUE2iI3YlJkYHHpkpJ0yjOywVgOS_ER0SISA5PkstGPQouArXskkljO5qkHTBTNqTZRQtV3w0iHUnSRsc1gptA4ahSZEdyxIP0DNUAM46D2HjSaergcafCA1HtGdiO088x60TIq7giMJzLFVTPP5vIonduvsYD3F-Y6jDxBULRNVulXk91mRf-J_lYlmAjkp09iJERY5YD8gOR4debnLSVtDDKHmNNzP2RtgA-qI_wG1YginhrCETrZk-kIwltP4TMed1U3cMsMPz0kI1HqU_NqavWp550aN7_IYwAWprfcx3cypyB_o7l5b65aoSlKV1aV1SFM8JCvumjKPRcPBrwX8MEvV2qv_yAm1hGNbmciuuT8qnLiLF6r8okxDSNza1yEewSkw3P9fYmrFhVtZ8C-7bnyGkH9juOb9pjA3i73m4HZhU4zzAsI3LpFcpb9vGxArmKhSPdg6PrEbC9lQsMGOsTjLgFjWdHr1KtP4AKP62CPSY03qR0ryzG_Te2t4UEx2B_7gl0nVqaZBw3y3GDn-XAZKJr7iUdUcwK_YCJnYxoTRd30pmfhu3YHvLJ1Jux_UkPR5WuZfJr6lMZbxYPzNNeXDVMothkDT0Itq_gM";
const NAIVE_STARVES: &str = "CARI1.vVTNbtswDH4XnY3AyZoectyGYYdiGJZil8IQWJuxhcqSIcl2jcDvPlKWs7TIelwAKxJF8vv4p7MI8CwO4oHWTGiYbB_oeFQVfp54JalvrQ2NMrU45Jv7TIygtQyqRQmvyovDCbRHUmvsKPG106CMOATXkywdpetJtCUdxCpuOoceGelRmYkwHJaqwwsRBwHJ81lox6B5ziZeyXTczuSqBE0GpteaKKGqm-ClQygbSdjmZaVQO6gUmhDd8UH6DkqG6sBB6zlsNPF2vdDgA4lxQDcR23nmPWiZBLs8J_jAHGvFNJ_O63Fit8521lOc7zj6AEGVMlElq3xzl-WbT_wVmahGkKMylR0ZYTkHbDskx70jL7sNSUuIIZSchrs5ewNsQA34H1ALhnCqC0vopEuqzwRjOY1PdN1YXcUtM_zwng7BTpz80pqTqnnneo3v8hjABamt9zHdzGlLX77Zk_1JW-uWyLZZ-opLC5E035Nol7S5g9iWfGLn12J-mLFi7dt_5Ifaw7GuTMTXOgwKR-7ohTZPl6kIidv8OtwBnALDs_AlpllcuG1z_mXXQ8AQ8m8M17zfFOlm4fcpB7eLnGKcFxC2uERyVYq2rkCsYKJItWHtOG43FtKhYIPtY5GWx2JZ0-3VhKanBIxqY79IjyWJ7ynJM8-p95YeEvGDeR0JeIiJbVRVoWHCR4wkfy6vSya-4qBKjuBX7IZMHGPG6H8dm0x8s-6FbZY2pd136k76e1gew0w82uk3l5JFqYJHDIEeRC-K-Q8";
const PROPOSED_CHASES: &str = "CARI1.vVTNbtswDH4XnYXA6ZoeclyHYYceiqXYpQgE1mZsobJkSHJcI_C7j5TlLC2yHhvAikSR_D7-6SQivIiteKBVCgOj6yMdd7rC7yOvJA2tc7HRthbbYnUnxQDGqKhbVPCmg9gewAQktcYNCt86A9qKbfQ9yfJR-Z5EBekgVmK7lqLzGJCRnrQdCcNjqTs8E_EQkTyfhPEMWhRsErTKx_VErkowZGB7Y4gS6rqJQXmEslGEbV8XCrWHSqONyR0fVOigZKgOPLSBw0abbpcLAyGSGI_oR2I7TbwHo7LgpuBIInOsNdN8Pi3Hkd1617lAcX7gGCJEXapMlayK1a0sVt_420tRDaAGbSs3MMJ8jth2SI57T15uViQtIYVQchpuJ_kO2II-4heg7hnC6y7OoZMuqb4QjOM0PtN140yVtszw03s6RDdy8ktnD7rmne8NfshjBB-VcSGkdDOnNX3FakP2B-OcnyNby_ztzy1E0mJDopuszR3EtuQTu7AU89OM7Ze-_U9-qD0866pMfKnDUePAHT3T5umyFSFxm1-GewSvwfIs3Kc0izO3dcE_eTkEDKH-xXDJ-12RrhZ-k3Nwvcg5xmkGYYtzJBelaOsKxAIm9rk2rJ3G7cpCOhRsdH0q0vxYzGu-vZjQ_JSA1W3qFxWwJPEdJXniOQ3B0UMiHjOf-wbm1Da6qtAy5R0mmo_z-yLFDzzqkmP4nfpBil3KGf0vgyPFT-df2WZuVNr9ov6kv4f5OZTiyY1_uJgsyjXcYYz0JAaxn_4C";
const SWITCH_MID_RUN: &str = "CARI1.xVTNjpswEH4Xn1FE0s0ecmx76GErVZtVLytkeWECoxob2QYWRbx7Z4xJqZTutZFwPOP5-eb3KoJ6EyfxRGcmtJpsH4g8YwWfJz6J61trQ4OmFqd895iJUWktA7Yg1Tt6cboo7YHEGjtKeO-0QiNOwfXES6R0PbFykgGoxGmfic6BB_b0gmYiHw5K7OAGxKkAZPkqtGOnec4qHmUi9zOZKpUmBdNrTZAA6yZ46UCVjSTf5tcKoXaqQjAhmmNC-k6V7KpTTrWewwYTX9cHrXwgNgzgJkI7z3xXWibGIedIAmOskWG-XleSXoVROMS0bQH6oAKWMuEklXz3kOW7T_wVmahGJUc0lR3Z_EIHaDsgq70jK4cdcUsV8Zecg4c5-y9eC3bhsAtL3CRLom_kxnIOX-m5sbqKV0b44TsRwU6c-dKaC9Z8c72OtXG2s56aJQbhgtTW-5hrxrSnL98dSf-irXVLZPssfcWtf4ibH4l1SNLcPqxLNqHzayU_zFixNu0_8kO94VhWJuBrHQaEkdt5gc2jZSryxD2-DXdQDpXhQfgS0yxu2PY5_7LtBLAL-SeGLe6_inS38MeUg_tFTjHOixPWuEWyKUVbV0qszkSRasPScdbuHCRDwQbbxyItm2I50-tmPNMeUQbb2C_SQ0nsR0ryzEPqvTW8m0YMZfMdq2daKtROWFVgGPAZIsgfy2rJxFcYsOQInmM3ZOIcM0YSS1PS7Rv1Iv09LXsvEy92-smFY1aq1xlCoN3nRTH_Bg";
const HARDEST_CHANGES: &str = "CARI1.vVTNbtswDH4XnYXA6ZoeclyHoYcehqXYpQgE1mZsobJkSHJcI_C7j5TlLC2yHmvAsklR_D7-6SQivIiteKRVCgOj6yOJO13h95FX0obWudhoW4ttsbqTYgBjVNQtKnjTQWwPYAKSWeMGhW-dAW3FNvqedFlUvidVQTaIldiupeg8BmSkJ21HwvBY6g7PRDxEJM8nYTyDFgUfCVplcT2RqxIMHbC9MUQJdd3EoDxC2SjCtq8LhdpDpdHG5I4FFTooGaoDD23gsNGm3WXDQIikxiP6kdhOE_-DUVlxU3AkkTnWmmk-nxZxZLfedS5QnB84hghRlypTpVPF6lYWq2_87qWoBlCDtpUbGGGWI7YdkuPek5ebFWlLSCGUnIbbSb4DtqCP-AWoe4bwuotz6GRLpi8E4ziNz7TdOFOlX2b46T4J0Y2c_NLZg675z_cGP-Qxgo_KuBBSupnTmt5itaHzB-OcnyNby_zuzy1E2mJDqptszR3EZ8kndmEp5qcZ2y99-5_8UHt4tlWZ-FKHo8aBO3qmzdNlK0LiNr8M9wheg-VZuE9pFmdu64IfeTkEDKH-xXDJ-12RrhZ-k3Nwvcg5xmkG4RPnSC5K0dYViAVM7HNt2DqN25WFbCjY6PpUpPmymNe8ezGh-SoBq9vULypgSeo7SvLEcxqCo4tEPICvMMT7BmydUtvoqkLLlHeYaP6a7xcpfuBRlxzD79QPUuxSzui7DI4UP51_pc8DdSV9HudLUIonN_7hErIqV26HMdJFGMR--gs";
const READING_EMBEDDINGS: &str = "CARI1.vVTNbtswDH4XnYXA6ZoectzWYYceiqbYpQgExmYcrbJkSHJcI_C7j5TlLC2yHhfAikiR_D7-SCcRYSfW4tG731hG54UUBgbXRVJudIVfB15JGxrn4kHbWqyLxZ0UPRijom5QwZsOYr0HE5DMDq5X-NYa0Faso-9Il0XlO1IVZINYifVSitZjQEZ61nYgDI-lbpHkByJFIkSkyCdhPIMWBbsErbK4HClUCYYcbGcMUUJdH2JQHqE8KMK2rzOF2kOl0cYUjgUVWigZqgUPTeC00abT-cBAiKTGI_qB2I4j78GorLgpOJPIHGvNNF9OszhwWO9aFyjPDxxDhKhLlamSV7G4lcXiC39bKaoeVK9t5XpGmOSITYsUuPMU5WZB2hJSCiWX4XaU74At6CP-B9QtQ3jdxil1siXTHcE4LuMLHR-cqdKWGX56TkJ0Axe_dHava975zuCHOkbwURkXQio3c1rSVyxW5L83zvkps6XM3_Y8QqQtVqS6ydY8QexLMbENczM_rdh2ntt_1IfGw7OtysTnPhw19jzRE22-XbYiJB7zy3SP4DVYvgvfUpnFmduy4J-8vAQMof7mcMn7XZOuNn6Va3C9yTnHcQJhj3MmF61o6grEDCa2uTdsna7blYVsKNnoutSk6bGY1nx6cUPzUwJWN2leVMCS1HdU5JHvaQiOHhLxhORh6_tmhxVvuLoHXVVomfUGE9PH6YmR4jsedclpPKWRkGKTyibFD-df2XAaUNr9pLmkv4fpGZTiPr9mUjy74Re3kw9zFzcYY8Lejn8A";
const IDEA_BREAKS_CODE: &str = "CARI1.vVTNbtswDH4XnY3AyZoecuyGYQN6GJBil8IQWJuxhciSIclxjcDvPlKWs7RIe2wAKyJF8fv4p7MI8CJ24pHWTGgYbR9I3KsKH0ZeSetba0OjTC12-eo-EwNoLYNqUcKr8mJ3AO2RzBo7SHztNCgjdsH1pEuidD2pcrJBrMRunYnOoUdGelJmJAyHperwQsRBQPJ8FtoxaJ7zFa_kIuZ3EzkrQdMV02tNpFDVTfDSIZSNJHRzXEjUDiqFJkSHLEjfQclgHThoPQeOJp4uBxp8IDWe0I3Ed5p4D1omxSbnWAKzrBUTfT4v4shune2sp0jfcfQBgiplokq38tVdlq--8VdkohpADspUdmCEWQ7YdkiOe0deNivSlhBDKDkRlIU3wAbUCb8AtWAIp7owh062ZPpCMJbT-EzHjdVV3DLDT89JCHbk5JfWHFTNO9drfJfHAC5Ibb2P6WZOa_ry1ZbuH7S1bo5snaWvuDQRafMtqTbJmnuI75JP7PxSzE8zViyd-0F-qD0c28pEfKnDSeHAPT3T5vkyFSFxo1-HewKnwPA0fI9pFhdu65x_2fUYMIT8H8M17zdFuln4bcrB7SKnGKcZhG9cIrkqRVtXIBYwUaTasHUctxsL2VCwwfaxSPNzMa_p9GpC02MCRrWxX6THktT3lOSJ59R7S0-J-F0hPNCsHzmtjaoqNEx3j5Hin_l1ycQPPKmS-e9jnuh_GZZM_LTuyLZzc9LuF_Uk_T3Oj2Amnuz4lwvIqlS3PYZAD6EXxfQP";
const LANDSCAPE_PATHS_CODE: &str = "CARI1.vVTNbtswDH4XnYXAyZoectwfduihWIpdikBgbcYWKkuGJMcNAr_7SFlOkyLrcQZsixTF7-OfTiLCi9iIJ3cUUhg4uj6SuNUVfj3yl7ShdS422tZiUyzupRjAGBV1iwredBCbPZiAZNa4QeFbZ0BbsYm-J10Wle9JVZANYiU2Syk6jwEZ6UlbRvZY6g5JfiA6JEJE8nwSxjNoUfCRoFUWlyO5KsHQAdsbQ5RQ100MyiOUjSJs-zpTqD1UGm1M7lhQoYOSoTrw0AYOG23anTcMhEhqPKA_Ettx5DUYlRWrgiOJzLHWTPP5NItHdutd5wLF-YFjiBB1qTJVOlUs7mSx-MLvTopqADVoW7mBESY5YtshOe49eVktSFtCCqHkNNyN8grYgj7gf0DdMYTXXZxCJ1syfSEYx2l8pu3GmSotmeGn-yREaj1KfunsXte88r3BD3mM4KMyLoSUbua0pLdYrOn83jjnp8iWMr-7cwuRtliTapWtuYP4LPnELszF_DRju7lv_5Efag_PtioTn-tw0DikjrYVAXSYBmxeX0V8AK_B8jh8S5kWZ3rLgh95OQeMot7DuKR-VaebtV_nNNyucw5znED4xDmYi2q0dQViBhO7XB62ThN340M2FGx0farTdF9M37x7MaTT1ILVbeoYFbAk7T2leeRJDcHZy6Q-Qmx4hhtdVWiZ8RYTy8fphpHiOx50ySH8Th0hxTaljP7z6Ejx0_lXPjO1Kq1-UYfS72G6EKX4ke81yTflHy6sfOewxRjpegxiN_4F";

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
    use super::super::settings::{Layout, Settings, Tab};
    use super::super::toy::ToyView;
    use super::*;
    use crate::train::config::LearningRates;
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
