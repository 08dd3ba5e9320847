//! The store's contract, as checks any implementation of [`Store`] runs in its tests: the
//! embedded SQLite store now, PostgreSQL next. Each check takes a fresh, empty store and says
//! what it found when the store breaks the rule (`Err`), so one test per implementation runs
//! them all: `for (name, check) in contract::CHECKS { check(&fresh())... }`.
//!
//! They hold what the rest of the server relies on: enrolment is one-time, a kiosk's
//! credential finds only that kiosk, a submission id is stored once and so is a tracking code,
//! a new submission passes the caller's rules with the form version it names (a refused one
//! stores nothing), a delivery is due until it
//! is marked delivered and waits as long as the back-off says after a failure, a published
//! catalog version never changes, an alert opens once and resolves, a command takes one result,
//! a staff name is unique, the audit log is newest first, rollouts come back as saved; a
//! heartbeat shows as the kiosk's newest state (a replayed older one does not) and marks its
//! minute, a lease has one holder until it lapses, a purge takes a request's values and keeps
//! the request, wrong sign-ins lock a name until it is unlocked, a request's state comes back
//! as set; a state change queues one notice to the address the citizen gave (none for a
//! repeat), a claimed notice is no one else's, and an address goes when its request closed
//! with nothing left to send, or when kept too long.

use protocol::UnixMillis;
use protocol::fleet::{Catalog, CommandAction, CommandResult, ItemOutcome, SubmissionUpload};
use protocol::form::Service;
use protocol::tracking::TrackingCode;

use super::{
    AuditEntry, Enrolment, KioskRecord, LoginLimits, StaffSession, StaffUser, Store, StoreError,
    UserChange,
};
use crate::model::AlertKind;

/// One rule of the contract.
pub type Check = fn(&dyn Store) -> Result<(), String>;

/// Every rule, by name.
pub const CHECKS: &[(&str, Check)] = &[
    ("enrolment_is_one_time", enrolment_is_one_time),
    (
        "a_submission_id_is_stored_once",
        a_submission_id_is_stored_once,
    ),
    (
        "the_rules_see_the_named_form_and_a_refusal_stores_nothing",
        the_rules_see_the_named_form_and_a_refusal_stores_nothing,
    ),
    (
        "a_tracking_code_is_stored_once",
        a_tracking_code_is_stored_once,
    ),
    (
        "a_delivery_is_due_until_delivered",
        a_delivery_is_due_until_delivered,
    ),
    (
        "published_catalog_versions_grow",
        published_catalog_versions_grow,
    ),
    (
        "an_alert_opens_once_and_resolves",
        an_alert_opens_once_and_resolves,
    ),
    ("a_command_takes_one_result", a_command_takes_one_result),
    ("staff_names_are_unique", staff_names_are_unique),
    (
        "the_audit_log_is_newest_first",
        the_audit_log_is_newest_first,
    ),
    (
        "heartbeats_show_the_newest_and_mark_minutes",
        heartbeats_show_the_newest_and_mark_minutes,
    ),
    ("a_lease_has_one_holder", a_lease_has_one_holder),
    (
        "a_purge_takes_the_values_and_keeps_the_request",
        a_purge_takes_the_values_and_keeps_the_request,
    ),
    (
        "wrong_sign_ins_lock_and_unlock",
        wrong_sign_ins_lock_and_unlock,
    ),
    ("states_come_back_as_set", states_come_back_as_set),
    (
        "a_state_change_is_told_once_and_the_address_goes_at_close",
        a_state_change_is_told_once_and_the_address_goes_at_close,
    ),
    (
        "a_claimed_notice_is_not_due_and_old_addresses_are_forgotten",
        a_claimed_notice_is_not_due_and_old_addresses_are_forgotten,
    ),
];

/// The time the checks run at.
pub const NOW: UnixMillis = 1_800_000_000_000;
const DEMO_CATALOG: &str = include_str!("../../data/demo-catalog.json");

fn err(e: StoreError) -> String {
    e.to_string()
}

/// `ensure!(condition, "what was found")`.
macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

