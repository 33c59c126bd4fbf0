use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    scimd::install_tls_provider();
    scimd::cli::main().await
}
