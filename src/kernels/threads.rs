//! Where candle's own CPU work runs.
//!
//! Our kernels, candle's rayon-based ops and gemm run on the rayon pool they are called from, so
//! a trainer that steps inside its own pool keeps them on its share of the cores. candle's large
//! element-wise ops are the exception: they go to candle's global "barrier pool", sized once
//! from `CANDLE_NUM_THREADS` (else the core count) and shared by every trainer, each op holding
//! its lock. With two runs training side by side that pool makes them wait for each other.

/// Make candle run its element-wise work on the calling thread (a barrier pool of no extra
/// threads), unless the user chose `CANDLE_NUM_THREADS` themselves.
///
/// Call this first thing in `main`, before any other thread starts: changing the environment
/// while another thread may read it is undefined behaviour on most platforms.
pub fn keep_candle_work_on_the_calling_thread() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: `main` calls this before it starts any thread (see the doc comment), so no
        // other thread can be reading or writing the environment at the same time.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
}