/// An enrolled kiosk `kiosk_id`, with credential hash `cred-<kiosk_id>`.
fn enrolled(s: &dyn Store, kiosk_id: &str) -> Result<KioskRecord, String> {
    let token = format!("token-{kiosk_id}");
    s.create_bootstrap_token(&token, kiosk_id, "Kiosk", "default", NOW + 3_600_000)
        .map_err(err)?;
    match s
        .enrol(&token, &format!("cred-{kiosk_id}"), "1.0.0", NOW)
        .map_err(err)?
    {
        Enrolment::Enrolled(k) => Ok(k),
        other => Err(format!("enrolling {kiosk_id}: {other:?}")),
    }
}

/// The demo catalog, published.
fn published(s: &dyn Store) -> Result<u64, String> {
    let catalog: Catalog = protocol::json::decode(DEMO_CATALOG.as_bytes(), 1 << 20)
        .map_err(|e| format!("the demo catalog: {e}"))?;
    s.publish_catalog(&catalog, NOW).map_err(err)
}

/// A valid submission to the demo catalog's `podnet` from kiosk `number` (for other store
/// tests too).
pub fn upload(number: u32, seq: u32, id: uuid::Uuid) -> Result<SubmissionUpload, String> {
    let mut values = protocol::validate::FormValues::new();
    values.insert(
        "text".into(),
        protocol::validate::FieldValue::Text("Dost dlouhý podnět".into()),
    );
    Ok(SubmissionUpload {
        id,
        tracking_code: TrackingCode::from_parts(number, seq).ok_or("no such code")?,
        service_id: "podnet".into(),
        form_version: 1,
        language: protocol::Lang::Cs,
        values,
        identity: None,
        created_at: NOW - 1_000,
        notify: None,
    })
}

/// The submission rules of the tests: the named form must be published.
fn published_only(_: &SubmissionUpload, form: Option<&Service>) -> Result<(), String> {
    form.map(drop).ok_or_else(|| "never published".to_owned())
}

fn enrolment_is_one_time(s: &dyn Store) -> Result<(), String> {
    let k = enrolled(s, "k-one")?;
    let again = s
        .enrol("token-k-one", "cred-k-one", "1.0.0", NOW + 1)
        .map_err(err)?;
    ensure!(
        matches!(&again, Enrolment::Enrolled(r) if r.kiosk_id == k.kiosk_id),
        "the same token and credential again: {again:?}"
    );
    let other = s
        .enrol("token-k-one", "cred-thief", "1.0.0", NOW + 2)
        .map_err(err)?;
    ensure!(
        other == Enrolment::TokenUsed,
        "another credential: {other:?}"
    );
    let unknown = s.enrol("no-such", "cred-x", "1.0.0", NOW).map_err(err)?;
    ensure!(
        unknown == Enrolment::UnknownToken,
        "an unknown token: {unknown:?}"
    );
    enrolled(s, "k-two")?;
    let found = s.authenticate("k-one", "cred-k-one").map_err(err)?;
    ensure!(
        found.is_some_and(|r| r.kiosk_id == "k-one"),
        "k-one's credential does not find k-one"
    );
    let crossed = s.authenticate("k-two", "cred-k-one").map_err(err)?;
    ensure!(crossed.is_none(), "k-one's credential finds k-two");
    Ok(())
}

fn a_submission_id_is_stored_once(s: &dyn Store) -> Result<(), String> {
    published(s)?;
    let k = enrolled(s, "k-sub")?;
    let id = uuid::Uuid::new_v4();
    let item = upload(k.number, 7, id)?;
    let first = s
        .ingest(&k, std::slice::from_ref(&item), NOW, &published_only)
        .map_err(err)?;
    ensure!(
        matches!(first[0].outcome, ItemOutcome::Accepted { received_at } if received_at == NOW),
        "first upload: {first:?}"
    );
    let again = s
        .ingest(&k, &[item], NOW + 5, &published_only)
        .map_err(err)?;
    ensure!(
        matches!(again[0].outcome, ItemOutcome::Duplicate { received_at } if received_at == NOW),
        "the retry: {again:?}"
    );
    let count = s.submission_count().map_err(err)?;
    ensure!(count == 1, "{count} submissions stored for one id");
    let code = TrackingCode::from_parts(k.number, 7).ok_or("no such code")?;
    ensure!(
        s.status(code.as_str()).map_err(err)?.is_some(),
        "no status for {code}"
    );
    Ok(())
}

