//! The running app: the window, a worker thread that talks to the agent, the idle time-out,
//! and the out-of-service screen when the agent cannot be reached.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use agent_client::{Client, ClientError};

use crate::errors::Problem;
use protocol::Lang;
use protocol::app::{CatalogView, RequestBody, ResponseBody, Utterance};
use slint::ComponentHandle;

use crate::AppWindow;
use crate::access::{Access, Now, Pad, Step, controls::Act};
use crate::config::AppConfig;
use crate::session::{Request, Screen, Session};
use crate::ui::{self, Chrome};

/// What the worker reports.
#[derive(Debug)]
enum Event {
    /// The agent answered a periodic refresh.
    Refreshed {
        catalog: Option<CatalogView>,
        kiosk_name: String,
        has_card_reader: bool,
        printer_down: bool,
    },
    /// The agent cannot be reached (why, for the log).
    Unreachable(String),
    /// A submission was stored; the receipt printed or not.
    Submitted {
        code: String,
        url: String,
        printed: bool,
    },
    /// A submission failed.
    SubmitFailed(Problem),
    /// A card, or none.
    Card(Option<(String, String)>),
    /// A status answer, or why there is none.
    Status(Result<protocol::app::StatusAnswer, Problem>),
    /// The requests made with a card, or why there are none.
    MyRequests(Result<Vec<protocol::app::StatusAnswer>, Problem>),
    /// A headset was plugged in (true) or pulled.
    Headset(bool),
}

/// What the speech thread passes on to the agent.
#[derive(Debug)]
enum Voice {
    /// Say this (in place of what is being said).
    Say(Utterance),
    /// Stop speaking.
    Stop,
}

/// Passes utterances to the agent, which speaks them. A failure is logged without the text.
fn speaker(socket: std::path::PathBuf, jobs: mpsc::Receiver<Voice>) {
    while let Ok(mut job) = jobs.recv() {
        // Only the newest matters: a citizen moving on does not wait for old sentences.
        while let Ok(newer) = jobs.try_recv() {
            job = newer;
        }
        let body = match job {
            Voice::Say(u) => RequestBody::Speak(u),
            Voice::Stop => RequestBody::StopSpeaking,
        };
        if let Err(e) = call(&socket, body, Duration::from_secs(3)) {
            eprintln!("kiosk-app: speech: {e}");
        }
    }
}

/// Follows the headset jack through the agent (long poll); quiet when the kiosk has no speech.
fn jack(socket: std::path::PathBuf, events: mpsc::Sender<Event>) {
    let mut seen: Option<(u64, bool)> = None;
    loop {
        let after = seen.map_or(u64::MAX, |(seq, _)| seq);
        let wait_ms = if seen.is_some() { DEVICE_WAIT_MS } else { 0 };
        let body = RequestBody::Headset {
            after: if seen.is_some() { after } else { 0 },
            wait_ms,
        };
        let wait = Duration::from_millis(u64::from(wait_ms)) + Duration::from_secs(3);
        match call(&socket, body, wait) {
            Ok(ResponseBody::Headset { seq, plugged, .. }) => {
                if seen.is_none_or(|(_, was)| was != plugged)
                    && events.send(Event::Headset(plugged)).is_err()
                {
                    return;
                }
                seen = Some((seq, plugged));
            }
            // No speech here, or the agent away: ask again later.
            _ => std::thread::sleep(Duration::from_secs(5)),
        }
    }
}

fn call(
    socket: &std::path::Path,
    body: RequestBody,
    timeout: Duration,
) -> Result<ResponseBody, ClientError> {
    Client::connect(socket, timeout)?.call(body)
}

