//! The citizen UI, a fullscreen Slint touch application.
//!
//! - [`session`]: one citizen's session as pure state (screens, choices, typed values, the
//!   shared validator's messages), a file per flow; a reset leaves nothing of the previous
//!   citizen.
//! - [`keyboard`]: the on-screen keyboards (Czech, English, Ukrainian, numeric, tracking code).
//! - [`ui`]: shows a session on the window (`ui/app.slint`: the window; `ui/state.slint`: the
//!   globals `View`, set from the session, and `Actions`, the taps; `ui/pages/`: one file per
//!   screen; `ui/components/`: the top bar, the keyboard, the form's fields; `ui/models.slint`:
//!   what Rust hands them; `ui/theme.slint`: colours, fonts, buttons).
//! - [`access`]: audio mode and keypad navigation: each screen's controls in keypad order, the
//!   focus (drawn as a ring), what to say after each change, in the UI's own translations.
//! - [`render`]: the software renderer offscreen: `--render-screens DIR` and the benchmarks.
//! - [`app`]: the running app: the window, the agent connection on a worker thread, the idle
//!   time-out.
//! - [`config`]: `app.toml`; [`errors`]: everything a citizen can be told went wrong, in each
//!   language.
//!
//! The app talks only to the local agent (`agent-client`); it holds no secret and opens no
//! network connection.

/// The UI compiled from `ui/app.slint`.
mod generated {
    #![allow(
        missing_debug_implementations,
        clippy::all,
        clippy::unwrap_used,
        clippy::todo
    )] // generated code
    slint::include_modules!();
}
pub use generated::*;

pub mod access;
pub mod app;
pub mod config;
pub mod errors;
pub mod keyboard;
pub mod render;
pub mod session;
pub mod ui;