fn the_rules_see_the_named_form_and_a_refusal_stores_nothing(s: &dyn Store) -> Result<(), String> {
    published(s)?;
    let k = enrolled(s, "k-rules")?;
    let seen = std::cell::RefCell::new(Vec::new());
    let refuse = |item: &SubmissionUpload, form: Option<&Service>| {
        seen.borrow_mut()
            .push((item.form_version, form.map(|f| f.id.clone())));
        Err("refused by the rules".to_owned())
    };
    let mut unpublished = upload(k.number, 2, uuid::Uuid::new_v4())?;
    unpublished.form_version = 99;
    let items = [upload(k.number, 1, uuid::Uuid::new_v4())?, unpublished];
    let acks = s.ingest(&k, &items, NOW, &refuse).map_err(err)?;
    ensure!(
        acks.len() == 2
            && acks.iter().zip(&items).all(|(a, i)| a.id == i.id
                && matches!(&a.outcome, ItemOutcome::Rejected { reason } if reason == "refused by the rules")),
        "refused items: {acks:?}"
    );
    ensure!(
        *seen.borrow() == [(1, Some("podnet".to_owned())), (99, None)],
        "the rules saw {:?}",
        seen.borrow()
    );
    let count = s.submission_count().map_err(err)?;
    ensure!(count == 0, "{count} refused submissions stored");
    ensure!(
        s.due_deliveries(NOW, 10).map_err(err)?.is_empty(),
        "a refused submission is due for delivery"
    );
    Ok(())
}

fn a_tracking_code_is_stored_once(s: &dyn Store) -> Result<(), String> {
    published(s)?;
    let k = enrolled(s, "k-code")?;
    let first = upload(k.number, 3, uuid::Uuid::new_v4())?;
    let second = upload(k.number, 3, uuid::Uuid::new_v4())?;
    let acks = s
        .ingest(&k, &[first, second], NOW, &published_only)
        .map_err(err)?;
    ensure!(
        matches!(acks[0].outcome, ItemOutcome::Accepted { .. })
            && matches!(&acks[1].outcome, ItemOutcome::Rejected { reason } if reason.contains("tracking code")),
        "two ids with one tracking code: {acks:?}"
    );
    Ok(())
}

fn a_delivery_is_due_until_delivered(s: &dyn Store) -> Result<(), String> {
    published(s)?;
    let k = enrolled(s, "k-del")?;
    let id = uuid::Uuid::new_v4();
    s.ingest(&k, &[upload(k.number, 1, id)?], NOW, &published_only)
        .map_err(err)?;
    let due = s.due_deliveries(NOW, 10).map_err(err)?;
    ensure!(
        due.iter().map(|d| d.id).collect::<Vec<_>>() == [id],
        "due: {due:?}"
    );
    let attempts = s
        .delivery_failed(id, "agenda down", NOW, &|_| 60_000)
        .map_err(err)?;
    ensure!(attempts == 1, "{attempts} attempts after one failure");
    ensure!(
        s.due_deliveries(NOW + 59_000, 10).map_err(err)?.is_empty(),
        "due again before its back-off ended"
    );
    ensure!(
        s.due_deliveries(NOW + 60_000, 10).map_err(err)?.len() == 1,
        "not due when its back-off ended"
    );
    s.mark_delivered(id, NOW + 61_000, false).map_err(err)?;
    ensure!(
        s.due_deliveries(NOW + 3_600_000, 10)
            .map_err(err)?
            .is_empty(),
        "due after it was delivered"
    );
    Ok(())
}

fn published_catalog_versions_grow(s: &dyn Store) -> Result<(), String> {
    ensure!(
        s.catalog().map_err(err)?.is_none(),
        "a catalog before any was published"
    );
    let v1 = published(s)?;
    let v2 = published(s)?;
    ensure!(v2 > v1, "versions {v1} then {v2}");
    let c = s
        .catalog()
        .map_err(err)?
        .ok_or("no catalog after publishing")?;
    ensure!(
        c.version == v2,
        "the catalog is version {}, not {v2}",
        c.version
    );
    ensure!(
        s.service_version("podnet", 1).map_err(err)?.is_some(),
        "the published form version is not kept"
    );
    Ok(())
}

