use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    scimd::cli::main().await
}
