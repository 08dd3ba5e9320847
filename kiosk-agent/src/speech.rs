//! Speech for the kiosk's audio mode: the app sends [`Utterance`]s (what a blind citizen hears),
//! the agent speaks them with espeak-ng (`[speech]`), and knows whether a personal headset is
//! plugged in (the jack's evdev switch, `SW_HEADPHONE_INSERT`).
//!
//! Each utterance replaces the one being spoken (a citizen moving on does not wait for the old
//! sentence to end): the engine's process group is killed and a new one started. The engine
//! writes a WAV stream that a player (`aplay`) sends to the headset's or the loudspeaker's ALSA
//! device; with `record_dir` set, each utterance is written to a WAV file there instead (tests,
//! the local demo), with a line in `spoken.tsv`.
//!
//! Privacy: an utterance marked `private` (a typed value, the card) is spoken only when a
//! headset is plugged in, and only into it; without one it is refused, nothing is played. The
//! text is never logged.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use protocol::Lang;
use protocol::app::{ApiError, ErrorCode, Utterance};
use serde::Deserialize;

use crate::backoff::Backoff;
use crate::devices::input::InputSource;

/// `EV_SW`: switches.
const EV_SW: u16 = 0x05;
/// `SW_HEADPHONE_INSERT`: the headphone jack.
const SW_HEADPHONE_INSERT: u16 = 0x02;

/// `[speech]`: without this section the kiosk has no audio mode.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeechSection {
    /// The speech engine (espeak-ng's command-line program).
    #[serde(default = "default_engine")]
    pub engine: PathBuf,
    /// The player that sends the engine's WAV stream to a sound device.
    #[serde(default = "default_player")]
    pub player: PathBuf,
    /// ALSA device of the loudspeaker.
    #[serde(default = "default_pcm")]
    pub speaker: String,
    /// ALSA device of the headset jack (often the same card; the codec switches on plugging).
    #[serde(default = "default_pcm")]
    pub headset: String,
    /// The jack's evdev node (a switch device with `SW_HEADPHONE_INSERT`), e.g.
    /// `/dev/kiosk/headset-jack` (the udev rules' name). Without it no headset is known, and
    /// personal data is never spoken.
    #[serde(default)]
    pub jack: Option<PathBuf>,
    /// Write each utterance to a WAV file here instead of playing it.
    #[serde(default)]
    pub record_dir: Option<PathBuf>,
}

fn default_engine() -> PathBuf {
    "espeak-ng".into()
}

fn default_player() -> PathBuf {
    "aplay".into()
}

fn default_pcm() -> String {
    "default".into()
}

/// espeak-ng's voice for a language.
pub fn voice(lang: Lang) -> &'static str {
    match lang {
        Lang::Cs => "cs",
        Lang::En => "en",
        Lang::Uk => "uk",
    }
}

/// The engine's arguments for `u`: voice, words per minute (rate 5 is espeak-ng's usual 180),
/// amplitude (volume 5 is its usual 100), WAV on standard output; the text after `--`, so that
/// nothing in it is read as an option.
pub fn engine_args(u: &Utterance) -> Vec<String> {
    let rate = 80 + 25 * u32::from(u.rate.clamp(1, 9) - 1);
    let amplitude = 20 * u32::from(u.volume.clamp(1, 9));
    vec![
        "-v".into(),
        voice(u.lang).into(),
        "-s".into(),
        rate.to_string(),
        "-a".into(),
        amplitude.to_string(),
        "--stdout".into(),
        "--".into(),
        u.text.clone(),
    ]
}

/// Whether a headset is plugged in, with a sequence number per change.
#[derive(Debug, Default)]
pub struct Jack {
    state: Mutex<(u64, bool)>,
    changed: Condvar,
}