/// The worker: one request at a time, answers as events.
fn worker(
    socket: std::path::PathBuf,
    jobs: mpsc::Receiver<(Request, Lang)>,
    events: mpsc::Sender<Event>,
) {
    while let Ok((job, _)) = jobs.recv() {
        let event = match job {
            Request::Submit(req) => {
                match call(&socket, RequestBody::Submit(req), Duration::from_secs(15)) {
                    Ok(ResponseBody::Submitted(ack)) => {
                        let code = ack.tracking_code.to_string();
                        let printed = matches!(
                            call(
                                &socket,
                                RequestBody::PrintReceipt {
                                    tracking_code: code.clone()
                                },
                                Duration::from_secs(40)
                            ),
                            Ok(ResponseBody::Printed { .. })
                        );
                        Event::Submitted {
                            code,
                            url: ack.status_url,
                            printed,
                        }
                    }
                    Ok(other) => {
                        eprintln!("kiosk-app: unexpected answer to a submission: {other:?}");
                        Event::SubmitFailed(Problem::NotSaved)
                    }
                    Err(e) => {
                        eprintln!("kiosk-app: submission failed: {e}");
                        Event::SubmitFailed(Problem::of_submit(&e))
                    }
                }
            }
            Request::ReadCard => match call(
                &socket,
                RequestBody::ReadCard { timeout_ms: 20_000 },
                Duration::from_secs(25),
            ) {
                Ok(ResponseBody::Card { identity, masked }) => {
                    Event::Card(Some((identity, masked)))
                }
                _ => Event::Card(None),
            },
            Request::Status(code) => match call(
                &socket,
                RequestBody::Status {
                    tracking_code: code,
                },
                Duration::from_secs(10),
            ) {
                Ok(ResponseBody::Status(a)) => Event::Status(Ok(a)),
                Ok(_) => Event::Status(Err(Problem::LookupFailed)),
                Err(e) => Event::Status(Err(Problem::of_status(&e))),
            },
            Request::MyRequests(identity) => match call(
                &socket,
                RequestBody::MyRequests { identity },
                Duration::from_secs(15),
            ) {
                Ok(ResponseBody::MyRequests { requests }) => Event::MyRequests(Ok(requests)),
                Ok(_) => Event::MyRequests(Err(Problem::LookupFailed)),
                Err(e) => Event::MyRequests(Err(Problem::of_my_requests(&e))),
            },
        };
        if events.send(event).is_err() {
            return;
        }
    }
}

/// How often the catalog and notices are fetched again.
const CATALOG_EVERY: Duration = Duration::from_secs(15);
/// How long one wait for a device change lasts; also how soon an agent that went away is noticed.
const DEVICE_WAIT_MS: u32 = 3_000;

/// Keeps the app's picture of the agent current: device changes as the agent reports them
/// (long-polling `DeviceEvents`, so a printer running out of paper shows at once), the catalog and
/// notices every [`CATALOG_EVERY`], and the agent unreachable as soon as a call fails.
fn refresher(socket: std::path::PathBuf, events: mpsc::Sender<Event>) {
    let mut seen: Option<u64> = None;
    let mut catalog_at: Option<Instant> = None;
    loop {
        let started = Instant::now();
        let event = match refresh(&socket, &mut seen, &mut catalog_at) {
            Ok(Some(ev)) => Some(ev),
            Ok(None) => None,
            Err(e) => {
                // Ask for everything again once the agent is back.
                (seen, catalog_at) = (None, None);
                Some(Event::Unreachable(e.to_string()))
            }
        };
        if let Some(ev) = event
            && events.send(ev).is_err()
        {
            return;
        }
        // A failing agent answers at once: do not spin.
        if let Some(rest) = Duration::from_secs(1).checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
    }
}

