//! Benchmark for `cari_mtl::tsne::barnes_hut`.
//!
//! ```text
//! cargo run --release --example tsne_bench -- [DATA.csv ...]
//! ```
//!
//! Each CSV (written by `bench/tsne_reference.py`) has one point per line: the cluster label
//! followed by the coordinates, no header. Without arguments the example generates its own
//! data: 50 Gaussian clusters in 128-d (centres ~ N(0, 1), points = centre + N(0, 0.25²)),
//! N = 2,000 and 10,000, seeded. Prints time (neighbours + affinities + init + 750
//! iterations), kNN10 preservation and 2-D nearest-neighbour label agreement.

use std::error::Error;
use std::time::Instant;

use cari_mtl::tsne::barnes_hut::{
    Tsne, TsneConfig, knn_preservation, nearest_neighbour_label_agreement,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

struct Dataset {
    name: String,
    data: Vec<f32>,
    labels: Vec<usize>,
    dim: usize,
}

fn read_csv(path: &str) -> Result<Dataset, Box<dyn Error>> {
    let text = std::fs::read_to_string(path)?;
    let mut data = Vec::new();
    let mut labels = Vec::new();
    let mut dim = 0;
    for (line_no, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split(',');
        let label: usize = fields
            .next()
            .ok_or_else(|| format!("{path}:{}: empty line", line_no + 1))?
            .trim()
            .parse()?;
        let before = data.len();
        for f in fields {
            data.push(f.trim().parse::<f32>()?);
        }
        let d = data.len() - before;
        if dim == 0 {
            dim = d;
        } else if d != dim {
            return Err(format!("{path}:{}: expected {dim} values, got {d}", line_no + 1).into());
        }
        labels.push(label);
    }
    Ok(Dataset {
        name: path.to_string(),
        data,
        labels,
        dim,
    })
}

fn normal(rng: &mut ChaCha8Rng) -> f32 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

fn generate(n: usize, dim: usize, clusters: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<f32> = (0..clusters * dim).map(|_| normal(&mut rng)).collect();
    let mut data = Vec::with_capacity(n * dim);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % clusters;
        labels.push(c);
        for d in 0..dim {
            data.push(centres[c * dim + d] + 0.25 * normal(&mut rng));
        }
    }
    Dataset {
        name: format!("generated N={n}"),
        data,
        labels,
        dim,
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sets: Vec<Dataset> = if args.is_empty() {
        vec![generate(2_000, 128, 50, 1), generate(10_000, 128, 50, 1)]
    } else {
        args.iter().map(|p| read_csv(p)).collect::<Result<_, _>>()?
    };
    println!(
        "threads: {}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for set in &sets {
        let n = set.labels.len();
        let cfg = TsneConfig::default();
        let t0 = Instant::now();
        let mut t = Tsne::new(&set.data, set.dim, &cfg)?;
        let t_init = t0.elapsed().as_secs_f64();
        t.run();
        let secs = t0.elapsed().as_secs_f64();
        let y = t.positions();
        let knn = knn_preservation(&set.data, set.dim, y, 10);
        let agree = nearest_neighbour_label_agreement(y, &set.labels);
        println!(
            "ours        N={n:>6}  time {secs:7.2} s (setup {t_init:.2} s)  kNN10 {knn:.3}  1-NN label {agree:.3}  [{}]",
            set.name
        );
    }
    Ok(())
}
