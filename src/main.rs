//! Entry point: parse the command line, run the command, turn errors into a message and an
//! exit code. Everything else lives in the library.

use clap::Parser;
use parsec_sequester::cli::{Cli, Command};
use parsec_sequester::commands;

fn main() {
    let cli = Cli::parse();
    init_logging(&cli.log_level);
    if let Some(bundle) = &cli.blockstore_ca_bundle {
        parsec_sequester::blockstore::trust::set_ca_bundle(bundle.clone());
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            parsec_sequester::progress::stderr_line(&format!(
                "Error: cannot start the async runtime: {e}"
            ));
            std::process::exit(1);
        }
    };
    let secrets = parsec_sequester::secrets::collect(&cli);
    let result = runtime.block_on(async move {
        match cli.command {
            Command::ExportRealm(args) => commands::export_realm::run(args).await,
            Command::HumanAccesses(args) => commands::human_accesses::run(args).await,
            Command::Realms(args) => commands::realms::run(args).await,
            Command::Verify(args) => commands::verify::run(args).await,
            Command::Extract(args) => commands::extract::run(args).await,
            Command::Testbed(command) => commands::testbed::run(command).await,
        }
    });
    if let Err(e) = result {
        parsec_sequester::progress::stderr_line(&format!(
            "Error: {}",
            parsec_sequester::secrets::scrub(&e.to_string(), &secrets)
        ));
        // Drop the runtime without waiting for tasks blocked on I/O.
        runtime.shutdown_background();
        std::process::exit(e.exit_code());
    }
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("parsec_sequester={level}"))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