fn an_alert_opens_once_and_resolves(s: &dyn Store) -> Result<(), String> {
    enrolled(s, "k-alert")?;
    let active = [(AlertKind::PrinterPaperOut, "paper out".to_owned())];
    let opened = s
        .reconcile_alerts("k-alert", &active, &[], NOW)
        .map_err(err)?;
    ensure!(
        opened.len() == 1 && opened[0].event == "opened",
        "{opened:?}"
    );
    let again = s
        .reconcile_alerts("k-alert", &active, &[], NOW + 1)
        .map_err(err)?;
    ensure!(again.is_empty(), "the same condition again: {again:?}");
    let open = s.alerts(true, 10).map_err(err)?;
    ensure!(
        open.len() == 1 && open[0].kind == AlertKind::PrinterPaperOut,
        "{open:?}"
    );
    let resolved = s
        .reconcile_alerts("k-alert", &[], &[], NOW + 2)
        .map_err(err)?;
    ensure!(
        resolved.len() == 1 && resolved[0].event == "resolved",
        "{resolved:?}"
    );
    ensure!(
        s.alerts(true, 10).map_err(err)?.is_empty(),
        "still open after it resolved"
    );
    Ok(())
}

fn a_command_takes_one_result(s: &dyn Store) -> Result<(), String> {
    enrolled(s, "k-cmd")?;
    enrolled(s, "k-other")?;
    let id = s
        .queue_command("k-cmd", &CommandAction::PrintTestReceipt, "jana", NOW)
        .map_err(err)?
        .ok_or("no command queued for an enrolled kiosk")?;
    ensure!(
        s.queue_command("nobody", &CommandAction::Reboot, "jana", NOW)
            .map_err(err)?
            .is_none(),
        "a command queued for a kiosk that does not exist"
    );
    ensure!(
        s.pending_commands("k-other", NOW).map_err(err)?.is_empty(),
        "another kiosk sees the command"
    );
    let result = CommandResult {
        ok: true,
        output: "printed".into(),
    };
    ensure!(
        !s.finish_command("k-other", id, &result, NOW).map_err(err)?,
        "another kiosk answered the command"
    );
    ensure!(
        s.finish_command("k-cmd", id, &result, NOW + 1)
            .map_err(err)?,
        "the kiosk's answer was not taken"
    );
    // A second result (the kiosk's retry after a lost reply) is acknowledged and ignored.
    let retry = CommandResult {
        ok: false,
        output: "printed twice?".into(),
    };
    ensure!(
        s.finish_command("k-cmd", id, &retry, NOW + 2)
            .map_err(err)?,
        "the kiosk's retried answer was refused"
    );
    let kept = s.commands("k-cmd", 10).map_err(err)?;
    ensure!(
        kept.len() == 1
            && kept[0].ok == Some(true)
            && kept[0].output.as_deref() == Some("printed")
            && kept[0].finished_at == Some(NOW + 1),
        "the first answer is not the one kept: {kept:?}"
    );
    Ok(())
}

/// A new, enabled staff account.
fn staff(name: &str, role: &str, hash: &str) -> StaffUser {
    StaffUser {
        username: name.into(),
        role: role.into(),
        password_hash: hash.into(),
        created_at: NOW,
        disabled: false,
        failed_logins: 0,
        locked_until: None,
        last_login: None,
    }
}

fn staff_names_are_unique(s: &dyn Store) -> Result<(), String> {
    let user = staff("jana", "admin", "$argon2id$placeholder");
    s.create_user(&user).map_err(err)?;
    ensure!(
        matches!(s.create_user(&user), Err(StoreError::Conflict(_))),
        "the same name twice"
    );
    let found = s.user("jana").map_err(err)?.ok_or("jana is not found")?;
    ensure!(found.role == "admin", "{found:?}");
    Ok(())
}

