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

impl PgStore {
    /// Marks a kiosk's minute as available in the database (and as known only late, when the
    /// heartbeat was buffered and nobody had marked the minute).
    fn mark_minute(
        &self,
        c: &mut Conn,
        kiosk_id: &str,
        hb: &Heartbeat,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        let (day, minute) = crate::uptime::day_minute(hb.sampled_at.min(now));
        {
            let marked = self.marked.lock().unwrap_or_else(|p| p.into_inner());
            if marked.get(kiosk_id) == Some(&(day.clone(), minute as u32)) {
                return Ok(());
            }
        }
        let mut bits = Vec::new();
        crate::uptime::mark(&mut bits, minute);
        let (byte, bit) = ((minute / 8) as i32, 1i32 << (minute % 8));
        if now - hb.sampled_at > protocol::fleet::LATE_SAMPLE_MS {
            let stored = c.query_opt(
                "SELECT minutes FROM uptime WHERE kiosk_id = $1 AND day = $2 FOR UPDATE",
                &[&kiosk_id, &day],
            )?;
            let stored: Vec<u8> = stored.map(|r| get(&r, 0)).transpose()?.unwrap_or_default();
            if !crate::uptime::is_set(&stored, minute) {
                c.execute(
                    &mark_sql("uptime_late"),
                    &[&kiosk_id, &day, &byte, &bit, &bits],
                )?;
            }
        }
        c.execute(&mark_sql("uptime"), &[&kiosk_id, &day, &byte, &bit, &bits])?;
        let mut marked = self.marked.lock().unwrap_or_else(|p| p.into_inner());
        if marked.len() > 100_000 {
            marked.clear();
        }
        marked.insert(kiosk_id.to_owned(), (day, minute as u32));
        Ok(())
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

impl History for PgStore {
    fn record_heartbeats(
        &self,
        batch: &[(String, Heartbeat, UnixMillis)],
    ) -> Result<(), StoreError> {
        let (newest, hourly) = fold(batch);
        let mut pending = self.hourly.lock().unwrap_or_else(|p| p.into_inner());
        let flush = pending.1.elapsed() >= WRITE_BEHIND;
        let result = self.tx(|c| {
            // Durable at the next `sync` (a commit that waits for the log), as for SQLite.
            c.batch("SET LOCAL synchronous_commit = off")?;
            for (kiosk_id, hb, now) in batch {
                self.mark_minute(c, kiosk_id, hb, *now)?;
            }
            for (kiosk_id, n) in &newest {
                c.execute(
                    // A buffered heartbeat replayed late is history: it does not replace a
                    // newer one.
                    "UPDATE kiosks SET
                         last_heartbeat = CASE WHEN $2 >= COALESCE(last_seen, 0) THEN $5
                                               ELSE last_heartbeat END,
                         agent_version = CASE WHEN $2 >= COALESCE(last_seen, 0) THEN $3
                                              ELSE agent_version END,
                         outbox_len = CASE WHEN $2 >= COALESCE(last_seen, 0) THEN $4
                                           ELSE outbox_len END,
                         clock_skew_ms = COALESCE($6, clock_skew_ms),
                         last_seen = GREATEST(COALESCE(last_seen, 0), $2)
                     WHERE kiosk_id = $1",
                    &[
                        kiosk_id,
                        &n.seen,
                        &n.hb.agent_version,
                        &(n.hb.outbox_len as i64),
                        &json("heartbeat", &n.hb)?,
                        &n.clock_skew_ms,
                    ],
                )?;
            }
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
            // What was marked may not be in the database: the batch comes again.
            Err(_) => self
                .marked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear(),
            Ok(()) if flush => *pending = (HashMap::new(), std::time::Instant::now()),
            Ok(()) => {
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
