//! `sms-gateway-ref`: the reference SMS gateway as a process, for the local demo. Prints every
//! message it delivers (the demo's numbers are made up).
//!
//! ```text
//! sms-gateway-ref --listen 127.0.0.1:9500 [--token T]
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use hw_tests::smsgw::SmsGatewayRef;

/// The reference SMS gateway: takes the fleet's notices and shows what would reach phones.
#[derive(Debug, Parser)]
#[command(name = "sms-gateway-ref", version)]
struct Cli {
    /// Where to listen.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9500")]
    listen: SocketAddr,
    /// The token the fleet must present.
    #[arg(long, value_name = "T")]
    token: Option<String>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let gateway = SmsGatewayRef::start(cli.listen, cli.token).await?;
    println!("sms-gateway-ref listening on {}", gateway.url());
    let mut shown = 0;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        let messages = gateway.messages();
        for m in &messages[shown..] {
            println!("SMS to {}: {}", m.to, m.text);
        }
        shown = messages.len();
    }
    println!(
        "sms-gateway-ref: {shown} messages delivered ({} posts)",
        gateway.posts().len()
    );
    Ok(())
}