fn the_audit_log_is_newest_first(s: &dyn Store) -> Result<(), String> {
    for (at, action) in [(NOW, "first"), (NOW + 1, "second")] {
        s.audit(&AuditEntry {
            at,
            actor: "jana".into(),
            action: action.into(),
            target: "t".into(),
            detail: String::new(),
        })
        .map_err(err)?;
    }
    let log = s.audit_log(10).map_err(err)?;
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    ensure!(actions == ["second", "first"], "{actions:?}");
    Ok(())
}

/// A heartbeat of `version`, sampled at `at` (for other store tests too).
pub fn heartbeat(at: UnixMillis, version: &str, outbox: u64) -> protocol::fleet::Heartbeat {
    protocol::fleet::Heartbeat {
        sampled_at: at,
        agent_version: version.into(),
        outbox_len: outbox,
        outbox_oldest_age_s: None,
        devices: Vec::new(),
        catalog_version: 1,
        system: None,
        last_interaction_at: None,
        sent_at: None,
        console: Vec::new(),
        update: None,
    }
}

fn heartbeats_show_the_newest_and_mark_minutes(s: &dyn Store) -> Result<(), String> {
    enrolled(s, "k-hb")?;
    let batch = [
        ("k-hb".to_owned(), heartbeat(NOW, "1.1.0", 2), NOW + 100),
        (
            "k-hb".to_owned(),
            heartbeat(NOW + 60_000, "1.2.0", 0),
            NOW + 60_100,
        ),
    ];
    s.record_heartbeats(&batch).map_err(err)?;
    s.sync().map_err(err)?;
    // A buffered heartbeat replayed late is history, not the kiosk's state.
    let old = [(
        "k-hb".to_owned(),
        heartbeat(NOW - 600_000, "1.0.0", 9),
        NOW + 31_000,
    )];
    s.record_heartbeats(&old).map_err(err)?;
    let (k, hb) = s
        .kiosk_health_of("k-hb")
        .map_err(err)?
        .ok_or("the kiosk is gone")?;
    ensure!(
        k.last_seen == Some(NOW + 60_000) && k.agent_version.as_deref() == Some("1.2.0"),
        "the newest state is not shown: {k:?}"
    );
    ensure!(
        hb.is_some_and(|h| h.agent_version == "1.2.0" && h.outbox_len == 0),
        "the newest heartbeat is not kept"
    );
    // Both minutes of the batch (one kiosk, one day) are marked, and the replayed one's.
    for at in [NOW, NOW + 60_000, NOW - 600_000] {
        let (day, minute) = crate::uptime::day_minute(at);
        let bits = s.uptime(&day, &day).map_err(err)?;
        let marked = bits
            .get(&("k-hb".to_owned(), day.clone()))
            .is_some_and(|b| crate::uptime::is_set(b, minute));
        ensure!(
            marked,
            "the heartbeat's minute {minute} of {day} is not marked"
        );
    }
    s.write_behind().map_err(err)?;
    let history = s.health_history("k-hb", NOW - 86_400_000).map_err(err)?;
    let samples: u64 = history.iter().map(|p| p.samples).sum();
    ensure!(
        samples == 3,
        "{samples} samples in the health history, not 3"
    );
    Ok(())
}

fn a_lease_has_one_holder(s: &dyn Store) -> Result<(), String> {
    ensure!(
        s.hold_lease("sweep", "a", NOW, 10_000).map_err(err)?,
        "a free lease was not taken"
    );
    ensure!(
        !s.hold_lease("sweep", "b", NOW + 5_000, 10_000)
            .map_err(err)?,
        "a held lease was taken by another"
    );
    ensure!(
        s.hold_lease("sweep", "a", NOW + 9_000, 10_000)
            .map_err(err)?,
        "the holder could not renew"
    );
    ensure!(
        !s.hold_lease("sweep", "b", NOW + 18_000, 10_000)
            .map_err(err)?,
        "a renewed lease lapsed early"
    );
    ensure!(
        s.hold_lease("sweep", "b", NOW + 19_000, 10_000)
            .map_err(err)?,
        "a lapsed lease was not taken over"
    );
    s.release_lease("sweep", "b").map_err(err)?;
    ensure!(
        s.hold_lease("sweep", "a", NOW + 19_001, 10_000)
            .map_err(err)?,
        "a released lease was not free"
    );
    Ok(())
}

