//! Citizens hear back: a submission made at a real agent with a request for text messages, the
//! reference agenda system changing its state twice, the reference SMS gateway receiving exactly
//! one message per change in the citizen's language (with the code and the status link), even
//! when the gateway fails and when it accepts a message and then never answers; quiet hours
//! holding a message until the morning (the courier's clock moved); a gateway without an
//! idempotency key never getting a message twice; and the citizen's number gone from the
//! kiosk's and the fleet's databases once the request is closed. The call centre's look-up
//! (admin API, `fleetctl request show`) shows the history and the notices.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use hw_tests::agenda::{AgendaRef, push};
use hw_tests::harness::{
    Agent, Fleet, TempDir, bin, demo_catalog, sample_submission, submit, wait_until,
};
use hw_tests::sinks::SmtpSink;
use hw_tests::smsgw::{Fault, SmsGatewayRef};
use protocol::fleet::{NoticeChannel, NoticeRequest, RequestState};
use protocol::tracking::TrackingCode;

const INBOUND: &str = "agenda-inbound-token-0123";
const SMS_TOKEN: &str = "sms-gateway-token-0123";
const NUMBER: &str = "777 123 456";

struct City {
    _tmp: TempDir,
    rt: tokio::runtime::Runtime,
    fleet: Fleet,
    agent: Agent,
    gateway: SmsGatewayRef,
    smtp: SmtpSink,
    _agenda: AgendaRef,
}

/// A fleet with the agenda system and the SMS gateway (`sms` adds to `[notices.sms]`,
/// `notices` to `[notices]`), one agent.
fn city(label: &str, notices: &str, sms: &str) -> City {
    let tmp = TempDir::new(label);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let agenda = rt
        .block_on(AgendaRef::start(
            "127.0.0.1:0".parse().unwrap(),
            Some("out-token".into()),
            None,
        ))
        .unwrap();
    let gateway = rt
        .block_on(SmsGatewayRef::start(
            "127.0.0.1:0".parse().unwrap(),
            Some(SMS_TOKEN.into()),
        ))
        .unwrap();
    let smtp = SmtpSink::start().unwrap();
    let fleet = Fleet::start(
        &tmp.path().join("fleet"),
        &format!(
            "public_url = \"https://fleet.example.cz\"\n\
             [alerts]\nsmtp_server = \"{}\"\nmail_from = \"okenko@example.cz\"\n\
             [connector]\nurl = \"{}\"\noutbound_token = \"out-token\"\n\
             inbound_token = \"{INBOUND}\"\nretry_max_s = 1\n\
             [notices]\nretry_max_s = 1\ntell_receipt = false\n{notices}\n\
             [notices.sms]\nurl = \"{}\"\nauth_header = \"Authorization\"\n\
             auth_value = \"Bearer {SMS_TOKEN}\"\ntimeout_s = 2\n{sms}\n",
            smtp.addr(),
            agenda.url(),
            gateway.url()
        ),
    );
    fleet.publish(&demo_catalog());
    let agent = Agent::start(
        &tmp.path().join("agent"),
        &fleet.url(),
        &fleet.token("kiosk-sms"),
        "",
    );
    assert!(agent.wait_ready(Duration::from_secs(20)));
    City {
        _tmp: tmp,
        rt,
        fleet,
        agent,
        gateway,
        smtp,
        _agenda: agenda,
    }
}

impl City {
    /// A submission asking for text messages, in `lang`; its code once the fleet and the
    /// agenda system have it.
    fn submit_with_sms(&self, marker: &str, lang: protocol::Lang) -> TrackingCode {
        self.submit_asking(marker, lang, NoticeChannel::Sms, NUMBER)
    }

