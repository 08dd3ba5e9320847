//! Screenshots of dashboard pages of a running fleet server, for the docs:
//!
//! ```text
//! cargo run -p hw-tests --example shoot -- URL USER PASSWORD OUTDIR NAME=PATH…
//! ```
//!
//! Each `NAME=PATH` (e.g. `dashboard-fleet=/dashboard`) is opened at 1366×768 after signing in,
//! given two seconds to go live, and saved as `OUTDIR/NAME.png` (the whole page).

use std::time::Duration;

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, user, password, out, pages @ ..] = args.as_slice() else {
        anyhow::bail!("usage: shoot URL USER PASSWORD OUTDIR NAME=PATH…");
    };
    let b = hw_tests::browser::Browser::start(1366, 768)?;
    b.goto(&format!("{url}/login"))?;
    b.type_into("#username", user)?;
    b.type_into("#password", password)?;
    b.click("button[type=submit]")?;
    b.wait_for(
        "location.pathname === '/dashboard'",
        Duration::from_secs(10),
    )
    .context("sign-in failed")?;
    for page in pages {
        let (name, path) = page
            .split_once('=')
            .with_context(|| format!("{page}: expected NAME=PATH"))?;
        b.goto(&format!("{url}{path}"))?;
        std::thread::sleep(Duration::from_secs(2));
        let file = std::path::Path::new(out).join(format!("{name}.png"));
        b.screenshot(&file)?;
        println!("{}", file.display());
    }
    Ok(())
}