/// One round: waits for a device change (or the next catalog refresh); the snapshot to show when
/// anything changed.
fn refresh(
    socket: &std::path::Path,
    seen: &mut Option<u64>,
    catalog_at: &mut Option<Instant>,
) -> Result<Option<Event>, ClientError> {
    use protocol::app::{DeviceKind, DeviceState};
    let mut changed = false;
    if let Some(after) = *seen {
        let wait = Duration::from_millis(u64::from(DEVICE_WAIT_MS));
        match call(
            socket,
            RequestBody::DeviceEvents {
                after,
                wait_ms: DEVICE_WAIT_MS,
            },
            wait + Duration::from_secs(3),
        )? {
            ResponseBody::DeviceEvents { events, last } => {
                changed |= !events.is_empty() || last < after;
                *seen = Some(last);
            }
            other => return Err(unexpected(other)),
        }
    } else {
        // Where the event log stands now; everything before is in the snapshot below.
        match call(
            socket,
            RequestBody::DeviceEvents {
                after: u64::MAX,
                wait_ms: 0,
            },
            Duration::from_secs(3),
        )? {
            ResponseBody::DeviceEvents { last, .. } => *seen = Some(last),
            other => return Err(unexpected(other)),
        }
        changed = true;
    }
    let catalog_due = catalog_at.is_none_or(|t| t.elapsed() >= CATALOG_EVERY);
    if !changed && !catalog_due {
        return Ok(None);
    }
    let info = match call(socket, RequestBody::KioskInfo, Duration::from_secs(3))? {
        ResponseBody::KioskInfo(info) => info,
        other => return Err(unexpected(other)),
    };
    let catalog = match call(socket, RequestBody::Catalog, Duration::from_secs(3)) {
        Ok(ResponseBody::Catalog(c)) => Some(c),
        _ => None,
    };
    *catalog_at = Some(Instant::now());
    let devices = match call(socket, RequestBody::Devices, Duration::from_secs(3))? {
        ResponseBody::Devices { devices } => devices,
        other => return Err(unexpected(other)),
    };
    let state = |kind| {
        devices
            .iter()
            .find(|d| d.device == kind)
            .map(|d| d.state)
            .unwrap_or(DeviceState::NotConfigured)
    };
    Ok(Some(Event::Refreshed {
        catalog,
        kiosk_name: info.name,
        has_card_reader: state(DeviceKind::CardReader) != DeviceState::NotConfigured,
        printer_down: matches!(
            state(DeviceKind::Printer),
            DeviceState::Fault | DeviceState::Missing
        ),
    }))
}

fn unexpected(answer: ResponseBody) -> ClientError {
    ClientError::Protocol(format!("unexpected answer: {answer:?}"))
}

struct State {
    session: Session,
    catalog: Option<CatalogView>,
    chrome: Chrome,
    last_touch: Instant,
    config: AppConfig,
    /// The language the window's static text is in.
    shown_lang: Option<Lang>,
    /// Audio mode and the keypad's focus.
    access: Access,
    /// Everything said in audio mode, oldest first (the last [`SPOKEN_KEPT`]; tests read it).
    spoken: Vec<Utterance>,
    /// How many utterances were said in all (the kept ones are the last of them).
    said: usize,
}

/// How many utterances [`Controller::spoken`] keeps.
const SPOKEN_KEPT: usize = 500;

/// The app's logic around a window: the session, the workers that talk to the agent, the idle
/// clock. The window may be a real one ([`run`]) or offscreen (tests, benchmarks).
pub struct Controller {
    state: Rc<RefCell<State>>,
    events: mpsc::Receiver<Event>,
    jobs: mpsc::Sender<(Request, Lang)>,
    voice: mpsc::Sender<Voice>,
    ui: slint::Weak<AppWindow>,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller").finish_non_exhaustive()
    }
}

fn redraw(ui: &slint::Weak<AppWindow>, state: &RefCell<State>, voice: &mpsc::Sender<Voice>) {
    if let Some(ui) = ui.upgrade() {
        let mut guard = state.borrow_mut();
        let st = &mut *guard;
        // Selecting a language re-translates every text of the window: only when it changes.
        if st.shown_lang != Some(st.session.lang) {
            crate::render::select_language(st.session.lang);
            st.shown_lang = Some(st.session.lang);
        }
        ui::show(&ui, &st.session, st.catalog.as_ref(), &st.chrome);
        let now = Now {
            session: &st.session,
            catalog: st.catalog.as_ref(),
            chrome: &st.chrome,
        };
        if let Some(u) = st.access.observe(now) {
            say(st, voice, u);
        }
        ui::show_access(&ui, &st.access);
    }
}

impl State {
    fn spoken_since(&self, mark: usize) -> Option<Vec<Utterance>> {
        let first_kept = self.said - self.spoken.len();
        let skip = mark.checked_sub(first_kept)?;
        Some(self.spoken.iter().skip(skip).cloned().collect())
    }
}