    /// A submission asking for notices by `channel` to `to`, in `lang`; its code once the
    /// fleet and the agenda system have it.
    fn submit_asking(
        &self,
        marker: &str,
        lang: protocol::Lang,
        channel: NoticeChannel,
        to: &str,
    ) -> TrackingCode {
        let mut req = sample_submission(uuid::Uuid::new_v4(), marker);
        req.language = lang;
        req.notify = Some(NoticeRequest {
            channel,
            to: to.into(),
        });
        let before = self.agent.outbox_count("state = 'acked'");
        let ack = submit(&self.agent, &req).unwrap();
        assert!(
            wait_until(Duration::from_secs(30), || self
                .agent
                .outbox_count("state = 'acked'")
                > before),
            "the fleet acknowledges"
        );
        assert!(
            wait_until(Duration::from_secs(20), || self
                .view(&ack.tracking_code)
                .is_some_and(|v| v["state"] == "received")),
            "the agenda system has it"
        );
        ack.tracking_code
    }

    fn push(&self, code: &TrackingCode, state: RequestState) {
        self.rt
            .block_on(push(&self.fleet.url(), INBOUND, code, state, None))
            .unwrap();
    }

    fn view(&self, code: &TrackingCode) -> Option<serde_json::Value> {
        self.fleet
            .admin_get(&format!("/api/admin/v1/requests/{}", code.as_str()))
    }

