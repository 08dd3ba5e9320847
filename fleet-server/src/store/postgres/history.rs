//! Heartbeats and what is kept of them: availability minutes, hourly health.

use super::*;

/// ORs minute bit `$4` of byte `$3` into the day's bitmap `$2` of kiosk `$1` (`$5`: a whole
/// day's bitmap with only that bit, for a day not stored yet). `{table}`: `uptime` or
/// `uptime_late`. A stored bitmap shorter than a day is padded first.
fn mark_sql(table: &str) -> String {
    let padded = "(t.minutes || substring(excluded.minutes from length(t.minutes) + 1))";
    format!(
        "INSERT INTO {table} AS t (kiosk_id, day, minutes) VALUES ($1, $2, $5)
         ON CONFLICT (kiosk_id, day) DO UPDATE
         SET minutes = set_byte({padded}, $3, get_byte({padded}, $3) | $4)"
    )
}

/// A minute a kiosk was seen in, to be marked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Mark {
    kiosk_id: String,
    day: String,
    minute: usize,
    /// Known only from a heartbeat that arrived late (buffered by the kiosk).
    late: bool,
}

impl Mark {
    fn byte_bit(&self) -> (i32, i32) {
        ((self.minute / 8) as i32, 1i32 << (self.minute % 8))
    }

    /// A whole day's bitmap with only this minute.
    fn day_bits(&self) -> Vec<u8> {
        let mut bits = Vec::new();
        crate::uptime::mark(&mut bits, self.minute);
        bits
    }
}

impl PgStore {
    /// The minutes of `batch` this instance has not marked yet (each once).
    fn new_minutes(&self, batch: &[(String, Heartbeat, UnixMillis)]) -> Vec<Mark> {
        let marked = self.marked.lock().unwrap_or_else(|p| p.into_inner());
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for (kiosk_id, hb, now) in batch {
            let (day, minute) = crate::uptime::day_minute(hb.sampled_at.min(*now));
            if marked.get(kiosk_id) == Some(&(day.clone(), minute as u32)) {
                continue;
            }
            let m = Mark {
                kiosk_id: kiosk_id.clone(),
                day,
                minute,
                late: now - hb.sampled_at > protocol::fleet::LATE_SAMPLE_MS,
            };
            if seen.insert((m.kiosk_id.clone(), m.day.clone(), m.minute)) {
                out.push(m);
            }
        }
        out
    }

    /// Notes minutes as marked (after their commit).
    fn remember(&self, marks: &[Mark]) {
        let mut marked = self.marked.lock().unwrap_or_else(|p| p.into_inner());
        if marked.len() > 100_000 {
            marked.clear();
        }
        for m in marks {
            marked.insert(m.kiosk_id.clone(), (m.day.clone(), m.minute as u32));
        }
    }

    /// The minute bitmaps of `table` by (kiosk, day), for days `from_day..=to_day`.
    fn bitmaps(
        &self,
        table: &str,
        from_day: &str,
        to_day: &str,
    ) -> Result<HashMap<(String, String), Vec<u8>>, StoreError> {
        let rows = self.conn()?.query(
            &format!("SELECT kiosk_id, day, minutes FROM {table} WHERE day >= $1 AND day <= $2"),
            &[&from_day, &to_day],
        )?;
        rows.iter()
            .map(|r| Ok(((get(r, 0)?, get(r, 1)?), get(r, 2)?)))
            .collect()
    }
}

