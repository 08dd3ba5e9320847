//! The appliance image in a QEMU virtual machine that looks like the kiosk's hardware: UEFI
//! (OVMF), a `virtio-vga` screen read with QMP `screendump`, a `virtio-multitouch-pci`
//! touchscreen driven with QMP `input-send-event`, the technician's console (ttyS0) on a Unix
//! socket, the printer (ttyS1) and the card reader (ttyS2) on the host's simulators' ptys, the
//! journal on ttyS3 (the image's lab credential `okenko.debug_serial`), and user networking with
//! `restrict=on` whose only way out is a forward of `10.0.2.100:443` to the fleet on 127.0.0.1.
//! TCG only: no KVM is needed (or used).
//!
//! Build the image first (`image/build.sh`); [`image_path`] finds it.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Where the fleet appears inside the VM.
pub const FLEET_IP: &str = "10.0.2.100";
/// The screen's size (virtio-vga's preferred mode as configured here).
pub const SCREEN: (u32, u32) = (1280, 800);

/// The image `image/build.sh` made (`OKENKO_IMAGE` overrides), if it exists.
pub fn image_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OKENKO_IMAGE") {
        return Some(PathBuf::from(p));
    }
    newest_image_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/image"))
}

/// The newest (by name, i.e. version) `*.img` in `dir`.
pub fn newest_image_in(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "img"))
        .collect();
    found.sort();
    found.pop()
}

/// How to start a VM.
#[derive(Debug, Clone)]
pub struct VmOptions {
    /// The disk (a copy the VM may write).
    pub disk: PathBuf,
    /// The fleet's port on 127.0.0.1, reached in the VM as `https://10.0.2.100`.
    pub fleet_port: Option<u16>,
    /// The printer simulator's pty.
    pub printer: Option<PathBuf>,
    /// The card reader simulator's pty.
    pub card_reader: Option<PathBuf>,
    /// Extra systemd credentials (`name`, `value`), passed through SMBIOS.
    pub credentials: Vec<(String, String)>,
    /// Memory, MiB.
    pub memory_mib: u32,
}

/// A running VM. Dropping it kills QEMU.
#[derive(Debug)]
pub struct Vm {
    dir: PathBuf,
    child: Option<Child>,
    qmp: Option<Qmp>,
    console: Option<UnixStream>,
    /// Everything read from the console so far.
    pub console_seen: String,
    console_bytes: Vec<u8>,
    /// When QEMU was started.
    pub started: Instant,
}

/// Copies `image` to `to`, sparse (the VM writes its copy, never the built image).
pub fn copy_disk(image: &Path, to: &Path) -> std::io::Result<()> {
    let ok = Command::new("cp")
        .arg("--sparse=always")
        .arg(image)
        .arg(to)
        .status()?
        .success();
    if ok {
        Ok(())
    } else {
        Err(std::io::Error::other("cp failed"))
    }
}

/// The byte offset of partition `n` (1-based) of a GPT disk image, read with sfdisk.
pub fn partition_offset(disk: &Path, n: usize) -> std::io::Result<u64> {
    let out = Command::new("sfdisk").arg("--json").arg(disk).output()?;
    let v: Value = serde_json::from_slice(&out.stdout).map_err(std::io::Error::other)?;
    v["partitiontable"]["partitions"][n - 1]["start"]
        .as_u64()
        .map(|s| s * 512)
        .ok_or_else(|| std::io::Error::other(format!("no partition {n} in {}", disk.display())))
}

/// Writes `bytes` as `name` into the root of the disk's ESP (partition 1), as an installer
/// would, with mtools.
pub fn put_on_esp(disk: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let offset = partition_offset(disk, 1)?;
    let tmp = disk.with_extension("drop");
    std::fs::write(&tmp, bytes)?;
    let ok = Command::new("mcopy")
        .env("MTOOLS_SKIP_CHECK", "1")
        .arg("-o")
        .arg("-i")
        .arg(format!("{}@@{offset}", disk.display()))
        .arg(&tmp)
        .arg(format!("::/{name}"))
        .status()?
        .success();
    let _ = std::fs::remove_file(&tmp);
    if ok {
        Ok(())
    } else {
        Err(std::io::Error::other("mcopy failed"))
    }
}

