//! `kiosk-app`: the citizen UI.
//!
//! ```text
//! kiosk-app [--config /etc/okenko/app.toml]     run (window with winit, fullscreen with linuxkms)
//! kiosk-app --render-screens DIR [--only TEXT] [--size WxH]
//!                                                every screen (whose file name contains TEXT)
//!                                                to PNG, offscreen, no display; at one size
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kiosk_app::config::AppConfig;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The citizen's touch UI: fullscreen on the kiosk, talking only to the agent's socket.
#[derive(Debug, Parser)]
#[command(name = "kiosk-app", version)]
struct Cli {
    /// The configuration file (default: built-in defaults).
    #[arg(short, long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// The agent's socket, over the configuration's.
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Draws every screen to PNG files in DIR, offscreen (no display), and exits.
    #[arg(long, value_name = "DIR")]
    render_screens: Option<PathBuf>,
    /// With --render-screens: only the screens whose file name contains TEXT.
    #[arg(long, value_name = "TEXT", requires = "render_screens")]
    only: Option<String>,
    /// With --render-screens: one size, e.g. 1280x800 (default: every supported size).
    #[arg(long, value_name = "WxH", requires = "render_screens", value_parser = size)]
    size: Option<(u32, u32)>,
}

/// `WIDTHxHEIGHT`, each 320 to 8192.
fn size(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("{s:?}: WIDTHxHEIGHT, each 320 to 8192, e.g. 1280x800");
    let (w, h) = s.split_once('x').ok_or_else(bad)?;
    match (w.parse(), h.parse()) {
        (Ok(w), Ok(h)) if (320..=8192).contains(&w) && (320..=8192).contains(&h) => Ok((w, h)),
        _ => Err(bad()),
    }
}

fn main() -> ExitCode {
    protocol::cli::finish("kiosk-app", run(Cli::parse()))
}

fn run(cli: Cli) -> Result<(), Error> {
    if let Some(dir) = &cli.render_screens {
        let files = kiosk_app::render::render_screens(dir, cli.only.as_deref(), cli.size)?;
        println!("{} screens written to {}", files.len(), dir.display());
        return Ok(());
    }
    let mut config = match &cli.config {
        Some(path) => AppConfig::from_file(path)?,
        None => AppConfig::default(),
    };
    if let Some(socket) = cli.socket {
        config.socket = socket;
    }
    kiosk_app::app::run(config)?;
    Ok(())
}