impl Jack {
    /// `(seq, plugged)` now.
    pub fn now(&self) -> (u64, bool) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, plugged: bool) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.1 != plugged {
            *st = (st.0 + 1, plugged);
            tracing::info!(
                plugged,
                "headset {}",
                if plugged { "plugged in" } else { "pulled" }
            );
            self.changed.notify_all();
        }
    }

    /// Waits up to `wait` for a change after `after`; the state then.
    pub fn after(&self, after: u64, wait: Duration) -> (u64, bool) {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (st, _) = self
            .changed
            .wait_timeout_while(st, wait, |s| s.0 <= after)
            .unwrap_or_else(|p| p.into_inner());
        *st
    }

    /// Applies a batch of input records from the jack's device.
    pub fn feed(&self, records: &[crate::devices::input::InputRecord]) {
        for r in records {
            if r.kind == EV_SW && r.code == SW_HEADPHONE_INSERT {
                self.set(r.value != 0);
            }
        }
    }
}

/// The engine and player of the utterance being spoken.
#[derive(Debug)]
struct Playing {
    children: Vec<Child>,
}

impl Playing {
    fn stop(mut self) {
        for c in &mut self.children {
            // The process group: the engine or player and anything it started.
            if let Ok(pid) = i32::try_from(c.id()) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = c.wait();
        }
    }
}

/// Audio mode's speech.
#[derive(Debug)]
pub struct Speech {
    section: SpeechSection,
    playing: Mutex<Option<Playing>>,
    /// The headset jack.
    pub jack: Arc<Jack>,
    count: AtomicU64,
    stop: Arc<AtomicBool>,
}

impl Speech {
    /// Speech as `section` describes it; [`Speech::start`] watches the jack.
    pub fn new(section: SpeechSection) -> Speech {
        Speech {
            section,
            playing: Mutex::new(None),
            jack: Arc::default(),
            count: AtomicU64::new(0),
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether the kiosk can tell that a headset is plugged in.
    pub fn detects_headset(&self) -> bool {
        self.section.jack.is_some()
    }

    /// Starts the thread that watches the jack, when one is configured.
    pub fn start(&self) -> std::io::Result<()> {
        let Some(path) = self.section.jack.clone() else {
            return Ok(());
        };
        let (jack, stop) = (Arc::clone(&self.jack), Arc::clone(&self.stop));
        std::thread::Builder::new()
            .name("headset-jack".into())
            .spawn(move || watch_jack(&path, &jack, &stop))?;
        Ok(())
    }

    /// Stops whatever is being said, and the jack's watcher.
    pub fn shut_down(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.stop_speaking();
    }

    /// Stops whatever is being said.
    pub fn stop_speaking(&self) {
        let old = self
            .playing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(p) = old {
            p.stop();
        }
    }

    /// Speaks `u` in place of whatever is being said; whether into the headset.
    pub fn speak(&self, u: &Utterance) -> Result<bool, ApiError> {
        u.check()
            .map_err(|why| ApiError::new(ErrorCode::BadRequest, format!("utterance: {why}")))?;
        let headset = self.jack.now().1;
        if u.private && !headset {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "personal data is spoken only into a headset, and none is plugged in",
            ));
        }
        let mut playing = self.playing.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = playing.take() {
            p.stop();
        }
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let output = if headset { "headset" } else { "speaker" };
        let started = match &self.section.record_dir {
            Some(dir) => self.record(dir, n, output, u),
            None => self.play(
                if headset {
                    &self.section.headset
                } else {
                    &self.section.speaker
                },
                u,
            ),
        };
        match started {
            Ok(p) => {
                *playing = Some(p);
                tracing::debug!(n, output, chars = u.text.chars().count(), "speaking");
                Ok(headset)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot speak");
                Err(ApiError::new(
                    ErrorCode::Internal,
                    format!("speech failed: {e}"),
                ))
            }
        }
    }

    fn play(&self, pcm: &str, u: &Utterance) -> std::io::Result<Playing> {
        let mut engine = crate::programs::spawn_piped(
            &self.section.engine,
            &engine_args(u),
            Stdio::null(),
            Stdio::piped(),
        )?;
        let Some(wav) = engine.stdout.take() else {
            Playing {
                children: vec![engine],
            }
            .stop();
            return Err(std::io::Error::other("the engine gave no output"));
        };
        let args = [
            "-q".to_owned(),
            "-D".to_owned(),
            pcm.to_owned(),
            "-".to_owned(),
        ];
        match crate::programs::spawn_piped(
            &self.section.player,
            &args,
            Stdio::from(wav),
            Stdio::null(),
        ) {
            Ok(player) => Ok(Playing {
                children: vec![engine, player],
            }),
            Err(e) => {
                Playing {
                    children: vec![engine],
                }
                .stop();
                Err(e)
            }
        }
    }