fn say(st: &mut State, voice: &mpsc::Sender<Voice>, u: Utterance) {
    if st.spoken.len() >= SPOKEN_KEPT {
        st.spoken.remove(0);
    }
    st.spoken.push(u.clone());
    st.said += 1;
    let _ = voice.send(Voice::Say(u));
}

/// Does what a tap on the control does: the same callback.
fn perform(ui: &AppWindow, act: Act) {
    let a = ui.global::<crate::Actions>();
    let n = |i: usize| i32::try_from(i).unwrap_or(i32::MAX);
    match act {
        Act::Start => a.invoke_start(),
        Act::OpenStatus => a.invoke_open_status(),
        Act::Language(l) => a.invoke_language(l.code().into()),
        Act::Contrast => a.invoke_contrast(),
        Act::LargeText => a.invoke_large_text(),
        Act::Finish => a.invoke_finish(),
        Act::Search => a.invoke_search_tapped(),
        Act::Category(i) => a.invoke_pick_category(n(i)),
        Act::Service(i) => a.invoke_pick_service(n(i)),
        Act::Field(i) => a.invoke_focus_field(n(i)),
        Act::Toggle(i, j) => a.invoke_toggle(n(i), n(j)),
        Act::DateStep(i, step) => a.invoke_date_step(n(i), step.into()),
        Act::Key(k) => a.invoke_key(k.into()),
        Act::Next => a.invoke_next(),
        Act::Back => a.invoke_back(),
        Act::Submit => a.invoke_submit(),
        Act::Notify(c) => a.invoke_choose_notify(c),
        Act::EditNotify => a.invoke_edit_notify(),
        Act::ReadCard => a.invoke_read_card(),
        Act::Lookup => a.invoke_lookup(),
        Act::Continue => a.invoke_continue_session(),
        Act::Read => {}
    }
}

/// Carries out what a key (or the headset) asked for.
fn step(
    ui: &slint::Weak<AppWindow>,
    state: &RefCell<State>,
    voice: &mpsc::Sender<Voice>,
    step: Step,
) {
    match step {
        Step::Nothing => {}
        Step::Redraw => redraw(ui, state, voice),
        Step::Activate(act) => {
            if let Some(ui) = ui.upgrade() {
                // The callback borrows the state itself, and redraws.
                perform(&ui, act);
            }
        }
        Step::Say(u) => say(&mut state.borrow_mut(), voice, u),
        Step::Stop => {
            let _ = voice.send(Voice::Stop);
        }
    }
}