    fn notice_statuses(&self, code: &TrackingCode) -> Vec<String> {
        self.view(code)
            .map(|v| {
                v["notices"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n["status"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn contacts_kept(&self) -> i64 {
        self.fleet
            .db()
            .query_row("SELECT COUNT(*) FROM request_contacts", [], |r| r.get(0))
            .unwrap()
    }
}

fn files_holding(dir: &Path, names: &[&str], needle: &str) -> Vec<String> {
    names
        .iter()
        .filter(|name| {
            std::fs::read(dir.join(name))
                .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
        .map(|n| (*n).to_owned())
        .collect()
}

#[test]
fn each_state_change_reaches_the_phone_once_in_the_citizens_language() {
    // Text messages at any hour (the test may run at night).
    let c = city(
        "notices",
        "sms_hours = \"\"\n",
        "idempotency_header = \"Idempotency-Key\"\n",
    );
    let code = c.submit_with_sms("notice-marker", protocol::Lang::En);
    // The gateway fails the first post, then takes the next and never answers in time: the
    // fleet tries again with the same key, and the gateway drops the repeat.
    c.gateway
        .script(&[Fault::Fail, Fault::AcceptThenStall(Duration::from_secs(4))]);
    c.push(&code, RequestState::InProgress);
    assert!(
        wait_until(Duration::from_secs(30), || c.notice_statuses(&code)
            == ["sent"]),
        "{:?} {:?}",
        c.view(&code),
        c.gateway.posts()
    );
    c.push(&code, RequestState::Resolved);
    assert!(wait_until(Duration::from_secs(30), || c
        .notice_statuses(&code)
        == ["sent", "sent"]));
    // A repeat of a state the agenda system already reported is no change: no notice.
    c.push(&code, RequestState::Resolved);
    std::thread::sleep(Duration::from_secs(2));

    let messages = c.gateway.messages();
    assert_eq!(
        messages.len(),
        2,
        "{messages:?} from {:?}",
        c.gateway.posts()
    );
    let link = format!("https://fleet.example.cz/s/{}", code.as_str());
    for (m, state) in messages.iter().zip(["In progress", "Resolved"]) {
        assert_eq!(m.to, "+420777123456");
        assert!(m.text.contains(&code.to_string()), "{}", m.text);
        assert!(m.text.contains(state), "{}", m.text);
        assert!(m.text.contains(&link), "{}", m.text);
        assert!(
            !m.text.contains("notice-marker"),
            "no form values: {}",
            m.text
        );
    }
    let posts = c.gateway.posts();
    assert!(
        posts.len() >= 4,
        "a failure and a lost answer were retried: {posts:?}"
    );
    let first: Vec<_> = posts
        .iter()
        .filter(|p| p.text == messages[0].text)
        .collect();
    assert!(first.len() >= 3, "{first:?}");
    assert!(
        first
            .iter()
            .all(|p| p.key.is_some() && p.key == first[0].key),
        "every attempt carries the same idempotency key: {first:?}"
    );

    // The call centre's view: history, notices, the address masked and then forgotten.
    let v = c.view(&code).unwrap();
    let states: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["state"].as_str())
        .collect();
    assert_eq!(
        states,
        ["queued", "submitted", "received", "in_progress", "resolved"]
    );
    assert_eq!(v["notices"][0]["to"], "+••• ••• ••456");
    assert!(v["notices"][0]["attempts"].as_u64().unwrap() >= 3);
    assert!(v["contact"].is_null(), "forgotten once closed: {v}");
    assert!(!v.to_string().contains("notice-marker"));
    assert_eq!(c.contacts_kept(), 0);

    // The number is in neither database's files (the kiosk's: gone with the values at the
    // ack; the fleet's: only ever sealed, and the sealed row deleted).
    let digits = "777123456";
    let spaced = NUMBER;
    assert!(wait_until(Duration::from_secs(10), || files_holding(
        &c._tmp.path().join("agent/data"),
        &["agent.sqlite", "agent.sqlite-wal", "agent.sqlite-shm"],
        spaced
    )
    .is_empty()));
    let fleet_files = ["fleet.sqlite", "fleet.sqlite-wal", "fleet.sqlite-shm"];
    let fleet_data = c._tmp.path().join("fleet/data");
    assert!(
        std::fs::read_dir(&fleet_data).unwrap().count() > 0,
        "the fleet's data dir is where the test looks"
    );
    for needle in [digits, spaced, "+420777123456"] {
        assert!(
            files_holding(&fleet_data, &fleet_files, needle).is_empty(),
            "{needle} found in the fleet's files"
        );
    }

    // `fleetctl request show` with the code as read over the phone.
    let typed = code.to_string().to_lowercase().replace('-', " ");
    let out = Command::new(bin("fleetctl"))
        .args(["request", "show", &typed])
        .env("OKENKO_FLEET_URL", c.fleet.url())
        .env("OKENKO_ADMIN_TOKEN", &c.fleet.admin_token)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&code.to_string()) && text.contains("Resolved"),
        "{text}"
    );
    assert!(
        text.contains("sent") && text.contains("+••• ••• ••456"),
        "{text}"
    );
    // Every look-up is in the audit log.
    let audit = c.fleet.admin_text("/api/admin/v1/audit").unwrap();
    assert!(audit.contains("request.lookup"), "{audit}");
}

/// Milliseconds from now to the next `hour`:`minute` Czech local time.
fn until_local(hour: i64, minute: i64) -> i64 {
    let now = protocol::time::now_ms();
    let offset = protocol::time::czech_offset_minutes(now) * 60_000;
    let local = now + offset;
    let day = local - local.rem_euclid(86_400_000);
    let mut target = day + (hour * 60 + minute) * 60_000;
    if target <= local {
        target += 86_400_000;
    }
    target - local
}

#[test]
fn quiet_hours_hold_a_text_until_morning_and_a_lost_answer_is_never_repeated() {
    // No idempotency key: a message whose answer is lost must not be sent again.
    let c = city("quiet", "sms_hours = \"Mo-Su 08:00-20:00\"\n", "");
    let code = c.submit_with_sms("quiet-marker", protocol::Lang::Cs);
    // 23:00 in Prague.
    let night = until_local(23, 0);
    c.fleet.shift_notice_clock(night);
    c.push(&code, RequestState::InProgress);
    assert!(wait_until(Duration::from_secs(15), || {
        c.view(&code).is_some_and(|v| {
            v["notices"][0]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("outside the SMS hours"))
        })
    }));
    // An e-mail goes at any hour: a Ukrainian citizen's, now.
    let mailed = c.submit_asking(
        "mail-marker",
        protocol::Lang::Uk,
        NoticeChannel::Email,
        "Olena.Shevchenko@Example.CZ",
    );
    c.push(&mailed, RequestState::WaitingForCitizen);
    assert!(wait_until(Duration::from_secs(20), || c
        .smtp
        .messages()
        .len()
        == 1));
    let mail = &c.smtp.messages()[0];
    assert!(mail.contains("To: Olena.Shevchenko@example.cz"), "{mail}");
    assert_eq!(
        c.smtp.subjects(),
        [format!("Ваша заява {mailed}: Очікує на вас")]
    );
    assert!(
        mail.contains("Subject: =?UTF-8?B?"),
        "an encoded subject: {mail}"
    );
    assert!(
        mail.contains("Очікує на вас") && mail.contains(&mailed.to_string()),
        "{mail}"
    );
    assert!(mail.contains(&format!("https://fleet.example.cz/s/{}", mailed.as_str())));
    assert!(!mail.contains("mail-marker"), "no form values: {mail}");
    std::thread::sleep(Duration::from_secs(4));
    assert!(c.gateway.posts().is_empty(), "no text message at night");
    assert_eq!(c.notice_statuses(&code), ["pending"]);

    // The next morning, 08:01: it goes, in Czech.
    c.fleet.shift_notice_clock(night + 9 * 3_600_000 + 60_000);
    assert!(wait_until(Duration::from_secs(20), || c
        .gateway
        .messages()
        .len()
        == 1));
    let m = &c.gateway.messages()[0];
    assert!(
        m.text.contains("Vyřizuje se") && m.text.contains(&code.to_string()),
        "{}",
        m.text
    );

    // The gateway takes the closing message and never answers: "unconfirmed", not repeated.
    c.gateway
        .script(&[Fault::AcceptThenStall(Duration::from_secs(4))]);
    c.push(&code, RequestState::Rejected);
    assert!(wait_until(Duration::from_secs(20), || c
        .notice_statuses(&code)
        == ["sent", "unconfirmed"]));
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(c.gateway.posts().len(), 2, "{:?}", c.gateway.posts());
    assert_eq!(c.gateway.messages().len(), 2);
    // Closed, nothing left to send: the address is gone (the e-mail's request is still open).
    assert_eq!(c.contacts_kept(), 1);
    assert!(c.view(&code).unwrap()["contact"].is_null());
    // A resend now has nowhere to go.
    let refused = c.fleet.admin_post(
        &format!("/api/admin/v1/requests/{}/resend", code.as_str()),
        &serde_json::json!({"by": "test"}),
    );
    assert!(refused.is_none());
}

/// The code with one character changed to another of the alphabet: a typo the check character
/// catches.
fn misheard(code: &TrackingCode) -> String {
    let mut chars: Vec<char> = code.as_str().chars().collect();
    chars[4] = if chars[4] == '7' { '8' } else { '7' };
    chars.into_iter().collect()
}

#[test]
fn a_call_centre_finds_a_request_read_over_the_phone_and_resends_its_notice_in_chromium() {
    use hw_tests::browser::Browser;
    const PASSWORD: &str = "correct horse battery staple";
    const WAIT: Duration = Duration::from_secs(30);
    assert!(
        hw_tests::browser::chromium().is_some(),
        "Chromium is needed (scripts/setup.sh installs Debian's chromium)"
    );
    let c = city(
        "callcentre",
        "sms_hours = \"\"\n",
        "idempotency_header = \"Idempotency-Key\"\n",
    );
    let code = c.submit_with_sms("cc-marker", protocol::Lang::Uk);
    c.push(&code, RequestState::InProgress);
    assert!(wait_until(WAIT, || c.notice_statuses(&code) == ["sent"]));
    c.fleet.add_user("cora", "call_centre", PASSWORD);
    c.fleet.add_user("vera", "viewer", PASSWORD);
    let url = c.fleet.url();
    let b = Browser::start(1366, 900).unwrap();

    // The citizen reads the code out; the operator mishears one character.
    b.sign_in(&url, "cora", PASSWORD).unwrap();
    b.wait_for("location.pathname === '/dashboard'", WAIT)
        .unwrap();
    b.click("nav a[href='/dashboard/requests']").unwrap();
    b.wait_for("location.pathname === '/dashboard/requests'", WAIT)
        .unwrap();
    let troubled = b
        .wait_for(
            "(document.getElementById('troubled-notices') || {}).innerText",
            WAIT,
        )
        .unwrap();
    assert!(
        troubled
            .as_str()
            .unwrap()
            .contains("every notice reached the citizen"),
        "{troubled}"
    );
    let spoken = |s: &str| {
        // Lower case, in groups, as typed while listening.
        let s = s.to_lowercase();
        format!("{} {} {}", &s[..4], &s[4..8], &s[8..])
    };
    b.type_into("input[name=code]", &spoken(&misheard(&code)))
        .unwrap();
    b.click("form[action='/dashboard/requests'] button")
        .unwrap();
    let error = b
        .wait_for(
            "(document.getElementById('lookup-error') || {}).innerText",
            WAIT,
        )
        .unwrap();
    assert!(
        error.as_str().unwrap().contains("This code is not valid"),
        "{error}"
    );
    assert!(
        b.eval("document.getElementById('request') === null")
            .unwrap()
            == true
    );

    // The right code, as spoken: the request, its history and its notice.
    b.eval("document.querySelector('input[name=code]').value = ''")
        .unwrap();
    b.type_into("input[name=code]", &spoken(code.as_str()))
        .unwrap();
    b.click("form[action='/dashboard/requests'] button")
        .unwrap();
    b.wait_for("document.getElementById('request-state')", WAIT)
        .unwrap();
    let text = b.text().unwrap();
    assert!(text.contains("In progress"), "{text}");
    assert!(
        text.contains("Suggestion or complaint"),
        "the service by name: {text}"
    );
    assert!(text.contains(&code.to_string()), "{text}");
    assert!(text.contains("+••• ••• ••456"), "{text}");
    assert!(!text.contains("cc-marker"), "no form values: {text}");
    assert!(!text.contains("777"), "no number: {text}");
    let shot = c._tmp.path().join("call-centre.png");
    b.screenshot(&shot).unwrap();
    if let Ok(keep) = std::env::var("OKENKO_KEEP_PNG") {
        std::fs::copy(&shot, Path::new(&keep).join("dashboard-call-centre.png")).unwrap();
    }

    // Resend: the citizen gets the notice again, in Ukrainian.
    b.click("#resend").unwrap();
    b.wait_for(
        "document.body.innerText.includes('the citizen gets it again')",
        WAIT,
    )
    .unwrap();
    assert!(wait_until(WAIT, || c.gateway.messages().len() == 2));
    let again = &c.gateway.messages()[1];
    assert!(again.text.contains("В обробці"), "{}", again.text);
    assert!(wait_until(WAIT, || c.notice_statuses(&code) == ["sent", "sent"]));
    b.click("header.top form button").unwrap();
    b.wait_for("location.pathname === '/login'", WAIT).unwrap();

    // A viewer cannot look requests up, nor resend by a forged post.
    b.sign_in(&url, "vera", PASSWORD).unwrap();
    b.wait_for("location.pathname === '/dashboard'", WAIT)
        .unwrap();
    assert_eq!(
        b.eval("document.querySelector(\"nav a[href='/dashboard/requests']\") === null")
            .unwrap(),
        true,
        "no link for a viewer"
    );
    let csrf = b
        .eval("document.querySelector('input[name=csrf]').value")
        .unwrap();
    b.goto(&format!("{url}/dashboard/requests?code={}", code.as_str()))
        .unwrap();
    let text = b.text().unwrap();
    assert!(text.contains("This needs the Call centre role"), "{text}");
    let forged = b
        .eval(&format!(
            "fetch('/dashboard/requests/{}/resend', {{method: 'POST', headers: \
             {{'Content-Type': 'application/x-www-form-urlencoded'}}, body: 'csrf=' + \
             encodeURIComponent({csrf})}}).then(r => r.status)",
            code.as_str()
        ))
        .unwrap();
    assert_eq!(forged, 403);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(c.gateway.messages().len(), 2);
    assert_eq!(c.notice_statuses(&code).len(), 2);

    // Every look-up is audited, the mistyped one too.
    let audit = c.fleet.admin_text("/api/admin/v1/audit").unwrap();
    assert!(audit.contains("(invalid code)"), "{audit}");
    assert!(
        audit.contains(code.as_str()) && audit.contains("cora"),
        "{audit}"
    );
}