    fn record(&self, dir: &Path, n: u64, output: &str, u: &Utterance) -> std::io::Result<Playing> {
        std::fs::create_dir_all(dir)?;
        let wav = File::create(dir.join(format!("{n:06}-{output}.wav")))?;
        let engine = crate::programs::spawn_piped(
            &self.section.engine,
            &engine_args(u),
            Stdio::null(),
            Stdio::from(wav),
        )?;
        let text = if u.private {
            "[personal]".to_owned()
        } else {
            u.text.replace(['\t', '\n'], " ")
        };
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("spoken.tsv"))?;
        writeln!(
            log,
            "{n}\t{output}\t{}\t{}\t{}\t{text}",
            voice(u.lang),
            u.rate,
            u.volume
        )?;
        Ok(Playing {
            children: vec![engine],
        })
    }
}

/// Follows the jack at `path` until `stop`: its state when opened (an evdev node reports it),
/// then each change; a device that goes away counts as no headset, and is reopened.
fn watch_jack(path: &Path, jack: &Jack, stop: &AtomicBool) {
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(60));
    while !stop.load(Ordering::Relaxed) {
        match InputSource::open(path, false) {
            Ok(mut source) => {
                backoff.reset();
                if let InputSource::Evdev(dev) = &source
                    && let Ok(switches) = dev.get_switch_state()
                {
                    jack.set(switches.contains(evdev::SwitchCode::SW_HEADPHONE_INSERT));
                }
                while let Ok(records) = source.next_batch() {
                    jack.feed(&records);
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                }
                jack.set(false);
            }
            Err(e) => tracing::debug!(error = %e, path = %path.display(), "no headset jack"),
        }
        std::thread::sleep(backoff.fail());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::input::{EV_SYN, InputRecord};

    fn utterance(text: &str) -> Utterance {
        Utterance {
            text: text.into(),
            lang: Lang::Cs,
            rate: 5,
            volume: 5,
            private: false,
        }
    }

    #[test]
    fn the_text_is_never_read_as_an_option_and_rate_and_volume_map_to_the_engine() {
        let mut u = utterance("-w /etc/passwd");
        let args = engine_args(&u);
        assert_eq!(args[args.len() - 2], "--");
        assert_eq!(args[args.len() - 1], "-w /etc/passwd");
        assert_eq!(&args[..6], ["-v", "cs", "-s", "180", "-a", "100"]);
        (u.rate, u.volume, u.lang) = (9, 1, Lang::Uk);
        assert_eq!(&engine_args(&u)[..6], ["-v", "uk", "-s", "280", "-a", "20"]);
    }

    #[test]
    fn bad_utterances_are_refused_with_the_reason() {
        let mut u = utterance("  ");
        assert!(u.check().unwrap_err().contains("nothing"));
        u.text = "a".repeat(Utterance::MAX_CHARS + 1);
        assert!(u.check().unwrap_err().contains("longer"));
        u.text = "ok".into();
        u.rate = 0;
        assert!(u.check().unwrap_err().contains("rate"));
    }

    #[test]
    fn the_jack_follows_the_switch_and_wakes_a_waiter() {
        let jack = Arc::new(Jack::default());
        let waiter = {
            let jack = Arc::clone(&jack);
            std::thread::spawn(move || jack.after(0, Duration::from_secs(10)))
        };
        std::thread::sleep(Duration::from_millis(50));
        jack.feed(&[
            InputRecord::new(1, EV_SW, SW_HEADPHONE_INSERT, 1),
            InputRecord::new(1, EV_SYN, 0, 0),
        ]);
        assert_eq!(waiter.join().unwrap(), (1, true));
        // Another switch (the microphone) changes nothing; a repeat is no change.
        jack.feed(&[InputRecord::new(2, EV_SW, 0x04, 1)]);
        jack.feed(&[InputRecord::new(2, EV_SW, SW_HEADPHONE_INSERT, 1)]);
        assert_eq!(jack.now(), (1, true));
        jack.feed(&[InputRecord::new(3, EV_SW, SW_HEADPHONE_INSERT, 0)]);
        assert_eq!(jack.after(1, Duration::ZERO), (2, false));
    }

    #[test]
    fn personal_data_is_refused_without_a_headset() {
        let dir = std::env::temp_dir().join(format!("okenko-speech-{}", crate::random::secret(6)));
        let speech = recording(&dir);
        let mut u = utterance("Jana Nováková");
        u.private = true;
        let e = speech.speak(&u).unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict);
        assert!(!dir.join("spoken.tsv").exists(), "nothing was recorded");
        speech.jack.set(true);
        // With the headset in, it is spoken into it; the log has no word of it.
        assert!(speech.speak(&u).unwrap());
        speech.stop_speaking();
        let log = std::fs::read_to_string(dir.join("spoken.tsv")).unwrap();
        assert_eq!(log, "1\theadset\tcs\t5\t5\t[personal]\n");
        let _ = std::fs::remove_dir_all(dir);
    }

    fn recording(dir: &Path) -> Speech {
        Speech::new(SpeechSection {
            engine: default_engine(),
            player: default_player(),
            speaker: default_pcm(),
            headset: default_pcm(),
            jack: None,
            record_dir: Some(dir.to_owned()),
        })
    }

    /// The WAV file `n` once the engine has finished it: its samples (16-bit mono) and rate.
    fn finished_wav(dir: &Path, n: u64, output: &str) -> (Vec<i16>, u32) {
        let path = dir.join(format!("{n:06}-{output}.wav"));
        let mut last = 0;
        for _ in 0..200 {
            std::thread::sleep(Duration::from_millis(50));
            let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if len > 44 && len == last {
                break;
            }
            last = len;
        }
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(&bytes[8..12], b"WAVE");
        assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 1, "mono");
        assert_eq!(u16::from_le_bytes([bytes[34], bytes[35]]), 16, "16-bit");
        let rate = u32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]);
        let samples = bytes[44..]
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        (samples, rate)
    }

    /// The real engine makes speech: for a sentence in each language, a WAV of a plausible
    /// length for its words (at the usual rate, 2 to 4 syllables a second), most of it sound,
    /// with pauses between words; a faster rate makes it shorter.
    #[test]
    fn the_engine_speaks_each_language_as_speech_of_the_expected_length() {
        let dir = std::env::temp_dir().join(format!("okenko-speech-{}", crate::random::secret(6)));
        let speech = recording(&dir);
        let sentences = [
            (
                Lang::Cs,
                "Vítejte u samoobslužného kiosku města. Podejte žádost.",
            ),
            (
                Lang::En,
                "Welcome to the city's self-service kiosk. Apply for a service.",
            ),
            (
                Lang::Uk,
                "Ласкаво просимо до міського кіоску самообслуговування. Подайте заяву.",
            ),
        ];
        let mut n = 0;
        for (lang, text) in sentences {
            let mut u = utterance(text);
            u.lang = lang;
            assert!(!speech.speak(&u).unwrap(), "no headset: the loudspeaker");
            n += 1;
            let (samples, rate) = finished_wav(&dir, n, "speaker");
            let seconds = samples.len() as f64 / f64::from(rate);
            assert!((2.0..9.0).contains(&seconds), "{lang:?}: {seconds:.2} s");
            // In 20 ms frames: loud ones are speech, quiet ones the pauses.
            let frame = (rate / 50) as usize;
            let loud = samples
                .chunks(frame)
                .filter(|f| {
                    let power =
                        f.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / f.len() as f64;
                    power.sqrt() > 500.0
                })
                .count();
            let frames = samples.len().div_ceil(frame);
            let share = loud as f64 / frames as f64;
            assert!(
                (0.4..0.97).contains(&share),
                "{lang:?}: {share:.2} of it is sound"
            );
            // Faster: shorter.
            u.rate = 9;
            speech.speak(&u).unwrap();
            n += 1;
            let (fast, _) = finished_wav(&dir, n, "speaker");
            assert!(
                fast.len() * 10 < samples.len() * 8,
                "{lang:?}: rate 9 is faster"
            );
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
