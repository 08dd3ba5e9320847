//! `kiosk-app`: the citizen UI.
//!
//! ```text
//! kiosk-app [--config /etc/okenko/app.toml]     run (window with winit, fullscreen with linuxkms)
//! kiosk-app --render-screens DIR [--only TEXT] [--size WxH]
//!                                                every screen (whose file name contains TEXT)
//!                                                to PNG, offscreen, no display; at one size
//! ```

use std::process::ExitCode;

use kiosk_app::config::AppConfig;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    if let Some(dir) = opt("--render-screens") {
        let only = opt("--only").map(String::as_str);
        let size = match opt("--size").map(|s| s.split_once('x')) {
            None => None,
            Some(Some((w, h))) => match (w.parse(), h.parse()) {
                (Ok(w), Ok(h)) if (320..=8192).contains(&w) && (320..=8192).contains(&h) => {
                    Some((w, h))
                }
                _ => {
                    eprintln!("kiosk-app: --size takes WIDTHxHEIGHT, e.g. 1280x800");
                    return ExitCode::from(2);
                }
            },
            Some(None) => {
                eprintln!("kiosk-app: --size takes WIDTHxHEIGHT, e.g. 1280x800");
                return ExitCode::from(2);
            }
        };
        return match kiosk_app::render::render_screens(std::path::Path::new(dir), only, size) {
            Ok(files) => {
                println!("{} screens written to {dir}", files.len());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("kiosk-app: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match opt("--config") {
        Some(path) => AppConfig::from_file(std::path::Path::new(path)),
        None => Ok(AppConfig::default()),
    };
    let mut config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kiosk-app: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(socket) = opt("--socket") {
        config.socket = socket.into();
    }
    match kiosk_app::app::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kiosk-app: {e}");
            ExitCode::FAILURE
        }
    }
}
