//! `kiosk-app`'s configuration (`/etc/okenko/app.toml`, `kiosk-app --config PATH`). Every key
//! has a default; unknown keys are refused.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The panel's orientation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Orientation {
    /// 1920×1080.
    #[default]
    Landscape,
    /// 1080×1920.
    Portrait,
}

impl Orientation {
    /// The panel's size in pixels.
    pub fn size(self) -> (u32, u32) {
        match self {
            Orientation::Landscape => (1920, 1080),
            Orientation::Portrait => (1080, 1920),
        }
    }
}

/// The configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The agent's socket. Default `/run/okenko/agent.sock`.
    #[serde(default = "default_socket")]
    pub socket: PathBuf,
    /// `landscape` (1920×1080) or `portrait` (1080×1920). Default `landscape`.
    #[serde(default)]
    pub orientation: Orientation,
    /// The panel's pixel density, for 19 mm touch targets. Default 102 (21.5" full HD).
    #[serde(default = "default_dpi")]
    pub dpi: f32,
    /// Seconds without a touch before the "are you still there?" warning. Default 60.
    #[serde(default = "default_idle")]
    pub idle_timeout_s: u32,
    /// Seconds the warning gives before everything is wiped (at least 20). Default 20.
    #[serde(default = "default_warning")]
    pub idle_warning_s: u32,
    /// The city's name in the top bar. Default "Okénko".
    #[serde(default = "default_city")]
    pub city: String,
    /// `winit` (a window), `linuxkms` (fullscreen on the display) or empty to let Slint choose.
    #[serde(default)]
    pub backend: String,
}

fn default_socket() -> PathBuf {
    "/run/okenko/agent.sock".into()
}
fn default_dpi() -> f32 {
    102.0
}
fn default_idle() -> u32 {
    60
}
fn default_warning() -> u32 {
    20
}
fn default_city() -> String {
    "Okénko".into()
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            socket: default_socket(),
            orientation: Orientation::default(),
            dpi: default_dpi(),
            idle_timeout_s: default_idle(),
            idle_warning_s: default_warning(),
            city: default_city(),
            backend: String::new(),
        }
    }
}

impl AppConfig {
    /// Parses a configuration; the error names the key.
    pub fn from_toml(text: &str) -> Result<AppConfig, String> {
        let c: AppConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        if !(50.0..=600.0).contains(&c.dpi) {
            return Err("dpi: must be between 50 and 600".into());
        }
        if c.idle_warning_s < 20 {
            return Err("idle_warning_s: must be at least 20 seconds".into());
        }
        if c.idle_timeout_s < 10 {
            return Err("idle_timeout_s: must be at least 10 seconds".into());
        }
        Ok(c)
    }

    /// Reads a configuration file.
    pub fn from_file(path: &Path) -> Result<AppConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        AppConfig::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The smallest touch target in pixels: 19 mm at the panel's DPI.
    pub fn touch_px(&self) -> f32 {
        (19.0 / 25.4 * self.dpi).round()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_shows_the_defaults() {
        let e = AppConfig::from_toml(include_str!("../app.example.toml")).unwrap();
        let d = AppConfig::default();
        assert_eq!(
            (
                &e.socket,
                e.orientation,
                e.dpi,
                e.idle_timeout_s,
                e.idle_warning_s,
                &e.city,
                &e.backend
            ),
            (
                &d.socket,
                d.orientation,
                d.dpi,
                d.idle_timeout_s,
                d.idle_warning_s,
                &d.city,
                &d.backend
            )
        );
    }

    #[test]
    fn defaults_and_refusals() {
        let c = AppConfig::from_toml("").unwrap();
        assert_eq!(c.touch_px(), 76.0);
        assert_eq!(c.orientation.size(), (1920, 1080));
        assert!(
            AppConfig::from_toml("idle_warning_s = 5")
                .unwrap_err()
                .contains("idle_warning_s")
        );
        assert!(AppConfig::from_toml("dpi = 0").unwrap_err().contains("dpi"));
        assert!(AppConfig::from_toml("colour = 1").is_err());
        let p = AppConfig::from_toml("orientation = \"portrait\"\ndpi = 160").unwrap();
        assert_eq!((p.orientation.size(), p.touch_px()), ((1080, 1920), 120.0));
    }
}
