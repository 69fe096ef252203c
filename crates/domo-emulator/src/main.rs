//! A bare runner of the emulator, without the `domo` CLI: what the crash tests
//! start, kill and restart. Use `domo serve` for everything else.
//!
//! `domo-emulator --data-dir DIR [--bind ADDR] [--client ID:SECRET:USER_ID]…`
//! prints `listening on http://ADDR` once it serves.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use domo_emulator::{ApiClient, Emulator};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut builder = Emulator::builder();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("`{flag}` needs a value"));
        builder = match flag.as_str() {
            "--data-dir" => builder.data_dir(value()?),
            "--bind" => builder.bind(value()?.parse::<SocketAddr>().map_err(|e| e.to_string())?),
            "--client" => builder.api_client(value()?.parse::<ApiClient>().map_err(|e| e.to_string())?),
            "--max-body-bytes" => builder.max_body_bytes(value()?.parse().map_err(|_| "bad --max-body-bytes")?),
            other => return Err(format!("unknown argument `{other}`")),
        };
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let signals = domo_emulator::StopSignals::listen().map_err(|e| e.to_string())?;
        let emulator = builder.start().await.map_err(|e| e.to_string())?;
        let mut stdout = std::io::stdout();
        let _ = writeln!(stdout, "listening on {}", emulator.base_url());
        let _ = stdout.flush();
        emulator.run_until(signals).await.map_err(|e| e.to_string())
    })
}
