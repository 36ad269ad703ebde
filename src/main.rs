use clap::{Parser, Subcommand};

use csms::infra::config::Settings;
use csms::simulator::SimConfig;
use csms::startup::Application;

/// csms: OCPP 1.6J central system with a customer wallet.
#[derive(Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Settings,
}

#[derive(Subcommand)]
enum Command {
    /// Run migrations, then serve HTTP (REST + web panels) and the OCPP endpoint (the default)
    Serve(Settings),
    /// `serve` plus demo data and built-in simulated chargers (a zero-setup tour)
    Demo(Settings),
    /// Run pending migrations and exit
    Migrate {
        #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/csms.db")]
        database_url: String,
    },
    /// A charge-point simulator that connects to any OCPP 1.6J central system
    Simulate(SimConfig),
    /// Load-test a fresh `csms serve` child: connections | ingest | start | storm | soak
    Bench(csms::bench::BenchArgs),
}

#[tokio::main]
async fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    let result = match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(settings)) => serve(settings).await,
        Some(Command::Demo(settings)) => csms::demo::run(settings).await.map_err(|e| e.to_string()),
        Some(Command::Migrate { database_url }) => tokio::task::spawn_blocking(move || {
            csms::infra::db::Db::connect(&database_url, 1).map(|_| ())
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string())),
        Some(Command::Simulate(cfg)) => csms::simulator::run_cli(cfg)
            .await
            .map_err(|e| e.to_string()),
        Some(Command::Bench(args)) => csms::bench::run(args).await.map_err(|e| e.to_string()),
    };
    if let Err(e) = result {
        log::error!("{e}");
        eprintln!("csms: {e}");
        std::process::exit(1);
    }
}

async fn serve(settings: Settings) -> Result<(), String> {
    let app = Application::build(settings)
        .await
        .map_err(|e| e.to_string())?;
    app.run_until_stopped().await.map_err(|e| e.to_string())
}