impl Controller {
    /// Starts the workers for `config.socket` and connects `ui`'s callbacks to the session.
    pub fn new(ui: &AppWindow, config: AppConfig) -> Result<Controller, String> {
        let (job_tx, job_rx) = mpsc::channel();
        let (ev_tx, ev_rx) = mpsc::channel();
        let (voice_tx, voice_rx) = mpsc::channel();
        {
            let socket = config.socket.clone();
            std::thread::Builder::new()
                .name("speech".into())
                .spawn(move || speaker(socket, voice_rx))
                .map_err(|e| e.to_string())?;
            let (socket, ev) = (config.socket.clone(), ev_tx.clone());
            std::thread::Builder::new()
                .name("jack".into())
                .spawn(move || jack(socket, ev))
                .map_err(|e| e.to_string())?;
            let (socket, ev) = (config.socket.clone(), ev_tx.clone());
            std::thread::Builder::new()
                .name("agent".into())
                .spawn(move || worker(socket, job_rx, ev))
                .map_err(|e| e.to_string())?;
            let socket = config.socket.clone();
            std::thread::Builder::new()
                .name("refresh".into())
                .spawn(move || refresher(socket, ev_tx))
                .map_err(|e| e.to_string())?;
        }
        let state = Rc::new(RefCell::new(State {
            session: Session::new(),
            catalog: None,
            chrome: Chrome {
                city: config.city.clone(),
                touch_px: config.touch_px(),
                portrait: config.orientation == crate::config::Orientation::Portrait,
                ..Chrome::default()
            },
            last_touch: Instant::now(),
            config,
            shown_lang: None,
            access: Access::new(),
            spoken: Vec::new(),
            said: 0,
        }));
        let weak = ui.as_weak();
        macro_rules! on {
            ($setter:ident, |$st:ident, $jobs:ident $(, $arg:ident : $t:ty)*| $body:block) => {{
                let (state, weak, $jobs, voice) =
                    (state.clone(), weak.clone(), job_tx.clone(), voice_tx.clone());
                ui.global::<crate::Actions>().$setter(move |$($arg: $t),*| {
                    {
                        let mut guard = state.borrow_mut();
                        let $st = &mut *guard;
                        let _ = &$jobs;
                        $body
                    }
                    redraw(&weak, &state, &voice);
                });
            }};
        }
        on!(on_tapped, |st, jobs| {
            st.last_touch = Instant::now();
            st.chrome.idle_warning = None;
        });
        on!(on_language, |st, jobs, l: slint::SharedString| {
            st.session.set_lang(match l.as_str() {
                "en" => Lang::En,
                "uk" => Lang::Uk,
                _ => Lang::Cs,
            });
        });
        on!(on_contrast, |st, jobs| {
            st.session.high_contrast = !st.session.high_contrast;
        });
        on!(on_large_text, |st, jobs| {
            st.session.large_text = !st.session.large_text;
        });
        {
            let (state, weak, voice) = (state.clone(), weak.clone(), voice_tx.clone());
            ui.global::<crate::Actions>().on_finish(move || {
                {
                    let mut st = state.borrow_mut();
                    st.session.reset();
                    st.chrome.idle_warning = None;
                    end_audio(&mut st, &voice);
                }
                redraw(&weak, &state, &voice);
            });
        }
        on!(on_start, |st, jobs| {
            st.session.start();
        });
        on!(on_open_status, |st, jobs| {
            st.session.open_status();
        });
        on!(on_pick_category, |st, jobs, i: i32| {
            st.session.pick_category(i.max(0) as usize);
        });
        on!(on_pick_service, |st, jobs, i: i32| {
            if let Some(c) = st.catalog.clone() {
                st.session.pick_service(&c, i.max(0) as usize);
            }
        });
        on!(on_search_tapped, |st, jobs| {
            st.session.search_tapped();
        });
        on!(on_key, |st, jobs, k: slint::SharedString| {
            st.session.key(&k);
        });
        on!(on_choose_notify, |st, jobs, c: i32| {
            st.session.choose_notify(match c {
                1 => Some(protocol::fleet::NoticeChannel::Sms),
                2 => Some(protocol::fleet::NoticeChannel::Email),
                _ => None,
            });
        });
        on!(on_edit_notify, |st, jobs| {
            st.session.edit_notify_address();
        });
        on!(on_focus_field, |st, jobs, i: i32| {
            st.session.focus(i.max(0) as usize);
        });
        on!(on_toggle, |st, jobs, i: i32, j: i32| {
            st.session.toggle(i.max(0) as usize, j.max(0) as usize);
        });
        on!(on_date_step, |st, jobs, i: i32, s: slint::SharedString| {
            st.session.date_step(i.max(0) as usize, &s, today());
        });
        on!(on_next, |st, jobs| {
            st.session.next();
            if st.session.screen == Screen::Identify {
                let _ = jobs.send((Request::ReadCard, st.session.lang));
            }
        });
        on!(on_back, |st, jobs| {
            st.session.back();
        });
        on!(on_submit, |st, jobs| {
            if let Some(req) = st.session.submit() {
                let _ = jobs.send((req, st.session.lang));
            }
        });
        on!(on_read_card, |st, jobs| {
            if st.session.screen == Screen::Status {
                st.session.waiting_for_card();
            }
            let _ = jobs.send((Request::ReadCard, st.session.lang));
        });
        on!(on_lookup, |st, jobs| {
            if let Some(req) = st.session.lookup() {
                let _ = jobs.send((req, st.session.lang));
            }
        });
        on!(on_continue_session, |st, jobs| {
            st.last_touch = Instant::now();
            st.chrome.idle_warning = None;
        });
        {
            let (state, weak, voice) = (state.clone(), weak.clone(), voice_tx.clone());
            ui.global::<crate::Actions>().on_pad(move |text| {
                let Some(pad) = Pad::from_key(&text) else {
                    return false;
                };
                let next = {
                    let mut guard = state.borrow_mut();
                    let st = &mut *guard;
                    // A key keeps the session alive, as a tap does.
                    st.last_touch = Instant::now();
                    st.chrome.idle_warning = None;
                    let now = Now {
                        session: &st.session,
                        catalog: st.catalog.as_ref(),
                        chrome: &st.chrome,
                    };
                    st.access.key(pad, now)
                };
                step(&weak, &state, &voice, next);
                true
            });
        }
        redraw(&weak, &state, &voice_tx);
        Ok(Controller {
            state,
            events: ev_rx,
            jobs: job_tx,
            voice: voice_tx,
            ui: weak,
        })
    }

