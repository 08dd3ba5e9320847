//! The outbox queue is read from a bookmark by sequence: every queued submission is found across
//! acks and restarts, a code finds its row without an index, and a row that cannot be read back
//! is set aside (data intact) instead of blocking every submission behind it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

mod common;

use kiosk_agent::store::{NewSubmission, Store};
use protocol::fleet::{ItemAck, ItemOutcome};

fn store_one(store: &mut Store, i: usize) -> protocol::app::SubmitRequest {
    let req = common::sample_submission(i);
    store
        .store_submission(&NewSubmission {
            id: req.submission_id,
            service_id: &req.service_id,
            form_version: req.form_version,
            language: req.language,
            values: &req.values,
            identity: None,
            notify: None,
        })
        .unwrap();
    req
}

fn ack(ids: &[uuid::Uuid]) -> Vec<ItemAck> {
    ids.iter()
        .map(|&id| ItemAck {
            id,
            outcome: ItemOutcome::Accepted { received_at: 1 },
        })
        .collect()
}

#[test]
fn every_queued_row_is_found_and_a_bad_one_is_set_aside() {
    let dir = common::TestDir::new("queue");
    let db = dir.0.join("agent.sqlite");
    let mut store = common::ready_store(&db);
    let reqs: Vec<_> = (0..5).map(|i| store_one(&mut store, i)).collect();

    // Corrupt the third row's payload from outside, as a bad disk or a bug might.
    let raw = rusqlite::Connection::open(&db).unwrap();
    raw.execute("UPDATE outbox SET payload = '{not json' WHERE seq = 2", [])
        .unwrap();

    let batch = store.queued_batch(10).unwrap();
    let ids: Vec<_> = batch.iter().map(|b| b.id).collect();
    assert_eq!(
        ids,
        vec![
            reqs[0].submission_id,
            reqs[1].submission_id,
            reqs[3].submission_id,
            reqs[4].submission_id
        ]
    );
    let (state, reason): (String, String) = raw
        .query_row(
            "SELECT state, last_error FROM outbox WHERE seq = 2",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(state, "rejected");
    assert!(reason.contains("unreadable"), "{reason}");
    let kept: String = raw
        .query_row("SELECT payload FROM outbox WHERE seq = 2", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, "{not json", "the data is kept for a technician");

    // Ack the first two; the rest, and anything new, is still found.
    assert_eq!(store.apply_acks(&ack(&ids[..2])).unwrap(), 2);
    let later = store_one(&mut store, 5);
    let batch: Vec<_> = store
        .queued_batch(10)
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(
        batch,
        vec![
            reqs[3].submission_id,
            reqs[4].submission_id,
            later.submission_id
        ]
    );

    // After a restart (no bookmark yet) the same rows are found.
    drop(store);
    let mut store = Store::open(&db).unwrap();
    let batch: Vec<_> = store
        .queued_batch(2)
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(batch, vec![reqs[3].submission_id, reqs[4].submission_id]);
    assert_eq!(store.apply_acks(&ack(&batch)).unwrap(), 2);
    let batch: Vec<_> = store
        .queued_batch(10)
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(batch, vec![later.submission_id]);
    assert_eq!(store.apply_acks(&ack(&batch)).unwrap(), 1);
    assert!(store.queued_batch(10).unwrap().is_empty());
}

#[test]
fn a_code_finds_its_row_through_the_inverse_permutation() {
    let dir = common::TestDir::new("code");
    let mut store = common::ready_store(&dir.0.join("agent.sqlite"));
    let codes: Vec<_> = (0..50)
        .map(|i| {
            let req = common::sample_submission(i);
            store
                .store_submission(&NewSubmission {
                    id: req.submission_id,
                    service_id: &req.service_id,
                    form_version: 1,
                    language: req.language,
                    values: &req.values,
                    identity: None,
                    notify: None,
                })
                .unwrap()
                .tracking_code
        })
        .collect();
    for code in &codes {
        let entry = store.outbox_entry(code).unwrap().expect("found");
        assert_eq!(
            (entry.service_id.as_str(), entry.state.as_str()),
            ("podnet", "queued")
        );
        assert_eq!(entry.language, protocol::Lang::Cs);
    }
    // A well-formed code of this kiosk's own key that it never issued (sequence 1,000) finds
    // nothing. `ready_store` uses code key 42 and kiosk number 7.
    let body = kiosk_agent::tracking::permute(1000, 42).unwrap();
    let unissued = protocol::tracking::TrackingCode::from_parts(7, body).unwrap();
    assert!(store.outbox_entry(&unissued).unwrap().is_none());
    let foreign = protocol::tracking::TrackingCode::from_parts(8, codes[0].body()).unwrap();
    assert!(
        store.outbox_entry(&foreign).unwrap().is_none(),
        "another kiosk's code"
    );
}
