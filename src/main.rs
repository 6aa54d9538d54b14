use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cari_mtl::cli::Cli::parse();
    match cari_mtl::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
