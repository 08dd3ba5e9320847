//! fleetctl's command line: every command, its arguments and its help.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// IT staff's tool for releases: signing keys and manifests offline, releases and rollouts on
/// the fleet server.
#[derive(Debug, Parser)]
#[command(name = "fleetctl", version, after_help = ENVIRONMENT)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

const ENVIRONMENT: &str = "Environment: OKENKO_FLEET_URL with OKENKO_ADMIN_TOKEN stand in for a \
session (for scripts); OKENKO_FLEETCTL_SESSION names another session file; OKENKO_FLEET_CA a PEM \
file of the CA that signs the server's certificate.";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Release signing keys (offline).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Releases: sign and verify offline; upload and list on the fleet.
    #[command(subcommand)]
    Release(ReleaseCommand),
    /// Signs in to a fleet server; the password is read from standard input, the session
    /// kept in ~/.config/okenko/fleetctl.json (mode 0600).
    Login {
        /// The fleet server, e.g. `https://fleet.example.cz`.
        url: String,
        /// The user name.
        user: String,
    },
    /// Ends the session.
    Logout,
    /// Rollouts of a release to the kiosks.
    #[command(subcommand)]
    Rollout(RolloutCommand),
    /// Signs the rollback from a rollout's release, uploads it, and rolls back (kiosks refuse
    /// an older release without one); without --key, one uploaded already is used.
    Rollback {
        /// The rollout.
        id: String,
        /// The release signing key.
        #[arg(long, value_name = "KEYFILE", requires = "to")]
        key: Option<PathBuf>,
        /// The release(s) to go back to, comma-separated.
        #[arg(long, value_name = "V[,W]")]
        to: Option<String>,
    },
    /// A citizen's request, as the call centre sees it.
    #[command(subcommand)]
    Request(RequestCommand),
    /// Kiosks by release and update state.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Makes a new ed25519 signing key (PKCS#8, mode 0600) and prints its public key for the
    /// keyrings.
    New {
        /// Where to write it; never overwritten.
        keyfile: String,
    },
    /// Prints a key's id and public key.
    Show {
        /// The key.
        keyfile: PathBuf,
    },
    /// The old key vouches for a new one (rotation); prints the endorsement (JSON).
    Endorse {
        /// The old key.
        keyfile: PathBuf,
        /// The new key's public key (hex).
        new_public_key: String,
    },
    /// Withdraws a key (a leaked one); prints the revocation (JSON) for releases.revocations.
    Revoke {
        /// A key that signs the revocation.
        keyfile: PathBuf,
        /// The id of the key withdrawn.
        key_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Signs a bundle: writes BUNDLE.manifest.json.
    Sign {
        /// The release signing key.
        keyfile: PathBuf,
        /// The bundle.
        bundle: String,
        /// The release's version.
        #[arg(long)]
        version: String,
        /// The hardware it runs on, comma-separated.
        #[arg(long, value_name = "HW[,HW]")]
        compatible: String,
    },
    /// Prints a signed rollback (JSON) from one release to others, to paste into the
    /// dashboard's roll back.
    Rollback {
        /// The release signing key.
        keyfile: PathBuf,
        /// The release left.
        #[arg(long)]
        from: String,
        /// The release(s) to go back to, comma-separated.
        #[arg(long, value_name = "V[,W]")]
        to: String,
    },
    /// Checks BUNDLE.manifest.json against a keyring, and the bundle against it.
    Verify {
        /// The keyring (public keys, one per line).
        keyring: PathBuf,
        /// The bundle.
        bundle: String,
        /// The hardware it must be for.
        #[arg(long, value_name = "HW")]
        hardware: String,
    },
    /// Uploads BUNDLE.manifest.json, then the bundle.
    Upload {
        /// The bundle.
        bundle: String,
    },
    /// Lists the fleet's releases.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Offers a release to canary kiosks, then a percentage of a group (or of every kiosk).
    Create {
        /// The release.
        version: String,
        /// Only this group.
        #[arg(long)]
        group: Option<String>,
        /// Kiosks that get it first, comma-separated.
        #[arg(long, value_name = "K1,K2")]
        canary: Option<String>,
        /// The share of the group, 0-100.
        #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
        percent: u8,
        /// Install outside the maintenance window.
        #[arg(long)]
        force: bool,
        /// Pause when more of a wave fails, 0-100.
        #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=100))]
        max_failures: Option<u8>,
    },
    /// Grows a rollout to a larger share.
    Expand {
        /// The rollout.
        id: String,
        /// The new share, 0-100.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=100))]
        percent: u8,
    },
    /// Stops starting new kiosks; those under way finish.
    Pause {
        /// The rollout.
        id: String,
    },
    /// Goes on after a pause.
    Resume {
        /// The rollout.
        id: String,
    },
    /// Ends the rollout; kiosks on the release stay there.
    Abort {
        /// The rollout.
        id: String,
    },
    /// Sends every kiosk the rollout updated back (needs an uploaded signed rollback).
    Rollback {
        /// The rollout.
        id: String,
    },
    /// Lists the rollouts.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// One rollout and its progress.
    Show {
        /// The rollout.
        id: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RequestCommand {
    /// Where a request stands: its history, the kiosk, the notices to the citizen (no form
    /// values). The code may be typed as read out: `k7m2 9xq4 t` is `K7M2-9XQ4-T`.
    Show {
        /// The tracking code.
        code: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Sends the citizen the notice of the request's current state again.
    Resend {
        /// The tracking code.
        code: String,
    },
}