fn a_purge_takes_the_values_and_keeps_the_request(s: &dyn Store) -> Result<(), String> {
    published(s)?;
    let k = enrolled(s, "k-purge")?;
    let id = uuid::Uuid::new_v4();
    let mut item = upload(k.number, 4, id)?;
    item.identity = Some("card-hash".into());
    s.ingest(&k, &[item], NOW, &published_only).map_err(err)?;
    let due = s.due_deliveries(NOW, 10).map_err(err)?;
    ensure!(
        due.len() == 1 && !due[0].values.is_empty(),
        "the values are not delivered: {due:?}"
    );
    s.mark_delivered(id, NOW + 1_000, true).map_err(err)?;
    let listed = s.submissions(10).map_err(err)?;
    ensure!(
        listed.len() == 1 && listed[0].delivered_at == Some(NOW + 1_000),
        "the delivered request is not listed: {listed:?}"
    );
    let code = TrackingCode::from_parts(k.number, 4).ok_or("no such code")?;
    let status = s.status(code.as_str()).map_err(err)?.ok_or("no status")?;
    ensure!(
        status.state == protocol::fleet::RequestState::Received,
        "delivered but {:?}",
        status.state
    );
    ensure!(
        s.requests_by_identity("card-hash", 10).map_err(err)?.len() == 1,
        "the card no longer finds its request"
    );
    ensure!(
        s.forget_identities(NOW + 1).map_err(err)? == 1,
        "the card's hash was not forgotten"
    );
    ensure!(
        s.requests_by_identity("card-hash", 10)
            .map_err(err)?
            .is_empty(),
        "a forgotten card still finds its request"
    );
    Ok(())
}

fn wrong_sign_ins_lock_and_unlock(s: &dyn Store) -> Result<(), String> {
    let user = staff("petr", "operator", "$argon2id$one");
    s.create_user(&user).map_err(err)?;
    let limits = LoginLimits {
        per_source: 3,
        per_name: 10,
        lock_ms: 60_000,
    };
    let mut locked = None;
    for i in 0..3 {
        locked = s
            .login_failed("petr", "10.0.0.1", NOW + i, limits)
            .map_err(err)?;
    }
    ensure!(
        locked == Some(NOW + 2 + 60_000),
        "three failures locked {locked:?}"
    );
    ensure!(
        s.login_lock("petr", "10.0.0.1", NOW + 10)
            .map_err(err)?
            .is_some(),
        "the source is not locked"
    );
    ensure!(
        s.login_lock("petr", "10.0.0.2", NOW + 10)
            .map_err(err)?
            .is_none(),
        "another source is locked"
    );
    s.change_user("petr", &UserChange::Unlock).map_err(err)?;
    ensure!(
        s.login_lock("petr", "10.0.0.1", NOW + 10)
            .map_err(err)?
            .is_none(),
        "still locked after unlocking"
    );
    let session = StaffSession {
        id_hash: "session-hash".into(),
        username: "petr".into(),
        csrf: "csrf".into(),
        created_at: NOW + 20,
        last_seen: NOW + 20,
    };
    ensure!(
        s.login_succeeded(&user, &session, "10.0.0.1")
            .map_err(err)?,
        "a good sign-in was refused"
    );
    ensure!(
        s.session("session-hash").map_err(err)?.is_some(),
        "no session after signing in"
    );
    s.change_user("petr", &UserChange::Password("$argon2id$two".into()))
        .map_err(err)?;
    ensure!(
        s.session("session-hash").map_err(err)?.is_none(),
        "a session outlived a new password"
    );
    ensure!(
        !s.login_succeeded(&user, &session, "10.0.0.1")
            .map_err(err)?,
        "a sign-in checked against the old password opened a session"
    );
    Ok(())
}