    /// Applies what the workers reported and the idle clock; redraws when anything changed.
    pub fn pump(&self) {
        let mut changed = false;
        let mut steps = Vec::new();
        {
            let mut st = self.state.borrow_mut();
            while let Ok(ev) = self.events.try_recv() {
                changed = true;
                if let Event::Headset(plugged) = ev {
                    let st = &mut *st;
                    let now = Now {
                        session: &st.session,
                        catalog: st.catalog.as_ref(),
                        chrome: &st.chrome,
                    };
                    steps.push(st.access.headset(plugged, now));
                    continue;
                }
                if let Some(job) = apply(&mut st, ev) {
                    let _ = self.jobs.send((job, st.session.lang));
                }
            }
            let idle = st.last_touch.elapsed().as_secs() as u32;
            let (timeout, warning) = (st.config.idle_timeout_s, st.config.idle_warning_s);
            let active = !matches!(
                st.session.screen,
                Screen::Home | Screen::OutOfService | Screen::Submitting
            );
            if active && idle >= timeout {
                let left = (timeout + warning).saturating_sub(idle);
                if left == 0 {
                    st.session.reset();
                    st.chrome.idle_warning = None;
                    st.last_touch = Instant::now();
                    end_audio(&mut st, &self.voice);
                } else {
                    st.chrome.idle_warning = Some(left);
                }
                changed = true;
            }
        }
        for s in steps {
            step(&self.ui, &self.state, &self.voice, s);
        }
        if changed {
            redraw(&self.ui, &self.state, &self.voice);
        }
    }

    /// Everything said in audio mode so far (the last few hundred utterances), for tests.
    pub fn spoken(&self) -> Vec<Utterance> {
        self.state.borrow().spoken.clone()
    }

    /// How many utterances were said since the app started, a mark for
    /// [`Controller::spoken_since`] (it keeps counting when old utterances are dropped).
    pub fn spoken_count(&self) -> usize {
        self.state.borrow().said
    }

    /// What was said after `mark` (a [`Controller::spoken_count`]), oldest first; `None` when
    /// some of it has already been dropped.
    pub fn spoken_since(&self, mark: usize) -> Option<Vec<Utterance>> {
        self.state.borrow().spoken_since(mark)
    }

    /// Audio mode and the focus, for tests.
    pub fn access(&self) -> Access {
        self.state.borrow().access.clone()
    }

    /// Pretends the last touch was `ago` ago (tests of the idle time-out).
    pub fn idle_for(&self, ago: Duration) {
        let mut st = self.state.borrow_mut();
        st.last_touch = Instant::now().checked_sub(ago).unwrap_or(st.last_touch);
    }

    /// A copy of the session, for tests.
    pub fn session(&self) -> Session {
        self.state.borrow().session.clone()
    }
}

/// The session ended: audio mode ends, silently.
fn end_audio(st: &mut State, voice: &mpsc::Sender<Voice>) {
    if st.access.audio {
        let _ = voice.send(Voice::Stop);
    }
    st.access.end();
}

