//! The Gate step, between waves: hands the Deploy Map one part of a wave at a time; after each
//! part, records any target the Map lost (a child execution aborted or failed outside the
//! worker's Catch) as Failed, counts the wave's failures against its budget and the rollout's;
//! after a wave, reads the alarms and bakes, reading them every minute; sets each part's
//! concurrency from the caller's throttles the previous part's workers marked. The decisions are
//! core's (`waves::Budget`, `waves::alarm_verdict`, `window::parts`), the same rules the local
//! runner follows.

use futures::stream::{self, StreamExt, TryStreamExt};
use stackfleet_core::ports::{all_pages, Alarms, RunStore};
use stackfleet_core::waves::{alarm_verdict, next_bake_look, Halt};
use stackfleet_core::window::parts::{self, Heard};
use stackfleet_core::wire::gate::{Cursor, GateAction, GateRequest, GateResponse, PART_SIZE};
use stackfleet_core::wire::lister::RunRecord;
use stackfleet_core::{ErrorName, Outcome, RootCause, RunId, Target};

use crate::error::LambdaError;
use crate::records::{self, get_json, put_json, put_outcome, RunKeys};

struct Gate<'a, S, A> {
    store: &'a S,
    alarms: &'a A,
    run: RunId,
    keys: RunKeys,
    record: RunRecord,
    now_ms: u64,
    /// A plan-first run before its approval: the waves plan every target, with no bake, no
    /// alarm and no budget (planning changes nothing), and end in the Plan step.
    planning: bool,
}

/// One Gate step. The state machine retries it (throttled, timed out, crashed) with the same
/// request, so it is safe to repeat: the cursor is its input and never stored, a lost target is
/// recorded only when it has no outcome, and the halt is written whole. A repeat reads the
/// alarms afresh, and a bake it begins ends its bake time after the repeat.
pub async fn gate<S: RunStore, A: Alarms>(
    store: &S,
    alarms: &A,
    request: GateRequest,
    now_ms: u64,
) -> Result<GateResponse, LambdaError> {
    let record = records::record(store, &request.run).await?;
    let keys = RunKeys::new(&request.run);
    let planning =
        record.approval_timeout_seconds.is_some() && !records::plan_written(store, &request.run).await?;
    let gate = Gate {
        store,
        alarms,
        keys,
        run: request.run,
        record,
        now_ms,
        planning,
    };
    let response = match request.cursor {
        None => gate.next_wave(0, gate.record.concurrency).await?,
        Some(cursor) if cursor.bake_until_ms.is_some() => gate.baking(&cursor).await?,
        Some(cursor) => gate.after_part(&cursor, request.map_error.as_ref()).await?,
    };
    tracing::info!(run = %response.run, action = %response.action, wave = %response.wave_name, items = response.items.len(), concurrency = response.concurrency, wait = response.wait_seconds, "gate");
    Ok(response)
}