fn states_come_back_as_set(s: &dyn Store) -> Result<(), String> {
    published(s)?;
    let k = enrolled(s, "k-state")?;
    s.ingest(
        &k,
        &[upload(k.number, 5, uuid::Uuid::new_v4())?],
        NOW,
        &published_only,
    )
    .map_err(err)?;
    let code = TrackingCode::from_parts(k.number, 5).ok_or("no such code")?;
    let note = protocol::Text::cs("Hotovo");
    ensure!(
        s.set_status(
            code.as_str(),
            protocol::fleet::RequestState::Resolved,
            Some(&note),
            NOW + 5
        )
        .map_err(err)?,
        "the code is not found"
    );
    ensure!(
        !s.set_status(
            "NO-SUCH",
            protocol::fleet::RequestState::Resolved,
            None,
            NOW
        )
        .map_err(err)?,
        "an unknown code was set"
    );
    let st = s.status(code.as_str()).map_err(err)?.ok_or("no status")?;
    ensure!(
        st.state == protocol::fleet::RequestState::Resolved
            && st.updated_at == NOW + 5
            && st.note.as_ref() == Some(&note)
            && st.service_name.is_some(),
        "{st:?}"
    );
    let days = s.submission_days(&k.kiosk_id, 0).map_err(err)?;
    ensure!(
        days.len() == 1 && days[0].1 == 1 && days[0].0.len() == 10,
        "per day: {days:?}"
    );
    Ok(())
}

/// A request with a sealed-looking address kept for it (the store never opens it).
fn with_contact(s: &dyn Store, kiosk_id: &str, tell_receipt: bool) -> Result<String, String> {
    published(s)?;
    let k = enrolled(s, kiosk_id)?;
    s.ingest(
        &k,
        &[upload(k.number, 9, uuid::Uuid::new_v4())?],
        NOW,
        &published_only,
    )
    .map_err(err)?;
    let code = TrackingCode::from_parts(k.number, 9)
        .ok_or("no such code")?
        .as_str()
        .to_owned();
    let contact = super::SealedContact {
        channel: protocol::fleet::NoticeChannel::Sms,
        sealed: "v1:sealed".into(),
        address_key: "key-of-the-number".into(),
        masked: "+••• ••• ••456".into(),
        language: protocol::Lang::En,
    };
    ensure!(
        s.save_contact(&code, &contact, tell_receipt, NOW)
            .map_err(err)?,
        "the address was not kept"
    );
    ensure!(
        !s.save_contact(&code, &contact, tell_receipt, NOW)
            .map_err(err)?,
        "the address was kept twice"
    );
    ensure!(
        !s.save_contact("0000000ZZ", &contact, true, NOW)
            .map_err(err)?,
        "an address was kept for an unknown request"
    );
    Ok(code)
}