/// Runs the app until its window is closed.
pub fn run(config: AppConfig) -> Result<(), String> {
    if !config.backend.is_empty() {
        slint::BackendSelector::new()
            .backend_name(config.backend.clone())
            .select()
            .map_err(|e| format!("backend {}: {e}", config.backend))?;
    }
    let ui =
        AppWindow::new().map_err(|e| format!("cannot open the UI (is there a display?): {e}"))?;
    let (w, h) = config.orientation.size();
    ui.window().set_size(slint::PhysicalSize::new(w, h));
    let controller = Controller::new(&ui, config)?;
    let timer = slint::Timer::default();
    timer.start(
        slint::TimerMode::Repeated,
        Duration::from_millis(100),
        move || controller.pump(),
    );
    // The event loop's first turn runs after the window's first frame: a mark for the boot
    // benchmark and the journal (linuxkms' software renderer has no rendering notifier).
    slint::Timer::single_shot(Duration::ZERO, || {
        eprintln!("kiosk-app: first frame shown");
    });
    ui.run().map_err(|e| e.to_string())
}

/// Applies one report; what to ask the agent next, if anything.
fn apply(st: &mut State, ev: Event) -> Option<Request> {
    match ev {
        Event::Refreshed {
            catalog,
            kiosk_name,
            has_card_reader,
            printer_down,
        } => {
            st.chrome.printer_down = printer_down;
            if catalog.is_some() {
                st.catalog = catalog;
            }
            st.chrome.kiosk_name = kiosk_name;
            st.chrome.has_card_reader = has_card_reader;
            if st.session.screen == Screen::OutOfService {
                st.session.reset();
            }
        }
        Event::Unreachable(why) => {
            if st.chrome.out_of_service.is_empty() {
                eprintln!("kiosk-app: the agent cannot be reached ({why}); out of service");
            }
            if st.session.screen != Screen::Submitting {
                st.session.reset();
                st.session.screen = Screen::OutOfService;
            }
            st.chrome.out_of_service = Problem::OutOfService.text(st.session.lang).to_owned();
        }
        Event::Submitted { code, url, printed } => st.session.submitted(code, url, printed),
        Event::SubmitFailed(p) => {
            let m = p.text(st.session.lang).to_owned();
            st.session.submit_failed(m);
        }
        Event::Card(Some((identity, masked))) => return st.session.card_read(identity, masked),
        Event::Card(None) => {
            st.session.message = Problem::NoCard.text(st.session.lang).to_owned();
        }
        Event::Status(Ok(a)) => st.session.status_answer(a),
        Event::MyRequests(Ok(list)) => st.session.requests_listed(list),
        // Handled by the pump (it changes audio mode, not the session).
        Event::Headset(_) => {}
        Event::Status(Err(p)) | Event::MyRequests(Err(p)) => {
            let m = p.text(st.session.lang).to_owned();
            st.session.status_failed(m);
        }
    }
    None
}

