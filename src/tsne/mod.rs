//! t-SNE: a fast Barnes–Hut implementation (`barnes_hut`) and the named thread that runs it step by step so a
//! window can animate the points as the optimisation moves them.

use crossbeam_channel::{Receiver, bounded};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub mod barnes_hut;

use barnes_hut::{Tsne, TsneConfig};

/// Positions after some iterations, row-major N×2.
#[derive(Clone, Debug, PartialEq)]
pub struct TsneFrame {
    pub iteration: usize,
    pub iterations: usize,
    pub positions: Vec<f32>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TsneUpdate {
    Frame(TsneFrame),
    Done(TsneFrame),
    Error(String),
}

/// A t-SNE running on its own thread. Dropping the job stops the thread.
pub struct TsneJob {
    pub updates: Receiver<TsneUpdate>,
    paused: Arc<AtomicBool>,
    cancelled: Arc<AtomicBool>,
}

impl TsneJob {
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }
}

impl Drop for TsneJob {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

/// How often (in iterations) intermediate positions are sent.
const FRAME_EVERY: usize = 5;

/// Start t-SNE of `data` (row-major, `dim` columns) on a thread named `tsne`, from `init`
/// (N×2 positions) when given, else from PCA. `wake` is called after each update is sent
/// (e.g. to repaint a window).
pub fn start(
    data: Vec<f32>,
    dim: usize,
    config: TsneConfig,
    init: Option<Vec<f32>>,
    wake: Arc<dyn Fn() + Send + Sync>,
) -> std::io::Result<TsneJob> {
    // Intermediate frames are dropped when the consumer is behind; the final one always goes.
    let (tx, rx) = bounded(2);
    let paused = Arc::new(AtomicBool::new(false));
    let cancelled = Arc::new(AtomicBool::new(false));
    let (p, c) = (paused.clone(), cancelled.clone());
    std::thread::Builder::new()
        .name("tsne".into())
        .spawn(move || {
            let mut tsne = match Tsne::starting_from(&data, dim, &config, init.as_deref()) {
                Ok(t) => t,
                Err(e) => {
                    let _ = tx.send(TsneUpdate::Error(e.to_string()));
                    wake();
                    return;
                }
            };
            let frame = |t: &Tsne| TsneFrame {
                iteration: t.iteration(),
                iterations: config.iterations,
                positions: t.positions().to_vec(),
            };
            let _ = tx.try_send(TsneUpdate::Frame(frame(&tsne)));
            wake();
            while !tsne.is_done() {
                if c.load(Ordering::Relaxed) {
                    return;
                }
                if p.load(Ordering::Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(30));
                    continue;
                }
                tsne.step();
                if tsne.iteration() % FRAME_EVERY == 0
                    && tx.try_send(TsneUpdate::Frame(frame(&tsne))).is_ok()
                {
                    wake();
                }
            }
            let _ = tx.send(TsneUpdate::Done(frame(&tsne)));
            wake();
        })?;
    Ok(TsneJob {
        updates: rx,
        paused,
        cancelled,
    })
}
