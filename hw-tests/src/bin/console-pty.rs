//! `console-pty`: a null-modem cable between two pseudo-terminals, for trying the technician's
//! serial console without hardware. The agent's `[console] path` opens one end; a terminal
//! program (`picocom`, `screen`) opens the other. Prints both paths:
//!
//! ```text
//! kiosk /dev/pts/7
//! technician /dev/pts/8
//! ```
//!
//! and carries bytes both ways until it is killed.

use std::io::{Read, Write};
use std::time::Duration;

use serialport::{SerialPort, TTYPort};

/// A null-modem cable between two pseudo-terminals: prints the kiosk's end and the
/// technician's, and carries bytes both ways until it is killed.
#[derive(Debug, clap::Parser)]
#[command(name = "console-pty", version)]
struct Cli {}

fn main() -> std::process::ExitCode {
    let Cli {} = clap::Parser::parse();
    protocol::cli::finish("console-pty", run())
}

fn run() -> anyhow::Result<()> {
    let (kiosk_master, kiosk_slave) = TTYPort::pair()?;
    let (tech_master, tech_slave) = TTYPort::pair()?;
    let name = |p: &TTYPort| {
        p.name()
            .ok_or_else(|| anyhow::anyhow!("a pty without a name"))
    };
    println!("kiosk {}", name(&kiosk_slave)?);
    println!("technician {}", name(&tech_slave)?);
    std::io::stdout().flush()?;
    let (a_in, a_out) = (kiosk_master.try_clone_native()?, kiosk_master);
    let (b_in, b_out) = (tech_master.try_clone_native()?, tech_master);
    let one = std::thread::spawn(move || carry(a_in, b_out));
    carry(b_in, a_out);
    let _ = one.join();
    // Both slaves stay open all along, so either side may close and reopen its end.
    drop((kiosk_slave, tech_slave));
    Ok(())
}

/// Copies what arrives on `from` to `to`, for ever.
fn carry(mut from: TTYPort, mut to: TTYPort) {
    let _ = from.set_timeout(Duration::from_millis(200));
    let mut buf = [0u8; 4096];
    loop {
        match from.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::TimedOut
                    || e.kind() == std::io::ErrorKind::WouldBlock => {}
            // Nobody on that end yet (or any more): wait for them.
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
