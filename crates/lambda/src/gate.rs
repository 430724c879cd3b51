//! The Gate step, between waves: hands the Deploy Map one part of a wave at a time; after each
//! part, records any target the Map lost (a child execution aborted or failed outside the
//! worker's Catch) as Failed, counts the wave's failures against its budget and the rollout's;
//! after a wave, reads the alarms and bakes, reading them every minute. The decisions are core's
//! (`waves::Budget`, `waves::alarm_verdict`), the same the local runner makes.

use futures::stream::{self, StreamExt, TryStreamExt};
use stackfleet_core::ports::{all_pages, Alarms, RunStore};
use stackfleet_core::waves::{alarm_verdict, next_bake_look, Halt};
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
    let gate = Gate {
        store,
        alarms,
        keys: RunKeys::new(&request.run),
        run: request.run,
        record,
        now_ms,
    };
    let response = match request.cursor {
        None => gate.next_wave(0).await?,
        Some(Cursor {
            wave,
            part,
            bake_until_ms: None,
        }) => gate.after_part(wave, part, request.map_error.as_ref()).await?,
        Some(Cursor {
            wave,
            bake_until_ms: Some(until),
            ..
        }) => gate.baking(wave, until).await?,
    };
    tracing::info!(run = %response.run, action = %response.action, wave = %response.wave_name, items = response.items.len(), wait = response.wait_seconds, "gate");
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
        GateResponse {
            run: self.run.clone(),
            action,
            wave_name: self.record.wave_name(wave),
            wave,
            cursor,
            items,
            wait_seconds,
            concurrency: self.record.concurrency,
            new_account: self.record.new_account,
            map_error: None,
        }
    }

    /// The first wave from `from` on that has targets, its first part; or done.
    async fn next_wave(&self, from: usize) -> Result<GateResponse, LambdaError> {
        match (from..self.record.waves.len()).find(|&i| self.record.waves[i].size > 0) {
            Some(wave) => Ok(self.deploy(wave, 0, &records::wave(self.store, &self.run, wave).await?)),
            None => Ok(self.respond(GateAction::Done, None, Vec::new(), 0)),
        }
    }

    /// Part `part` of `targets`, wave `wave`'s.
    fn deploy(&self, wave: usize, part: usize, targets: &[Target]) -> GateResponse {
        let items = targets
            .iter()
            .skip(part * PART_SIZE)
            .take(PART_SIZE)
            .cloned()
            .collect();
        let cursor = Cursor {
            wave,
            part,
            bake_until_ms: None,
        };
        self.respond(GateAction::Deploy, Some(cursor), items, 0)
    }

    async fn halt(&self, wave: usize, reason: String) -> Result<GateResponse, LambdaError> {
        let halt = Halt {
            wave: self.record.wave_name(wave),
            wave_index: wave,
            reason,
        };
        tracing::warn!(run = %self.run, %halt, "halt");
        put_json(self.store, &self.keys.halt(), &halt).await?;
        let cursor = Cursor {
            wave,
            part: 0,
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
        wave: usize,
        part: usize,
        map_error: Option<&stackfleet_core::wire::worker::CaughtError>,
    ) -> Result<GateResponse, LambdaError> {
        let targets = records::wave(self.store, &self.run, wave).await?;
        self.record_lost(
            wave,
            targets.iter().skip(part * PART_SIZE).take(PART_SIZE),
            map_error,
        )
        .await?;
        let stopped: Option<Halt> = get_json(self.store, &self.keys.stop()).await?;
        if let Some(stop) = stopped {
            return self.halt(wave, stop.reason).await;
        }
        if let Some(why) = records::budget_passed(self.store, &self.record, wave).await? {
            return self.halt(wave, why).await;
        }
        if (part + 1) * PART_SIZE < targets.len() {
            return Ok(self.deploy(wave, part + 1, &targets));
        }
        let later = (wave + 1..self.record.waves.len()).any(|i| self.record.waves[i].size > 0);
        if !later {
            return Ok(self.respond(GateAction::Done, None, Vec::new(), 0));
        }
        if let Some(why) = self.alarm_halt().await? {
            return self.halt(wave, why).await;
        }
        let bake = self.record.waves[wave].bake_seconds;
        if bake == 0 {
            return self.next_wave(wave + 1).await;
        }
        let cursor = Cursor {
            wave,
            part,
            bake_until_ms: Some(self.now_ms + bake * 1000),
        };
        Ok(self.respond(GateAction::Bake, Some(cursor), Vec::new(), next_bake_look(bake)))
    }

    async fn baking(&self, wave: usize, until_ms: u64) -> Result<GateResponse, LambdaError> {
        if let Some(why) = self.alarm_halt().await? {
            let name = self
                .record
                .waves
                .get(wave)
                .map(|w| w.name.as_str())
                .unwrap_or_default();
            return self
                .halt(wave, format!("{why} (during the bake of wave {name:?})"))
                .await;
        }
        if self.now_ms >= until_ms {
            return self.next_wave(wave + 1).await;
        }
        let left = (until_ms - self.now_ms).div_ceil(1000);
        let cursor = Cursor {
            wave,
            part: 0,
            bake_until_ms: Some(until_ms),
        };
        Ok(self.respond(GateAction::Bake, Some(cursor), Vec::new(), next_bake_look(left)))
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