impl<S: RunStore, A: Alarms> Gate<'_, S, A> {
    fn respond(
        &self,
        action: GateAction,
        cursor: Option<Cursor>,
        items: Vec<Target>,
        wait_seconds: u64,
    ) -> GateResponse {
        let wave = cursor.as_ref().map_or(0, |c| c.wave);
        let concurrency = cursor.as_ref().map_or(self.record.concurrency, |c| c.limit);
        GateResponse {
            run: self.run.clone(),
            action,
            wave_name: self.record.wave_name(wave),
            wave,
            cursor,
            items,
            wait_seconds,
            concurrency,
            new_account: self.record.new_account,
            map_error: None,
        }
    }

    /// The first wave from `from` on that has targets, its first part at `limit`; or done.
    async fn next_wave(&self, from: usize, limit: u32) -> Result<GateResponse, LambdaError> {
        match (from..self.record.waves.len()).find(|&i| self.record.waves[i].size > 0) {
            Some(wave) => Ok(self.deploy(wave, 0, limit, &records::wave(self.store, &self.run, wave).await?)),
            None => Ok(self.finished()),
        }
    }

    /// Every wave ran: Reduce; or, planning, the Plan step.
    fn finished(&self) -> GateResponse {
        let action = if self.planning {
            GateAction::Plan
        } else {
            GateAction::Done
        };
        self.respond(action, None, Vec::new(), 0)
    }

    /// The part of `targets` (wave `wave`'s) from position `from`, run at `limit`: a few rounds
    /// of it when lowered, else as many as a payload holds.
    fn deploy(&self, wave: usize, from: usize, limit: u32, targets: &[Target]) -> GateResponse {
        let size = parts::part_size(limit as usize, self.record.concurrency as usize, PART_SIZE);
        let items: Vec<Target> = targets.iter().skip(from).take(size).cloned().collect();
        let cursor = Cursor {
            wave,
            from,
            count: items.len(),
            limit,
            handed_at_ms: self.now_ms,
            bake_until_ms: None,
        };
        self.respond(GateAction::Deploy, Some(cursor), items, 0)
    }

    /// The next part's limit, from what the part under `cursor` heard from the caller's APIs.
    /// A worker marks only an invocation that was throttled, with its calls. Each target of the
    /// part made one AssumeRole and one call to the bucket at least: an unmarked target is
    /// counted so, and the share of calls throttled is if anything overstated (the limit lowered
    /// sooner).
    async fn next_limit(&self, cursor: &Cursor) -> Result<u32, LambdaError> {
        let prefix = self.keys.throttled_in_wave(cursor.wave);
        let prefix = prefix.as_str();
        let store = self.store;
        let markers = all_pages(|page| async move { store.list(prefix, page.as_deref()).await }).await?;
        let mut heard = Heard::default();
        let mut marked = std::collections::BTreeSet::new();
        let part = cursor.from..cursor.from + cursor.count;
        for (_, target, tally) in markers
            .iter()
            .filter_map(|key| self.keys.throttled_tally(cursor.wave, key))
            .filter(|(at_ms, _, _)| *at_ms >= cursor.handed_at_ms)
        {
            heard.add(tally);
            marked.insert(target);
        }
        let unmarked = part.len().saturating_sub(marked.len()) as u64;
        heard.sts.calls += unmarked;
        heard.bucket.calls += unmarked;
        let ceiling = self.record.concurrency as usize;
        let elapsed_ms = self.now_ms.saturating_sub(cursor.handed_at_ms);
        let next = parts::next_limit(cursor.limit as usize, ceiling, heard, elapsed_ms) as u32;
        if next < cursor.limit {
            tracing::warn!(run = %self.run, sts = ?heard.sts, bucket = ?heard.bucket, limit = next, was = cursor.limit, "throttled by the caller's APIs: fewer targets in flight in the next part");
        } else if next > cursor.limit {
            tracing::info!(run = %self.run, limit = next, was = cursor.limit, "more targets in flight in the next part");
        }
        Ok(next)
    }

    async fn halt(&self, wave: usize, limit: u32, reason: String) -> Result<GateResponse, LambdaError> {
        let halt = Halt {
            wave: self.record.wave_name(wave),
            wave_index: wave,
            reason,
        };
        tracing::warn!(run = %self.run, %halt, "halt");
        put_json(self.store, &self.keys.halt(), &halt).await?;
        let cursor = Cursor {
            wave,
            from: 0,
            count: 0,
            limit,
            handed_at_ms: self.now_ms,
            bake_until_ms: None,
        };
        Ok(self.respond(GateAction::Halt, Some(cursor), Vec::new(), 0))
    }

    /// Why the alarms halt the rollout, if they do.
    async fn alarm_halt(&self) -> Result<Option<String>, LambdaError> {
        let names = &self.record.alarms;
        if names.is_empty() {
            return Ok(None);
        }
        let states = self.alarms.states(names).await?;
        Ok(alarm_verdict(names, &states))
    }

    async fn after_part(
        &self,
        cursor: &Cursor,
        map_error: Option<&stackfleet_core::wire::worker::CaughtError>,
    ) -> Result<GateResponse, LambdaError> {
        let wave = cursor.wave;
        let targets = records::wave(self.store, &self.run, wave).await?;
        let part = targets.iter().skip(cursor.from).take(cursor.count);
        if self.planning {
            self.record_unplanned(part, map_error).await?;
        } else {
            self.record_lost(wave, part, map_error).await?;
        }
        let limit = self.next_limit(cursor).await?;
        let stopped: Option<Halt> = get_json(self.store, &self.keys.stop()).await?;
        if let Some(stop) = stopped {
            return self.halt(wave, limit, stop.reason).await;
        }
        if let Some(why) = records::budget_passed(self.store, &self.record, wave).await? {
            return self.halt(wave, limit, why).await;
        }
        let next = cursor.from + cursor.count;
        if next < targets.len() {
            return Ok(self.deploy(wave, next, limit, &targets));
        }
        let later = (wave + 1..self.record.waves.len()).any(|i| self.record.waves[i].size > 0);
        if !later {
            return Ok(self.finished());
        }
        if self.planning {
            return self.next_wave(wave + 1, limit).await;
        }
        if let Some(why) = self.alarm_halt().await? {
            return self.halt(wave, limit, why).await;
        }
        let bake = self.record.waves[wave].bake_seconds;
        if bake == 0 {
            return self.next_wave(wave + 1, limit).await;
        }
        let cursor = Cursor {
            limit,
            bake_until_ms: Some(self.now_ms + bake * 1000),
            ..cursor.clone()
        };
        Ok(self.respond(GateAction::Bake, Some(cursor), Vec::new(), next_bake_look(bake)))
    }

    async fn baking(&self, cursor: &Cursor) -> Result<GateResponse, LambdaError> {
        let (wave, limit, until_ms) = (
            cursor.wave,
            cursor.limit,
            cursor.bake_until_ms.unwrap_or_default(),
        );
        if let Some(why) = self.alarm_halt().await? {
            let name = self
                .record
                .waves
                .get(wave)
                .map(|w| w.name.as_str())
                .unwrap_or_default();
            return self
                .halt(wave, limit, format!("{why} (during the bake of wave {name:?})"))
                .await;
        }
        if self.now_ms >= until_ms {
            return self.next_wave(wave + 1, limit).await;
        }
        let left = (until_ms - self.now_ms).div_ceil(1000);
        Ok(self.respond(
            GateAction::Bake,
            Some(cursor.clone()),
            Vec::new(),
            next_bake_look(left),
        ))
    }

    /// Planning: targets of the part without a plan (their child execution failed outside the
    /// worker's Catch, or was aborted) get one that says so: the plan accounts for every target.
    async fn record_unplanned<'t>(
        &self,
        part: impl Iterator<Item = &'t Target>,
        map_error: Option<&stackfleet_core::wire::worker::CaughtError>,
    ) -> Result<(), LambdaError> {
        let prefix = self.keys.planned();
        let prefix = prefix.as_str();
        let store = self.store;
        let planned: std::collections::BTreeSet<String> =
            all_pages(|page| async move { store.list(prefix, page.as_deref()).await })
                .await?
                .into_iter()
                .collect();
        let reason = match map_error {
            Some(error) => format!(
                "no plan was recorded: the Map failed ({}: {})",
                error.error, error.cause
            ),
            None => {
                "no plan was recorded: its child execution failed outside the worker's Catch or was aborted"
                    .to_owned()
            }
        };
        let lost: Vec<&Target> = part
            .filter(|t| !planned.contains(&self.keys.planned_target(t)))
            .collect();
        stream::iter(lost)
            .map(|target| {
                let plan = records::unplannable(target, reason.clone());
                async move { put_json(self.store, &self.keys.planned_target(target), &plan).await }
            })
            .buffer_unordered(32)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// Targets of the part without an outcome: their child execution failed outside the
    /// worker's Catch, was aborted, or the Map run itself failed. Each is recorded Failed, with
    /// the Map's error when there is one, so it counts against the budget and is re-run.
    async fn record_lost<'t>(
        &self,
        wave: usize,
        part: impl Iterator<Item = &'t Target>,
        map_error: Option<&stackfleet_core::wire::worker::CaughtError>,
    ) -> Result<(), LambdaError> {
        let prefix = self.keys.outcomes();
        let prefix = prefix.as_str();
        let store = self.store;
        let recorded: std::collections::BTreeSet<String> =
            all_pages(|page| async move { store.list(prefix, page.as_deref()).await })
                .await?
                .into_iter()
                .collect();
        let why = match map_error {
            Some(error) => format!(
                "no outcome was recorded for this target: the Deploy Map failed ({}: {})",
                error.error, error.cause
            ),
            None => "no outcome was recorded for this target: its child execution failed outside the \
                     worker's Catch or was aborted (see the Map Run's failed executions)"
                .to_owned(),
        };
        let lost: Vec<&Target> = part
            .filter(|t| !recorded.contains(&self.keys.outcome(t)))
            .collect();
        // Up to a whole part when the Map run itself failed: written 32 at a time.
        stream::iter(lost)
            .map(|target| {
                tracing::warn!(run = %self.run, target = %target, "lost");
                let lost = Outcome::failed(
                    target.clone(),
                    ErrorName::Internal,
                    RootCause::message(why.clone()),
                    0,
                    0,
                );
                async move { put_outcome(self.store, &self.run, wave, &lost).await }
            })
            .buffer_unordered(32)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }
}
