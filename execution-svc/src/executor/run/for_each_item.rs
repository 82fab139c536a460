//! The ForEachItem task: a file of items cut into batches, one subflow
//! execution per batch, in the same tenant. As in Kestra it runs as three
//! task runs inside its own: `{id}_split` writes the batch files and lists
//! them, `{id}_items` starts the subflow executions (and, with `wait`,
//! waits for them all), `{id}_merge` gathers the subflows' outputs into one
//! file.
//!
//! The batches start in chunks, each written with the task run in one
//! transaction, so a restart goes on from the chunk after the last one
//! written instead of starting any twice. A batch refused by the tenant's
//! queue or rate quota waits for room (the parent holds no worker
//! meanwhile) instead of failing the loop.

use aerie_common::ServiceError;
use aerie_common::kestra::parse_byte_size;
use aerie_common::kestra::tasks::{ForEachItemSplit, SubflowCall};
use serde_json::{Map, Value, json};

use super::subflow::{Target, ended_as};
use super::{Done, Failure, Outcome, Run, RunError, RunKey, leaf, parse_object};
use crate::domain::plan::Task;
use crate::domain::{ExecutionId, State, execution_folder, push_history};
use crate::repo::entities::task_runs;
use crate::repo::{self, TenantTxn};
use crate::storage::StoragePath;

/// The largest items file a ForEachItem reads (and list of batches, and
/// file of gathered outputs it writes).
pub(super) const MAX_ITEMS_BYTES: usize = 32 << 20;

/// How a batches run ended: its state, outputs and, when it failed, why.
type Ended = (State, Value, Option<String>);

/// Subflow executions started per transaction.
const CHUNK: usize = 100;

/// How the items are cut, as Kestra's `batch` says: `rows` per batch (1 by
/// default), a number of `partitions` the rows are dealt into, or batches
/// of about `bytes`; each item is written followed by `separator`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Batch {
    pub size: BatchSize,
    pub separator: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum BatchSize {
    Rows(usize),
    Partitions(usize),
    Bytes(usize),
}

/// The lines of `text` as Java's `readLine` reads them: `\n`, `\r\n` or
/// `\r` end a line.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
        let line = &rest[..end];
        rest = &rest[end..];
        if let Some(after) = rest.strip_prefix("\r\n") {
            rest = after;
        } else if !rest.is_empty() {
            rest = &rest[1..];
        }
        Some(line)
    })
}

/// The batches of `text`, each line followed by the separator (empty
/// partitions dropped). Refused, before anything large is built, past
/// `max_batches` batches or `max_bytes` bytes in all: a tenant's `batch`
/// must not be able to take the process's memory.
pub(crate) fn split_items(
    text: &str,
    batch: &Batch,
    max_batches: usize,
    max_bytes: usize,
) -> Result<Vec<String>, String> {
    let separator = batch.separator.as_str();
    let count = lines(text).count();
    let total = text.len() + count.saturating_mul(separator.len());
    if total > max_bytes {
        return Err(format!(
            "the batches would hold {total} bytes, more than the {max_bytes} a ForEachItem may write"
        ));
    }
    let too_many = |n: usize| {
        aerie_common::metrics::instruments().quota_refusal("foreach-items");
        format!(
            "ForEachItem over {n} batches, more than the tenant's quota of {max_batches} (quota foreach-items)"
        )
    };
    let batches = match batch.size {
        BatchSize::Partitions(n) => {
            if n > max_batches {
                return Err(too_many(n));
            }
            let mut parts = vec![String::new(); n.clamp(1, count.max(1))];
            let dealt = parts.len();
            for (i, line) in lines(text).enumerate() {
                let part = &mut parts[i % dealt];
                part.push_str(line);
                part.push_str(separator);
            }
            parts.retain(|p| !p.is_empty());
            parts
        }
        BatchSize::Rows(n) => {
            let needed = count.div_ceil(n.max(1));
            if needed > max_batches {
                return Err(too_many(needed));
            }
            let mut batches: Vec<String> = Vec::with_capacity(needed);
            for (i, line) in lines(text).enumerate() {
                if i % n.max(1) == 0 {
                    batches.push(String::new());
                }
                let current = batches.last_mut().expect("one batch at least");
                current.push_str(line);
                current.push_str(separator);
            }
            batches
        }
        BatchSize::Bytes(n) => {
            let mut batches: Vec<String> = Vec::new();
            for line in lines(text) {
                if batches.last().is_none_or(|b| b.len() >= n) {
                    if batches.len() == max_batches {
                        return Err(too_many(max_batches + 1));
                    }
                    batches.push(String::new());
                }
                let current = batches.last_mut().expect("one batch at least");
                current.push_str(line);
                current.push_str(separator);
            }
            batches
        }
    };
    Ok(batches)
}