/// ORs `marks` into the kiosks' day bitmaps of `uptime`: the first mark of each (kiosk, day)
/// in two statements for the whole batch (a new day's row inserted with its bit, an existing
/// one's bit set in place), any further one of the same day by itself. Late marks (rare) go
/// one by one, after checking that nobody marked the minute.
fn mark_minutes(c: &mut Conn, marks: &[Mark]) -> Result<(), StoreError> {
    let mut first: HashMap<(&str, &str), &Mark> = HashMap::new();
    let mut rest = Vec::new();
    for m in marks {
        if m.late {
            mark_late(c, m)?;
        }
        match first.entry((&m.kiosk_id, &m.day)) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(m);
            }
            std::collections::hash_map::Entry::Occupied(_) => rest.push(m),
        }
    }
    if !first.is_empty() {
        let (mut ks, mut ds, mut bytes, mut bits, mut days) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // In key order, as every instance takes the rows' locks (no deadlock between two).
        let mut first: Vec<&Mark> = first.into_values().collect();
        first.sort_by(|a, b| (&a.kiosk_id, &a.day).cmp(&(&b.kiosk_id, &b.day)));
        for m in first {
            let (byte, bit) = m.byte_bit();
            ks.push(m.kiosk_id.as_str());
            ds.push(m.day.as_str());
            bytes.push(byte);
            bits.push(bit);
            days.push(m.day_bits());
        }
        // A row another instance inserts meanwhile makes the insert wait for it, then skip:
        // the update below finds it committed.
        c.execute(
            "INSERT INTO uptime (kiosk_id, day, minutes)
             SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])
             ON CONFLICT (kiosk_id, day) DO NOTHING",
            &[&ks, &ds, &days],
        )?;
        c.execute(
            "UPDATE uptime t
             SET minutes = set_byte(t.minutes || substring(u.m from length(t.minutes) + 1), u.b,
                                    get_byte(t.minutes || substring(u.m from length(t.minutes) + 1),
                                             u.b) | u.bit)
             FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::bytea[])
                  AS u(k, d, b, bit, m)
             WHERE t.kiosk_id = u.k AND t.day = u.d
               AND CASE WHEN length(t.minutes) <= u.b THEN TRUE
                        ELSE get_byte(t.minutes, u.b) & u.bit = 0 END",
            &[&ks, &ds, &bytes, &bits, &days],
        )?;
    }
    for m in rest {
        let (byte, bit) = m.byte_bit();
        c.execute(
            &mark_sql("uptime"),
            &[&m.kiosk_id, &m.day, &byte, &bit, &m.day_bits()],
        )?;
    }
    Ok(())
}

/// Marks a minute known only from a late heartbeat, when nobody marked it before.
fn mark_late(c: &mut Conn, m: &Mark) -> Result<(), StoreError> {
    let stored = c.query_opt(
        "SELECT minutes FROM uptime WHERE kiosk_id = $1 AND day = $2 FOR UPDATE",
        &[&m.kiosk_id, &m.day],
    )?;
    let stored: Vec<u8> = stored.map(|r| get(&r, 0)).transpose()?.unwrap_or_default();
    if !crate::uptime::is_set(&stored, m.minute) {
        let (byte, bit) = m.byte_bit();
        c.execute(
            &mark_sql("uptime_late"),
            &[&m.kiosk_id, &m.day, &byte, &bit, &m.day_bits()],
        )?;
    }
    Ok(())
}

/// Writes each kiosk's newest heartbeat into its row, all in one statement. A buffered heartbeat
/// replayed late is history: it does not replace a newer one.
fn write_newest(
    c: &mut Conn,
    newest: &HashMap<String, super::super::rows::Newest>,
) -> Result<(), StoreError> {
    if newest.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(newest.len());
    let (mut seen, mut versions, mut outbox, mut bodies, mut skews) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut newest: Vec<_> = newest.iter().collect();
    newest.sort_by_key(|(k, _)| k.as_str());
    for (kiosk_id, n) in newest {
        ids.push(kiosk_id.as_str());
        seen.push(n.seen);
        versions.push(n.hb.agent_version.as_str());
        outbox.push(n.hb.outbox_len as i64);
        bodies.push(json("heartbeat", &n.hb)?);
        skews.push(n.clock_skew_ms);
    }
    c.execute(
        "UPDATE kiosks k SET
             last_heartbeat = CASE WHEN n.seen >= COALESCE(k.last_seen, 0) THEN n.body
                                   ELSE k.last_heartbeat END,
             agent_version = CASE WHEN n.seen >= COALESCE(k.last_seen, 0) THEN n.version
                                  ELSE k.agent_version END,
             outbox_len = CASE WHEN n.seen >= COALESCE(k.last_seen, 0) THEN n.outbox
                               ELSE k.outbox_len END,
             clock_skew_ms = COALESCE(n.skew, k.clock_skew_ms),
             last_seen = GREATEST(COALESCE(k.last_seen, 0), n.seen)
         FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[],
                     $6::bigint[]) AS n(kiosk_id, seen, version, outbox, body, skew)
         WHERE k.kiosk_id = n.kiosk_id",
        &[&ids, &seen, &versions, &outbox, &bodies, &skews],
    )?;
    Ok(())
}