/// Lists the root of the disk's ESP.
pub fn esp_listing(disk: &Path) -> std::io::Result<String> {
    let offset = partition_offset(disk, 1)?;
    let out = Command::new("mdir")
        .env("MTOOLS_SKIP_CHECK", "1")
        .arg("-b")
        .arg("-i")
        .arg(format!("{}@@{offset}", disk.display()))
        .arg("::/")
        .output()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Vm {
    /// Starts QEMU on `opts.disk` with its files (sockets, logs, screenshots) in `dir`.
    pub fn start(dir: &Path, opts: &VmOptions) -> std::io::Result<Vm> {
        std::fs::create_dir_all(dir)?;
        let vars = dir.join("OVMF_VARS.fd");
        if !vars.exists() {
            std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars)?;
        }
        let (qmp, console) = (dir.join("qmp.sock"), dir.join("console.sock"));
        let _ = std::fs::remove_file(&qmp);
        let _ = std::fs::remove_file(&console);
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args([
            "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-smp", "2",
        ])
        .args(["-m", &opts.memory_mib.to_string()])
        .args(["-nodefaults", "-display", "none", "-no-user-config"])
        .arg("-drive")
        .arg("if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd")
        .arg("-drive")
        .arg(format!(
            "if=pflash,format=raw,unit=1,file={}",
            vars.display()
        ))
        .arg("-drive")
        .arg(format!(
            "if=none,id=disk,format=raw,cache=unsafe,file={}",
            opts.disk.display()
        ))
        .args(["-device", "virtio-blk-pci,drive=disk"])
        .args(["-device", "virtio-vga,xres=1280,yres=800"])
        .args(["-device", "virtio-multitouch-pci"])
        // The tactile keypad under the screen (QMP key events), and a sound card whose output
        // QEMU writes to audio.wav (what a headset would hear).
        .args(["-device", "virtio-keyboard-pci"])
        .arg("-audiodev")
        .arg(format!(
            "wav,id=snd0,path={}",
            dir.join("audio.wav").display()
        ))
        .args([
            "-device",
            "intel-hda",
            "-device",
            "hda-output,audiodev=snd0",
        ])
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", qmp.display()))
        .arg("-chardev")
        .arg(format!(
            "socket,id=console,path={},server=on,wait=off,logfile={}",
            console.display(),
            dir.join("console.log").display()
        ))
        .args(["-serial", "chardev:console"]);
        for (id, pty) in [("printer", &opts.printer), ("card", &opts.card_reader)] {
            match pty {
                Some(p) => cmd
                    .arg("-chardev")
                    .arg(format!("serial,id={id},path={}", p.display())),
                None => cmd.arg("-chardev").arg(format!("null,id={id}")),
            };
            cmd.args(["-serial", &format!("chardev:{id}")]);
        }
        cmd.arg("-chardev")
            .arg(format!(
                "file,id=journal,path={}",
                dir.join("journal.log").display()
            ))
            .args(["-serial", "chardev:journal"]);
        let mut net = "user,id=net0,restrict=on".to_owned();
        if let Some(port) = opts.fleet_port {
            // A program per connection (a chardev would be one connection for the VM's life).
            net.push_str(&format!(
                ",guestfwd=tcp:{FLEET_IP}:443-cmd:socat STDIO TCP:127.0.0.1:{port}"
            ));
        }
        cmd.args(["-netdev", &net])
            .args(["-device", "virtio-net-pci,netdev=net0"]);
        let mut creds = vec![("okenko.debug_serial".to_owned(), "1".to_owned())];
        creds.extend(opts.credentials.iter().cloned());
        for (k, v) in creds {
            cmd.arg("-smbios")
                .arg(format!("type=11,value=io.systemd.credential:{k}={v}"));
        }
        let log = std::fs::File::create(dir.join("qemu.log"))?;
        let started = Instant::now();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let mut vm = Vm {
            dir: dir.to_owned(),
            child: Some(child),
            qmp: None,
            console: None,
            console_seen: String::new(),
            console_bytes: Vec::new(),
            started,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while vm.qmp.is_none() {
            if Instant::now() > deadline || vm.exited() {
                return Err(std::io::Error::other(format!(
                    "QEMU did not start: {}",
                    std::fs::read_to_string(dir.join("qemu.log")).unwrap_or_default()
                )));
            }
            vm.qmp = Qmp::connect(&qmp).ok();
            std::thread::sleep(Duration::from_millis(100));
        }
        vm.console = UnixStream::connect(&console).ok();
        if let Some(c) = &vm.console {
            c.set_read_timeout(Some(Duration::from_millis(200)))?;
        }
        Ok(vm)
    }

    /// Presses and releases a key of the keypad, by QEMU's key code (`kp_multiply`, `kp_2`, `ret`).
    pub fn key(&mut self, qcode: &str) -> std::io::Result<()> {
        for down in [true, false] {
            let event = serde_json::json!({
                "events": [{"type": "key", "data": {
                    "down": down, "key": {"type": "qcode", "data": qcode}}}]
            });
            self.qmp("input-send-event", event)?;
            std::thread::sleep(Duration::from_millis(60));
        }
        Ok(())
    }

    /// The VM's directory (logs, sockets, screenshots).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether QEMU has ended.
    pub fn exited(&mut self) -> bool {
        match &mut self.child {
            Some(c) => !matches!(c.try_wait(), Ok(None)),
            None => true,
        }
    }

    /// A QMP command; its `return` value.
    pub fn qmp(&mut self, command: &str, args: Value) -> std::io::Result<Value> {
        let q = self
            .qmp
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no QMP connection"))?;
        q.execute(command, args)
    }

    /// The screen as PNG into `path`.
    pub fn screendump(&mut self, path: &Path) -> std::io::Result<()> {
        self.qmp(
            "screendump",
            json!({"filename": path.to_string_lossy(), "format": "png"}),
        )
        .map(drop)
    }

    /// The screen's pixels (RGB) and size.
    pub fn screen(&mut self) -> std::io::Result<(u32, u32, Vec<u8>)> {
        let path = self.dir.join("screen-now.png");
        self.screendump(&path)?;
        read_png_rgb(&path)
    }

    /// A tap with one finger at `(x, y)` in screen pixels.
    pub fn tap(&mut self, x: u32, y: u32) -> std::io::Result<()> {
        let (w, h) = SCREEN;
        let ax = u64::from(x.min(w - 1)) * 32767 / u64::from(w - 1);
        let ay = u64::from(y.min(h - 1)) * 32767 / u64::from(h - 1);
        let down = json!({"events": [
            {"type": "mtt", "data": {"type": "begin", "slot": 0, "tracking-id": 1, "axis": "x", "value": ax}},
            {"type": "mtt", "data": {"type": "data", "slot": 0, "tracking-id": 1, "axis": "x", "value": ax}},
            {"type": "mtt", "data": {"type": "data", "slot": 0, "tracking-id": 1, "axis": "y", "value": ay}},
            {"type": "btn", "data": {"down": true, "button": "touch"}}
        ]});
        self.qmp("input-send-event", down)?;
        std::thread::sleep(Duration::from_millis(80));
        let up = json!({"events": [
            // QEMU sends the tracking id it is given: -1 lifts the finger (evdev's protocol B).
            {"type": "mtt", "data": {"type": "end", "slot": 0, "tracking-id": -1, "axis": "x", "value": ax}},
            {"type": "btn", "data": {"down": false, "button": "touch"}}
        ]});
        self.qmp("input-send-event", up).map(drop)
    }

    /// Connects or cuts the network cable.
    pub fn set_link(&mut self, up: bool) -> std::io::Result<()> {
        self.qmp("set_link", json!({"name": "net0", "up": up}))
            .map(drop)
    }

    /// Cuts the power: QEMU quits at once, nothing in the guest is told.
    pub fn power_cut(&mut self) {
        let _ = self.qmp("quit", json!({}));
        if let Some(mut c) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        self.qmp = None;
        self.console = None;
    }

    /// Starts the VM and waits until its journal shows the boot (the forwarder starts early in
    /// systemd), at most `quiet_for`. Under TCG about one start in fifteen after a power cut has
    /// shown nothing past the firmware's `BdsDxe: starting Boot0001` for minutes, while the same
    /// disk started again came up: the cause is not known yet. Such a start is recorded in
    /// `dir` (`boot-hang-N.png`, the screen; `boot-hang-N.txt`, QMP's status, the vCPUs and
    /// their registers), said on stderr, and the VM is power-cycled: at most three starts.
    /// Only for a start whose first boot must come up (not a slot that cannot boot).
    pub fn start_booted(dir: &Path, opts: &VmOptions, quiet_for: Duration) -> std::io::Result<Vm> {
        for attempt in 1..=3 {
            let mut vm = Vm::start(dir, opts)?;
            if crate::harness::wait_until(quiet_for, || !vm.journal().is_empty()) {
                return Ok(vm);
            }
            let _ = vm.screendump(&dir.join(format!("boot-hang-{attempt}.png")));
            let mut record = String::new();
            for (command, args) in [
                ("query-status", json!({})),
                ("query-cpus-fast", json!({})),
                (
                    "human-monitor-command",
                    json!({"command-line": "info registers -a"}),
                ),
            ] {
                let answer = vm
                    .qmp(command, args)
                    .map_or_else(|e| e.to_string(), |v| v.to_string());
                record.push_str(&format!("{command}: {answer}\n"));
            }
            let console = std::fs::read(dir.join("console.log")).unwrap_or_default();
            record.push_str(&format!(
                "console:\n{}\n",
                String::from_utf8_lossy(&console)
            ));
            let _ = std::fs::write(dir.join(format!("boot-hang-{attempt}.txt")), record);
            eprintln!(
                "vm: {} showed no boot within {quiet_for:?} (start {attempt}); recorded as \
                 boot-hang-{attempt}.*, power-cycling",
                dir.display()
            );
            vm.power_cut();
        }
        Err(std::io::Error::other(format!(
            "{}: no boot in three starts",
            dir.display()
        )))
    }

    /// The journal so far (ttyS3).
    pub fn journal(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.dir.join("journal.log")).unwrap_or_default())
            .into_owned()
    }

    /// Waits until the journal has a line containing `text`.
    pub fn wait_journal(&self, text: &str, timeout: Duration) -> bool {
        crate::harness::wait_until(timeout, || self.journal().contains(text))
    }

    /// Types on the technician's console (ttyS0), slowly enough for a 115200 UART.
    pub fn console_send(&mut self, text: &str) -> std::io::Result<()> {
        let c = self
            .console
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no console connection"))?;
        for chunk in text.as_bytes().chunks(16) {
            c.write_all(chunk)?;
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// Reads the console until its output since `from` contains `text`; that output.
    pub fn console_expect(
        &mut self,
        from: usize,
        text: &str,
        timeout: Duration,
    ) -> std::io::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(seen) = self.console_seen.get(from..)
                && seen.contains(text)
            {
                return Ok(seen.to_owned());
            }
            if Instant::now() > deadline {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "console: no {text:?} in {:?}",
                        self.console_seen.get(from..).unwrap_or_default()
                    ),
                ));
            }
            let c = self
                .console
                .as_mut()
                .ok_or_else(|| std::io::Error::other("no console connection"))?;
            let mut buf = [0u8; 4096];
            match c.read(&mut buf) {
                Ok(0) => return Err(std::io::Error::other("console closed")),
                Ok(n) => {
                    self.console_bytes.extend_from_slice(&buf[..n]);
                    self.console_seen = String::from_utf8_lossy(&self.console_bytes).into_owned();
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends a line and waits for `prompt` after it; the output in between.
    pub fn console_command(
        &mut self,
        line: &str,
        prompt: &str,
        timeout: Duration,
    ) -> std::io::Result<String> {
        let from = self.console_seen.len();
        self.console_send(&format!("{line}\r"))?;
        let out = self.console_expect(from, &format!("\n{prompt}"), timeout)?;
        Ok(out)
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A QMP connection.
#[derive(Debug)]
struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    fn connect(path: &Path) -> std::io::Result<Qmp> {
        let s = UnixStream::connect(path)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut q = Qmp {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
        };
        let mut greeting = String::new();
        q.reader.read_line(&mut greeting)?;
        q.execute("qmp_capabilities", json!({}))?;
        Ok(q)
    }

    fn execute(&mut self, command: &str, args: Value) -> std::io::Result<Value> {
        let msg = json!({"execute": command, "arguments": args});
        self.writer.write_all(format!("{msg}\n").as_bytes())?;
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(std::io::Error::other("QMP closed"));
            }
            let v: Value = serde_json::from_str(&line).map_err(std::io::Error::other)?;
            if v.get("event").is_some() {
                continue;
            }
            if let Some(e) = v.get("error") {
                return Err(std::io::Error::other(format!("QMP {command}: {e}")));
            }
            return Ok(v.get("return").cloned().unwrap_or(Value::Null));
        }
    }
}

/// A PNG file's pixels as RGB.
pub fn read_png_rgb(path: &Path) -> std::io::Result<(u32, u32, Vec<u8>)> {
    let decoder = png::Decoder::new(BufReader::new(std::fs::File::open(path)?));
    let mut reader = decoder.read_info().map_err(std::io::Error::other)?;
    let mut buf = vec![0; reader.output_buffer_size().unwrap_or(0)];
    let info = reader.next_frame(&mut buf).map_err(std::io::Error::other)?;
    let channels = info.color_type.samples();
    let rgb = buf[..info.buffer_size()]
        .chunks(channels)
        .flat_map(|p| [p[0], p[1 % channels], p[2 % channels]])
        .collect();
    Ok((info.width, info.height, rgb))
}

/// The share of pixels (0-1) whose colour differs by more than `tolerance` in any channel.
pub fn pixel_difference(a: &[u8], b: &[u8], tolerance: u8) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 1.0;
    }
    let differing = a
        .chunks(3)
        .zip(b.chunks(3))
        .filter(|(p, q)| {
            p.iter()
                .zip(q.iter())
                .any(|(x, y)| x.abs_diff(*y) > tolerance)
        })
        .count();
    differing as f64 / (a.len() / 3) as f64
}