/// Today in Czech local time.
pub fn today() -> protocol::validate::Date {
    let c = protocol::time::czech(protocol::time::now_ms());
    protocol::validate::Date {
        year: c.year.clamp(1900, 2999) as u16,
        month: c.month as u8,
        day: c.day as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::app::{ApiError, ErrorCode};
    use protocol::validate::FieldError;

    /// Every way a call to the agent can fail, as the worker sees it.
    fn failures() -> Vec<ClientError> {
        let mut out: Vec<ClientError> = [
            ErrorCode::BadRequest,
            ErrorCode::TooLarge,
            ErrorCode::UnsupportedVersion,
            ErrorCode::UnknownService,
            ErrorCode::UnknownFormVersion,
            ErrorCode::Invalid,
            ErrorCode::BadTrackingCode,
            ErrorCode::NotFound,
            ErrorCode::NotEnrolled,
            ErrorCode::Conflict,
            ErrorCode::Storage,
            ErrorCode::PrinterUnavailable,
            ErrorCode::CardReaderUnavailable,
            ErrorCode::CardExpired,
            ErrorCode::TouchscreenUnavailable,
            ErrorCode::Internal,
        ]
        .into_iter()
        .map(|code| {
            ClientError::Agent(ApiError::new(
                code,
                "no request with this tracking code is known",
            ))
        })
        .collect();
        let mut invalid = ApiError::new(ErrorCode::Invalid, "1 field(s) need attention");
        invalid.field_errors.push(FieldError {
            field: "email".into(),
            problem: protocol::validate::Problem::Required,
        });
        out.push(ClientError::Agent(invalid));
        out.push(ClientError::Protocol("unexpected answer: Pong".into()));
        out.push(ClientError::Io {
            path: "/run/okenko/agent.sock".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        });
        out
    }

    fn state(lang: Lang) -> State {
        let mut session = Session::new();
        session.set_lang(lang);
        State {
            session,
            catalog: None,
            chrome: Chrome::default(),
            last_touch: Instant::now(),
            config: AppConfig::default(),
            shown_lang: None,
            access: Access::new(),
            spoken: Vec::new(),
            said: 0,
        }
    }

    /// The app keeps its last utterances only; a mark still finds what followed it, and says
    /// so when that is gone (a long visit once read the wrong lines after the oldest went).
    #[test]
    fn marks_count_every_utterance_when_the_oldest_are_dropped() {
        let mut st = state(Lang::Cs);
        let (voice, _heard) = mpsc::channel();
        let line = |n: usize| Utterance {
            text: format!("{n}"),
            lang: Lang::Cs,
            rate: 5,
            volume: 5,
            private: false,
        };
        for n in 0..SPOKEN_KEPT + 20 {
            say(&mut st, &voice, line(n));
        }
        assert_eq!(st.spoken.len(), SPOKEN_KEPT);
        assert_eq!(st.said, SPOKEN_KEPT + 20);
        let mark = SPOKEN_KEPT + 10;
        let after = st.spoken_since(mark).expect("kept");
        let texts: Vec<_> = after.iter().map(|u| u.text.clone()).collect();
        let want: Vec<_> = (mark..SPOKEN_KEPT + 20).map(|n| n.to_string()).collect();
        assert_eq!(texts, want);
        assert_eq!(st.spoken_since(st.said), Some(Vec::new()));
        assert_eq!(st.spoken_since(19), None, "dropped");
        assert_eq!(st.spoken_since(20).map(|v| v.len()), Some(SPOKEN_KEPT));
    }

    /// Each error path of the app, in each language: what the citizen reads comes from the one
    /// table, in their language; no agent message, transport error or English text leaks into
    /// Czech or Ukrainian.
    #[test]
    fn every_error_a_citizen_sees_is_from_the_table_in_their_language() {
        let english: Vec<&str> = Problem::ALL.iter().map(|p| p.text(Lang::En)).collect();
        for lang in [Lang::Cs, Lang::En, Lang::Uk] {
            let table: Vec<&str> = Problem::ALL.iter().map(|p| p.text(lang)).collect();
            let check = |what: &str, shown: &str| {
                assert!(
                    table.contains(&shown),
                    "{lang:?} {what}: {shown:?} is not from the table"
                );
                if lang != Lang::En {
                    assert!(
                        !english.contains(&shown),
                        "{lang:?} {what}: English {shown:?}"
                    );
                }
            };
            for e in failures() {
                let events = [
                    ("submit", Event::SubmitFailed(Problem::of_submit(&e))),
                    ("status", Event::Status(Err(Problem::of_status(&e)))),
                    (
                        "my requests",
                        Event::MyRequests(Err(Problem::of_my_requests(&e))),
                    ),
                ];
                for (what, ev) in events {
                    let mut st = state(lang);
                    apply(&mut st, ev);
                    check(&format!("{what} after {e}"), &st.session.message);
                }
            }
            let mut st = state(lang);
            apply(&mut st, Event::Card(None));
            check("no card", &st.session.message);
            let mut st = state(lang);
            apply(&mut st, Event::Unreachable("connection refused".into()));
            assert_eq!(st.session.screen, Screen::OutOfService);
            // The session starts over (in the kiosk's first language); the reason is its text.
            assert_eq!(
                st.chrome.out_of_service,
                Problem::OutOfService.text(st.session.lang)
            );
        }
    }
}