impl History for PgStore {
    fn record_heartbeats(
        &self,
        batch: &[(String, Heartbeat, UnixMillis)],
    ) -> Result<(), StoreError> {
        let (newest, hourly) = fold(batch);
        let mut pending = self.hourly.lock().unwrap_or_else(|p| p.into_inner());
        let flush = pending.1.elapsed() >= WRITE_BEHIND;
        let marks = self.new_minutes(batch);
        // Durable at the next `sync` (a commit that waits for the log), as for SQLite.
        let result = self
            .conn()?
            .tx_as("BEGIN; SET LOCAL synchronous_commit = off", |c| {
                mark_minutes(c, &marks)?;
                write_newest(c, &newest)?;
                if flush {
                    let mut all = pending.0.clone();
                    for (k, h) in &hourly {
                        all.entry(k.clone()).or_default().add(h);
                    }
                    write_hourly(c, &all)?;
                }
                Ok(())
            });
        match &result {
            // Nothing was written; the batch's heartbeats will come again.
            Err(_) => {}
            Ok(()) if flush => {
                self.remember(&marks);
                *pending = (HashMap::new(), std::time::Instant::now());
            }
            Ok(()) => {
                self.remember(&marks);
                for (k, h) in &hourly {
                    pending.0.entry(k.clone()).or_default().add(h);
                }
            }
        }
        result
    }

    fn uptime(
        &self,
        from_day: &str,
        to_day: &str,
    ) -> Result<HashMap<(String, String), Vec<u8>>, StoreError> {
        self.bitmaps("uptime", from_day, to_day)
    }

    fn late_uptime(
        &self,
        from_day: &str,
        to_day: &str,
    ) -> Result<HashMap<(String, String), Vec<u8>>, StoreError> {
        self.bitmaps("uptime_late", from_day, to_day)
    }

    fn prune_history(
        &self,
        now: UnixMillis,
        uptime_before_day: &str,
    ) -> Result<(u64, u64), StoreError> {
        self.flush_hourly()?;
        self.tx(|c| {
            let days = c.execute("DELETE FROM uptime WHERE day < $1", &[&uptime_before_day])?;
            c.execute(
                "DELETE FROM uptime_late WHERE day < $1",
                &[&uptime_before_day],
            )?;
            // Hours older than 90 days become days; days are kept 400 days.
            let hours_before = now / 3_600_000 - 90 * 24;
            c.execute(
                &format!(
                    "INSERT INTO health_daily AS t (kiosk_id, day, samples, temperature_max,
                                                    disk_used_max, outbox_max)
                     SELECT kiosk_id, hour / 24, SUM(samples)::bigint, MAX(temperature_max),
                            MAX(disk_used_max), MAX(outbox_max)
                     FROM health_hourly WHERE hour < $1 GROUP BY kiosk_id, hour / 24
                     ON CONFLICT (kiosk_id, day) DO UPDATE SET {MERGE_HEALTH}"
                ),
                &[&hours_before],
            )?;
            let hours = c.execute(
                "DELETE FROM health_hourly WHERE hour < $1",
                &[&hours_before],
            )?;
            c.execute(
                "DELETE FROM health_daily WHERE day < $1",
                &[&(now / 86_400_000 - 400)],
            )?;
            Ok((hours, days))
        })
    }

    fn health_history(
        &self,
        kiosk_id: &str,
        since: UnixMillis,
    ) -> Result<Vec<HealthPoint>, StoreError> {
        // The current hour too (this instance's part of it).
        self.flush_hourly()?;
        let rows = self.conn()?.query(
            "SELECT day * 86400000, samples, temperature_max, disk_used_max, outbox_max
             FROM health_daily WHERE kiosk_id = $1 AND day >= $2::bigint / 86400000
             UNION ALL
             SELECT hour * 3600000, samples, temperature_max, disk_used_max, outbox_max
             FROM health_hourly WHERE kiosk_id = $1 AND hour >= $2::bigint / 3600000
             ORDER BY 1",
            &[&kiosk_id, &since],
        )?;
        each(&rows, |r| {
            Ok(HealthPoint {
                hour: get(r, 0)?,
                samples: get::<i64>(r, 1)?.max(0) as u64,
                temperature_max: get(r, 2)?,
                disk_used_max: get(r, 3)?,
                outbox_max: get::<Option<i64>>(r, 4)?.unwrap_or(0).max(0) as u64,
            })
        })
    }
}