fn a_state_change_is_told_once_and_the_address_goes_at_close(s: &dyn Store) -> Result<(), String> {
    use protocol::fleet::RequestState::{InProgress, Resolved, Submitted};
    let code = with_contact(s, "k-notice", true)?;
    let due = s.due_notices(NOW, 10, NOW + 60_000).map_err(err)?;
    ensure!(
        due.len() == 1
            && due[0].state == Submitted
            && due[0].contact.language == protocol::Lang::En,
        "the receipt notice: {due:?}"
    );
    s.notice_done(due[0].id, &super::NoticeOutcome::Sent, NOW + 1)
        .map_err(err)?;
    s.set_status(&code, InProgress, None, NOW + 2)
        .map_err(err)?;
    s.set_status(&code, InProgress, None, NOW + 3)
        .map_err(err)?;
    let due = s.due_notices(NOW + 10, 10, NOW + 60_000).map_err(err)?;
    ensure!(
        due.len() == 1 && due[0].state == InProgress && due[0].tracking_code == code,
        "one notice for one change, none for a repeat: {due:?}"
    );
    // A failure waits for its retry time; a deferral counts no attempt.
    s.notice_done(
        due[0].id,
        &super::NoticeOutcome::Retry {
            error: "gateway 500".into(),
            at: NOW + 1_000,
        },
        NOW + 10,
    )
    .map_err(err)?;
    ensure!(
        s.due_notices(NOW + 999, 10, NOW + 60_000)
            .map_err(err)?
            .is_empty(),
        "a failed notice came due before its retry time"
    );
    let again = s.due_notices(NOW + 1_000, 10, NOW + 60_000).map_err(err)?;
    ensure!(again.len() == 1 && again[0].attempts == 1, "{again:?}");
    s.notice_done(again[0].id, &super::NoticeOutcome::Sent, NOW + 1_001)
        .map_err(err)?;
    ensure!(
        s.notices_sent_to("key-of-the-number", NOW).map_err(err)? == 2,
        "sent notices are counted per address"
    );
    s.set_status(&code, Resolved, None, NOW + 2_000)
        .map_err(err)?;
    let last = s.due_notices(NOW + 2_000, 10, NOW + 60_000).map_err(err)?;
    ensure!(last.len() == 1, "the closing notice: {last:?}");
    let v = s.request_view(&code).map_err(err)?.ok_or("no view")?;
    ensure!(
        v.contact.is_some(),
        "the address went before the closing notice was sent"
    );
    s.notice_done(
        last[0].id,
        &super::NoticeOutcome::Failed {
            error: "refused".into(),
        },
        NOW + 2_001,
    )
    .map_err(err)?;
    let v = s.request_view(&code).map_err(err)?.ok_or("no view")?;
    ensure!(
        v.contact.is_none(),
        "the address outlived its closed request"
    );
    let statuses: Vec<&str> = v.notices.iter().map(|n| n.status.as_str()).collect();
    ensure!(statuses == ["sent", "sent", "failed"], "{statuses:?}");
    let troubled = s.troubled_notices(NOW, 10).map_err(err)?;
    ensure!(
        troubled.len() == 1 && troubled[0].0 == code && troubled[0].1.status == "failed",
        "staff see the failed notice: {troubled:?}"
    );
    ensure!(
        s.resend_notice(&code, "cc", NOW + 3_000)
            .map_err(err)?
            .is_none(),
        "a notice was queued to a forgotten address"
    );
    ensure!(
        matches!(
            s.resend_notice("0000000ZZ", "cc", NOW),
            Err(StoreError::NotFound(_))
        ),
        "a resend for an unknown code"
    );
    ensure!(
        s.add_request_note(&code, "cc", "Volala, ptá se.", NOW + 4_000)
            .map_err(err)?,
        "note"
    );
    let v = s.request_view(&code).map_err(err)?.ok_or("no view")?;
    let steps: Vec<String> = v
        .events
        .iter()
        .map(|e| {
            e.state
                .map_or(format!("note by {}", e.by), |st| st.as_str().to_owned())
        })
        .collect();
    ensure!(
        steps
            == [
                "queued",
                "submitted",
                "in_progress",
                "resolved",
                "note by cc"
            ],
        "history: {steps:?}"
    );
    Ok(())
}

fn a_claimed_notice_is_not_due_and_old_addresses_are_forgotten(
    s: &dyn Store,
) -> Result<(), String> {
    let code = with_contact(s, "k-claim", false)?;
    ensure!(
        s.due_notices(NOW, 10, NOW + 60_000)
            .map_err(err)?
            .is_empty(),
        "a receipt notice nobody asked for"
    );
    let id = s
        .resend_notice(&code, "cc", NOW)
        .map_err(err)?
        .ok_or("no address")?;
    let mine = s.due_notices(NOW, 10, NOW + 60_000).map_err(err)?;
    ensure!(mine.len() == 1 && mine[0].id == id, "{mine:?}");
    ensure!(
        s.due_notices(NOW + 1, 10, NOW + 60_000)
            .map_err(err)?
            .is_empty(),
        "a claimed notice was due to another"
    );
    ensure!(
        s.due_notices(NOW + 60_000, 10, NOW + 120_000)
            .map_err(err)?
            .len()
            == 1,
        "a lapsed claim did not come due again"
    );
    ensure!(
        s.forget_contacts(NOW).map_err(err)? == 0,
        "a young address was forgotten"
    );
    ensure!(
        s.forget_contacts(NOW + 1).map_err(err)? == 1,
        "an old address was kept"
    );
    let v = s.request_view(&code).map_err(err)?.ok_or("no view")?;
    ensure!(
        v.contact.is_none() && v.notices.iter().all(|n| n.status == "cancelled"),
        "{v:?}"
    );
    Ok(())
}
