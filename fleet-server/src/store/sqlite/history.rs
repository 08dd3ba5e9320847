//! Heartbeats and what is kept of them: availability minutes, hourly health.

use super::*;

impl History for SqliteStore {
    fn record_heartbeats(
        &self,
        batch: &[(String, Heartbeat, UnixMillis)],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let mut cache = self.uptime.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 100_000 {
            cache.clear();
        }
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let (newest, hourly) = super::super::rows::fold(batch);
        let flush = pending.since.elapsed() >= WRITE_BEHIND;
        // The commit only writes the WAL; `sync` flushes it (see `Store::record_heartbeats`).
        // Every other transaction stays FULL, and its own flush covers these frames too.
        conn.execute_batch("PRAGMA synchronous = NORMAL")
            .map_err(db)?;
        let result = conn.transaction().map_err(db).and_then(|tx| {
            for (kiosk_id, hb, now) in batch {
                write_heartbeat(&tx, &mut cache, kiosk_id, hb, *now)?;
            }
            if flush {
                let mut all = Pending {
                    newest: pending.newest.clone(),
                    hourly: pending.hourly.clone(),
                    since: pending.since,
                };
                all.add(&newest, &hourly);
                write_pending(&tx, &all)?;
            }
            tx.commit().map_err(db)
        });
        let restored = conn.execute_batch("PRAGMA synchronous = FULL").map_err(db);
        match &result {
            // Nothing was written: the uptime cache may say otherwise, and the batch's
            // heartbeats will come again.
            Err(_) => cache.clear(),
            Ok(()) if flush => *pending = Pending::new(),
            Ok(()) => pending.add(&newest, &hourly),
        }
        result.and(restored)
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
        self.flush_pending()?;
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let days = tx
            .execute("DELETE FROM uptime WHERE day < ?1", [uptime_before_day])
            .map_err(db)?;
        tx.execute(
            "DELETE FROM uptime_late WHERE day < ?1",
            [uptime_before_day],
        )
        .map_err(db)?;
        // Hours older than 90 days become days; days are kept 400 days.
        let hours_before = now / 3_600_000 - 90 * 24;
        tx.execute(
            &format!(
                "INSERT INTO health_daily (kiosk_id, day, samples, temperature_max, disk_used_max,
                                           outbox_max)
                 SELECT kiosk_id, hour / 24, SUM(samples), MAX(temperature_max),
                        MAX(disk_used_max), MAX(outbox_max)
                 FROM health_hourly WHERE hour < ?1 GROUP BY kiosk_id, hour / 24
                 ON CONFLICT (kiosk_id, day) DO UPDATE SET {MERGE_HEALTH}"
            ),
            [hours_before],
        )
        .map_err(db)?;
        let hours = tx
            .execute("DELETE FROM health_hourly WHERE hour < ?1", [hours_before])
            .map_err(db)?;
        tx.execute(
            "DELETE FROM health_daily WHERE day < ?1",
            [now / 86_400_000 - 400],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok((hours as u64, days as u64))
    }

    fn health_history(
        &self,
        kiosk_id: &str,
        since: UnixMillis,
    ) -> Result<Vec<HealthPoint>, StoreError> {
        // The current hour too.
        self.flush_pending()?;
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT day * 86400000, samples, temperature_max, disk_used_max, outbox_max
                 FROM health_daily WHERE kiosk_id = ?1 AND day >= ?2 / 86400000
                 UNION ALL
                 SELECT hour * 3600000, samples, temperature_max, disk_used_max, outbox_max
                 FROM health_hourly WHERE kiosk_id = ?1 AND hour >= ?2 / 3600000
                 ORDER BY 1",
            )
            .map_err(db)?;
        stmt.query_map(params![kiosk_id, since], |r| {
            Ok(HealthPoint {
                hour: r.get(0)?,
                samples: r.get::<_, i64>(1)? as u64,
                temperature_max: r.get(2)?,
                disk_used_max: r.get(3)?,
                outbox_max: r.get::<_, Option<i64>>(4)?.unwrap_or(0) as u64,
            })
        })
        .map_err(db)?
        .collect::<Result<_, _>>()
        .map_err(db)
    }
}