impl Run<'_> {
    /// `{id}_split`: the items file read from this tenant's storage, cut
    /// into batch files, listed one URI per line in `splits.txt`.
    pub(super) async fn split_batches(
        &self,
        task: &Task,
        split: &ForEachItemSplit,
        row: &task_runs::Model,
        context: &super::Scope,
    ) -> Result<Done, Failure> {
        let items = self.render(&split.items, context).await?;
        let items = items.trim();
        if !items.starts_with("kestra://") {
            return Err(format!(
                "Unable to split the items from {items}, this is not an internal storage URI!"
            )
            .into());
        }
        let source = StoragePath::from_uri(items).map_err(|e| e.to_string())?;
        // The same rule as read(): the execution's own files, or those of
        // the execution that started it.
        let mut readers = vec![self.id.as_str()];
        readers.extend(self.parent.as_ref().map(ExecutionId::as_str));
        if !source.belongs_to_any(&readers) {
            return Err(format!(
                "the items {items}: an execution reads only its own files and those of the execution that started it"
            )
            .into());
        }
        let batch = self.batch(split, context).await?;
        let content = self
            .engine
            .storage
            .get(self.tenant, &source, MAX_ITEMS_BYTES)
            .await
            .map_err(|e| format!("the items {items}: {e}"))?;
        let quota = self.quotas.foreach_items as usize;
        // CPU work in proportion to the file: off the async threads.
        let batches = tokio::task::spawn_blocking(move || {
            let text = String::from_utf8_lossy(&content);
            split_items(&text, &batch, quota, MAX_ITEMS_BYTES)
        })
        .await
        .map_err(|e| format!("split: {e}"))??;
        let extension = match source.file_name().rsplit_once('.') {
            Some((_, ext)) if !ext.is_empty() => format!(".{ext}"),
            _ => ".tmp".to_owned(),
        };
        let folder = self.task_folder(task, row);
        let mut uris = Vec::with_capacity(batches.len());
        for (i, batch) in batches.into_iter().enumerate() {
            let path = StoragePath::parse(&format!("{folder}/{}{extension}", i + 1))
                .map_err(|e| e.to_string())?;
            self.put(&path, batch).await?;
            uris.push(path.uri());
        }
        let list =
            StoragePath::parse(&format!("{folder}/splits.txt")).map_err(|e| e.to_string())?;
        self.put(&list, uris.join("\n")).await?;
        Ok(leaf(json!({"splits": list.uri()})))
    }

    /// The task's `batch`, templates rendered.
    async fn batch(
        &self,
        split: &ForEachItemSplit,
        context: &super::Scope,
    ) -> Result<Batch, Failure> {
        let mut rendered = Map::new();
        for (key, value) in &split.batch {
            let value = match value {
                Value::String(text) => Value::String(self.render(text, context).await?),
                other => other.clone(),
            };
            rendered.insert(key.clone(), value);
        }
        let whole = |key: &str| -> Result<Option<usize>, Failure> {
            match rendered.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(value) => match aerie_common::kestra::scalar_text(value)
                    .unwrap_or_default()
                    .trim()
                    .parse()
                {
                    Ok(n) if n >= 1 => Ok(Some(n)),
                    _ => Err(
                        format!("batch {key} '{value}' is not a whole number, 1 or more").into(),
                    ),
                },
            }
        };
        // Kestra's order when several are given: bytes, partitions, rows.
        let size = if let Some(bytes) = rendered.get("bytes").filter(|v| !v.is_null()) {
            let text = aerie_common::kestra::scalar_text(bytes).unwrap_or_default();
            let n = parse_byte_size(&text)
                .ok_or_else(|| format!("batch bytes '{text}' is not a size such as 10MB"))?;
            BatchSize::Bytes(usize::try_from(n).unwrap_or(usize::MAX))
        } else if let Some(n) = whole("partitions")? {
            BatchSize::Partitions(n)
        } else {
            BatchSize::Rows(whole("rows")?.unwrap_or(1))
        };
        let separator = match rendered.get("separator") {
            Some(Value::String(s)) => s.clone(),
            _ => "\n".to_owned(),
        };
        Ok(Batch { size, separator })
    }

    /// Where a task run keeps its files.
    fn task_folder(&self, task: &Task, row: &task_runs::Model) -> String {
        format!(
            "{}/tasks/{}/{}",
            execution_folder(&self.namespace, &self.flow_id, self.id),
            task.id,
            row.id
        )
    }

    async fn put(&self, path: &StoragePath, content: String) -> Result<(), Failure> {
        if content.len() > MAX_ITEMS_BYTES {
            return Err(format!(
                "{} would be larger than {MAX_ITEMS_BYTES} bytes",
                path.uri()
            )
            .into());
        }
        self.engine
            .storage
            .put(self.tenant, path, bytes::Bytes::from(content))
            .await
            .map_err(|e| Failure::Error(format!("storage.Write: {e}")))
    }

    /// `{id}_items`: one subflow execution per batch, started in chunks;
    /// with `wait`, the run ends as the worst of them (with
    /// `transmitFailed`), else once all are started.
    pub(super) async fn start_batches(
        &self,
        task: &Task,
        call: &SubflowCall,
        parent: &str,
        key: RunKey,
        existing: Option<task_runs::Model>,
    ) -> Outcome {
        let resumed = existing
            .as_ref()
            .is_some_and(|r| r.state == State::Running.as_str());
        let mut row = existing.unwrap_or_else(|| self.new_run(parent, task, &key.2, repo::now()));
        if !resumed {
            let now = repo::now();
            row.start_time = Some(now);
            row.attempts += 1;
            row.state = State::Running.as_str().to_owned();
            row.histories = push_history(&row.histories, State::Running, now);
            row.update_time = now;
        }
        match self.batches(task, call, parent, &key, &mut row).await {
            Ok(Some((state, outputs, why))) => {
                let logs = why
                    .map(|why| vec![self.log_line(&row.id, &task.id, "ERROR", why)])
                    .unwrap_or_default();
                self.finish(row, key, task, state, outputs, logs).await
            }
            Ok(None) => Outcome::Waiting,
            Err(Failure::Stopped) => self.stopped(),
            Err(Failure::Error(message) | Failure::Refused(message)) => {
                let line = self.log_line(&row.id, &task.id, "ERROR", message);
                self.fail(row, key, task, vec![line]).await
            }
        }
    }

    /// Starts what is left of the batches; the end state and outputs once
    /// the run is over, `None` while it waits.
    async fn batches(
        &self,
        task: &Task,
        call: &SubflowCall,
        parent: &str,
        key: &RunKey,
        row: &mut task_runs::Model,
    ) -> Result<Option<Ended>, Failure> {
        let wait = call.wait;
        let splits = self.batch_uris(task, parent, key).await?;
        let total = splits.len();
        if total == 0 {
            // Nothing to start: no outputs, as in Kestra.
            return Ok(Some((State::Success, json!({}), None)));
        }
        let context = self.context(row, task);
        let since = row.start_time.unwrap_or_else(repo::now);
        let mut target: Option<Target> = None;
        loop {
            let counts = self.children_by_state(&row.id, since).await?;
            let started: i64 = counts.values().sum();
            let started = usize::try_from(started).unwrap_or(0);
            if started < total {
                let target = match &target {
                    Some(target) => target,
                    None => target.insert(self.subflow_target(call, &context).await?),
                };
                let mut chunk = Vec::new();
                for (i, uri) in splits.iter().enumerate().skip(started).take(CHUNK) {
                    let admitted = self
                        .engine
                        .admission
                        .admit_beside(self.tenant, chunk.len() as u64)
                        .await;
                    match admitted {
                        Ok(()) => {}
                        Err(ServiceError::TooManyRequests(..)) if !chunk.is_empty() => break,
                        Err(ServiceError::TooManyRequests(why, retry)) => {
                            // Room comes back as the tenant's executions end
                            // (they wake this one) or after `retry`.
                            let delay = std::time::Duration::from_secs(retry.max(1));
                            self.wake_after(repo::now(), Some(delay), None);
                            let line = format!("batch {} waits: {why}", i + 1);
                            let log = self.log_line(&row.id, &task.id, "INFO", line);
                            row.outputs = progress(total, &counts).to_string();
                            return self.wait_for_batches(row, key, since, vec![log]).await;
                        }
                        Err(other) => return Err(Failure::Refused(other.to_string())),
                    }
                    let batch_context = self.batch_context(row, task, uri, i + 1);
                    chunk.push(
                        self.child_execution(task, call, row, &batch_context, target, Some(i + 1))
                            .await?,
                    );
                }
                row.outputs = progress(total, &counts).to_string();
                if !self.start_children(chunk, key, row).await {
                    return Err(Failure::Stopped);
                }
                continue;
            }
            if !wait {
                // Kestra counts each started batch as a success then.
                let outputs = json!({
                    "numberOfBatches": total,
                    "iterations": {"RUNNING": 0, "SUCCESS": total},
                });
                return Ok(Some((State::Success, outputs, None)));
            }
            let unfinished = counts
                .iter()
                .filter(|(state, _)| !State::parse(state).is_some_and(State::is_terminal))
                .count();
            row.outputs = progress(total, &counts).to_string();
            if unfinished > 0 {
                return self.wait_for_batches(row, key, since, Vec::new()).await;
            }
            let worst = [State::Failed, State::Killed, State::Warning]
                .into_iter()
                .find(|s| counts.contains_key(s.as_str()))
                .unwrap_or(State::Success);
            let state = ended_as(worst, call.transmit_failed);
            if state == State::Failed || state == State::Killed {
                // Said in the logs too, for errorLogs() and whoever looks.
                let ended: Vec<String> = counts
                    .iter()
                    .filter(|(s, _)| *s != State::Success.as_str())
                    .map(|(s, n)| format!("{n} {s}"))
                    .collect();
                let why = format!(
                    "of {total} batches, {} (the subflow executions of this task run)",
                    ended.join(", ")
                );
                return Ok(Some((state, progress(total, &counts), Some(why))));
            }
            return Ok(Some((state, progress(total, &counts), None)));
        }
    }

    /// The batch files `{id}_split` listed.
    async fn batch_uris(
        &self,
        task: &Task,
        parent: &str,
        key: &RunKey,
    ) -> Result<Vec<String>, Failure> {
        let base = task.id.strip_suffix("_items").unwrap_or(&task.id);
        let split_key = (parent.to_owned(), format!("{base}_split"), key.2.clone());
        let split = self
            .lock_runs()
            .get(&split_key)
            .map(|r| parse_object(&r.outputs))
            .unwrap_or(Value::Null);
        let Some(list) = split.get("splits").and_then(Value::as_str) else {
            return Err(format!("{base}_split left no list of batches").into());
        };
        let path = StoragePath::from_uri(list).map_err(|e| e.to_string())?;
        let content = self
            .engine
            .storage
            .get(self.tenant, &path, MAX_ITEMS_BYTES)
            .await
            .map_err(|e| format!("the batches {list}: {e}"))?;
        Ok(String::from_utf8_lossy(&content)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// The task's scope with Kestra's `taskrun.items` and
    /// `taskrun.iteration` for one batch.
    fn batch_context(
        &self,
        row: &task_runs::Model,
        task: &Task,
        uri: &str,
        iteration: usize,
    ) -> super::Scope {
        self.context_with(
            row,
            task,
            &[("items", json!(uri)), ("iteration", json!(iteration))],
        )
    }

    async fn children_by_state(
        &self,
        task_run: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<std::collections::BTreeMap<String, i64>, Failure> {
        let read = async {
            let tx = TenantTxn::read(&self.engine.db, self.tenant).await?;
            let counts = repo::executions::children_by_state(&tx, task_run, since).await?;
            tx.commit().await?;
            Ok::<_, sea_orm::DbErr>(counts)
        };
        match read.await {
            Ok(counts) => Ok(counts.into_iter().collect()),
            Err(err) => {
                self.record_failure(RunError::from(err));
                Err(Failure::Stopped)
            }
        }
    }

    /// Writes a chunk of batch executions and the task run in one
    /// transaction; false when the run must stop.
    async fn start_children(
        &self,
        chunk: Vec<crate::executor::NewExecution>,
        key: &RunKey,
        row: &task_runs::Model,
    ) -> bool {
        let ids: Vec<_> = chunk.iter().map(|n| n.id.clone()).collect();
        self.lock_runs().insert(key.clone(), row.clone());
        let written = async {
            let tx = TenantTxn::write(&self.engine.db, self.tenant).await?;
            if !repo::executions::lock_unless_killed(&tx, self.id).await?
                || self.an_ancestor_is_killed(&tx).await?
            {
                return Ok(false);
            }
            self.engine.accept_many(&tx, chunk).await?;
            self.stage(row.clone(), Vec::new());
            self.write_held(&tx).await?;
            tx.commit().await?;
            Ok(true)
        }
        .await;
        match written {
            Ok(true) => {}
            Ok(false) => {
                self.stop.stop(super::StopReason::Kill);
                return false;
            }
            Err(err) => {
                self.record_failure(err);
                return false;
            }
        }
        self.engine.changed(self.id);
        for id in &ids {
            self.engine.changed(id);
        }
        self.engine.wake();
        true
    }

    /// Keeps the run RUNNING with its progress and lets the execution wait
    /// for its batches (their ends wake it).
    async fn wait_for_batches(
        &self,
        row: &task_runs::Model,
        key: &RunKey,
        since: chrono::DateTime<chrono::Utc>,
        logs: Vec<super::NewLog>,
    ) -> Result<Option<Ended>, Failure> {
        self.lock_runs().insert(key.clone(), row.clone());
        self.stage(row.clone(), logs);
        self.lock_waiting_batches().push((row.id.clone(), since));
        Ok(None)
    }

    /// `{id}_merge`: the outputs of each batch's subflow execution, in
    /// batch order, one JSON object per line; no file when none has any.
    pub(super) async fn merge_outputs(
        &self,
        task: &Task,
        row: &task_runs::Model,
    ) -> Result<Done, Failure> {
        let base = task.id.strip_suffix("_merge").unwrap_or(&task.id);
        let items_key = (
            row.parent_id.clone(),
            format!("{base}_items"),
            row.value.clone(),
        );
        let Some((items_run, since)) = self
            .lock_runs()
            .get(&items_key)
            .map(|r| (r.id.clone(), r.start_time.unwrap_or_default()))
        else {
            return Ok(leaf(json!({})));
        };
        // Read a page at a time, and stop as soon as the file would be too
        // large: the outputs are the subflows' and may be big.
        const PAGE: u64 = 20;
        let mut gathered: Vec<(u64, Value)> = Vec::new();
        let mut size = 0;
        for page in 0.. {
            let read = async {
                let tx = TenantTxn::read(&self.engine.db, self.tenant).await?;
                let children = repo::executions::children_of_task_run(
                    &tx,
                    &items_run,
                    since,
                    page * PAGE,
                    PAGE,
                )
                .await?;
                tx.commit().await?;
                Ok::<_, sea_orm::DbErr>(children)
            };
            let children = match read.await {
                Ok(children) => children,
                Err(err) => {
                    self.record_failure(RunError::from(err));
                    return Err(Failure::Stopped);
                }
            };
            let last = (children.len() as u64) < PAGE;
            for (trigger, outputs) in children {
                let Some(iteration) =
                    parse_object(&trigger)["variables"]["taskRunIteration"].as_u64()
                else {
                    continue;
                };
                size += outputs.len() + 1;
                if size > MAX_ITEMS_BYTES {
                    return Err(format!(
                        "the subflows' outputs are larger than the {MAX_ITEMS_BYTES} bytes a ForEachItem gathers"
                    )
                    .into());
                }
                let outputs = parse_object(&outputs);
                if outputs.as_object().is_some_and(|o| !o.is_empty()) {
                    gathered.push((iteration, outputs));
                }
            }
            if last {
                break;
            }
        }
        if gathered.is_empty() {
            return Ok(leaf(json!({})));
        }
        gathered.sort_by_key(|(iteration, _)| *iteration);
        let mut content = String::new();
        for (_, outputs) in gathered {
            content.push_str(&outputs.to_string());
            content.push('\n');
        }
        let path = StoragePath::parse(&format!("{}/outputs.jsonl", self.task_folder(task, row)))
            .map_err(|e| e.to_string())?;
        self.put(&path, content).await?;
        Ok(leaf(json!({"subflowOutputs": path.uri()})))
    }

    pub(super) fn lock_waiting_batches(
        &self,
    ) -> std::sync::MutexGuard<'_, Vec<(String, chrono::DateTime<chrono::Utc>)>> {
        self.waiting_batches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

/// The run's outputs while (and once) its batches run: how many, and how
/// many executions are in each state (CREATED and RUNNING always shown).
fn progress(total: usize, counts: &std::collections::BTreeMap<String, i64>) -> Value {
    let mut iterations = Map::new();
    iterations.insert("CREATED".into(), json!(0));
    iterations.insert("RUNNING".into(), json!(0));
    for (state, count) in counts {
        iterations.insert(state.clone(), json!(count));
    }
    json!({"numberOfBatches": total, "iterations": iterations})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(size: BatchSize) -> Batch {
        Batch {
            size,
            separator: "\n".into(),
        }
    }

    #[test]
    fn rows_make_batches_of_that_many_lines() {
        let text: String = (0..102).map(|i| format!("{i:>20}\n")).collect();
        let batches = split_items(&text, &batch(BatchSize::Rows(4)), 100, 1 << 20).unwrap();
        assert_eq!(batches.len(), 26);
        assert_eq!(batches[25].lines().count(), 2);
        assert_eq!(batches.concat(), text);
        assert_eq!(
            split_items("a\r\nb\rc", &batch(BatchSize::Rows(1)), 100, 100).unwrap(),
            ["a\n", "b\n", "c\n"]
        );
        assert!(
            split_items("", &batch(BatchSize::Rows(1)), 100, 100)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn partitions_deal_the_lines_round_robin() {
        let batches = split_items(
            "1\n2\n3\n4\n5\n",
            &batch(BatchSize::Partitions(2)),
            100,
            100,
        )
        .unwrap();
        assert_eq!(batches, ["1\n3\n5\n", "2\n4\n"]);
        let few = split_items("1\n", &batch(BatchSize::Partitions(3)), 100, 100).unwrap();
        assert_eq!(few, ["1\n"], "empty partitions are dropped");
    }

    #[test]
    fn bytes_start_a_new_batch_once_one_is_full() {
        let batches =
            split_items("aaaa\nbb\ncc\nd\n", &batch(BatchSize::Bytes(6)), 100, 100).unwrap();
        assert_eq!(batches, ["aaaa\nbb\n", "cc\nd\n"]);
    }

    #[test]
    fn the_separator_follows_each_item() {
        let custom = Batch {
            size: BatchSize::Rows(2),
            separator: ";".into(),
        };
        assert_eq!(
            split_items("a\nb\nc", &custom, 100, 100).unwrap(),
            ["a;b;", "c;"]
        );
    }

    #[test]
    fn nothing_large_is_built_past_the_limits() {
        // A billion partitions of two lines: refused before any allocation.
        let err = split_items(
            "a\nb\n",
            &batch(BatchSize::Partitions(1_000_000_000)),
            10_000,
            1 << 20,
        )
        .unwrap_err();
        assert!(err.contains("quota foreach-items"), "{err}");
        // Partitions beyond the lines cost nothing.
        let few = split_items(
            "a\nb\n",
            &batch(BatchSize::Partitions(10_000)),
            10_000,
            1 << 20,
        )
        .unwrap();
        assert_eq!(few, ["a\n", "b\n"]);
        // A huge separator on many lines: refused by size, up front.
        let wide = Batch {
            size: BatchSize::Rows(1),
            separator: "x".repeat(1000),
        };
        let text = "\n".repeat(100_000);
        let err = split_items(&text, &wide, 1_000_000, 32 << 20).unwrap_err();
        assert!(err.contains("more than the 33554432"), "{err}");
        let err = split_items(&text, &batch(BatchSize::Rows(1)), 10, 32 << 20).unwrap_err();
        assert!(err.contains("100000 batches"), "{err}");
        let err = split_items(&text, &batch(BatchSize::Bytes(1)), 10, 32 << 20).unwrap_err();
        assert!(err.contains("quota foreach-items"), "{err}");
    }

    #[test]
    fn progress_always_shows_created_and_running() {
        let counts = [("SUCCESS".to_owned(), 3)].into_iter().collect();
        assert_eq!(
            progress(3, &counts),
            json!({"numberOfBatches": 3, "iterations": {"CREATED": 0, "RUNNING": 0, "SUCCESS": 3}})
        );
    }
}
