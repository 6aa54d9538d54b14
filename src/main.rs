use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cari_mtl::cli::Cli::parse();
    if cli.trains_runs_side_by_side() {
        cari_mtl::kernels::threads::keep_candle_work_on_the_calling_thread();
    }
    match cari_mtl::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
