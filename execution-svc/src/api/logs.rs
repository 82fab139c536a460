//! Log lines: listing one execution's, searching the tenant's, following
//! one execution's as they are written.

use std::collections::BTreeSet;
use std::time::Duration;

use aerie_common::ServiceError;
use aerie_common::auth::{Action, Call, Grant, Permission};
use aerie_common::paging::PageRequest;
use aerie_proto::execution::v1 as pb;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::{ExecutionApi, next_change};
use crate::domain::{ExecutionId, LOG_LEVELS, State, log_level_rank};
use crate::repo::entities::execution_logs;
use crate::repo::executions::{self as repo, LogFilter};

/// The levels at and above `min_level` (every level when unspecified).
fn levels_from(min_level: i32) -> Result<&'static [&'static str], Status> {
    match pb::LogLevel::try_from(min_level) {
        Ok(pb::LogLevel::Unspecified) => Ok(&LOG_LEVELS),
        Ok(level) => Ok(&LOG_LEVELS[log_level_rank(level.short_name())?..]),
        Err(_) => Err(Status::invalid_argument(format!(
            "unknown log level {min_level}"
        ))),
    }
}

pub(super) fn log_message(
    line: execution_logs::Model,
    namespace: &str,
    flow_id: &str,
) -> pb::LogLine {
    pb::LogLine {
        execution_id: line.execution_id,
        task_run_id: line.task_run_id,
        task_id: line.task_id,
        level: pb::LogLevel::from_short_name(&line.level).unwrap_or_default() as i32,
        timestamp: Some(aerie_common::time::to_timestamp(line.time)),
        message: line.message,
        namespace: namespace.to_owned(),
        flow_id: flow_id.to_owned(),
    }
}

/// A line can appear below the highest one seen while the transaction that
/// took its earlier sequence number commits; no transaction writing log
/// lines stays open this long.
const SETTLE: Duration = Duration::from_secs(10);

impl ExecutionApi {
    pub(super) async fn list_logs_of(
        &self,
        call: &Call,
        body: pb::ListLogsRequest,
    ) -> Result<pb::ListLogsResponse, Status> {
        let id = ExecutionId::parse(&body.execution_id)?;
        let levels = levels_from(body.min_level)?;
        let row = self.authorized_execution(call, &id, Action::Read).await?;
        let tx = self.read(&call.tenant).await?;
        let lines = repo::logs(&tx, &id, levels, 0)
            .await
            .map_err(ServiceError::from)?;
        Ok(pb::ListLogsResponse {
            logs: lines
                .into_iter()
                .map(|line| log_message(line, &row.namespace, &row.flow_id))
                .collect(),
        })
    }

    pub(super) async fn search_logs_of(
        &self,
        call: &Call,
        body: pb::SearchLogsRequest,
    ) -> Result<pb::SearchLogsResponse, Status> {
        let scope = self
            .guard
            .scope(call, Grant(Permission::Execution, Action::Read))
            .await?;
        let page = PageRequest::new(body.page, body.size)?;
        let levels = levels_from(body.min_level)?;
        let execution_id = match body.execution_id.as_str() {
            "" => None,
            id => Some(ExecutionId::parse(id)?),
        };
        let some = |text: &str| Some(text).filter(|t| !t.is_empty()).map(str::to_owned);
        let (namespace, flow_id, text) = (
            some(&body.namespace),
            some(&body.flow_id),
            some(&body.query),
        );
        let filter = LogFilter {
            scope: &scope,
            namespace: namespace.as_deref(),
            flow_id: flow_id.as_deref(),
            execution_id: execution_id.as_ref().map(ExecutionId::as_str),
            levels,
            text: text.as_deref(),
            from: super::executions::bound("start_date", body.start_date.as_ref())?,
            before: super::executions::bound("end_date", body.end_date.as_ref())?,
        };
        let tx = self.read(&call.tenant).await?;
        let (lines, total) = repo::search_logs(&tx, filter, page)
            .await
            .map_err(ServiceError::from)?;
        Ok(pb::SearchLogsResponse {
            results: lines
                .into_iter()
                .map(|(line, namespace, flow_id)| log_message(line, &namespace, &flow_id))
                .collect(),
            total,
        })
    }

    pub(super) async fn follow_logs_of(
        &self,
        call: Call,
        body: pb::FollowLogsRequest,
    ) -> Result<ReceiverStream<Result<pb::LogLine, Status>>, Status> {
        let id = ExecutionId::parse(&body.execution_id)?;
        let levels = levels_from(body.min_level)?;
        let row = self.authorized_execution(&call, &id, Action::Read).await?;
        let (sender, receiver) = tokio::sync::mpsc::channel(64);
        let api = self.clone();
        tokio::spawn(async move {
            let mut changes = api.engine.subscribe();
            // Lines up to `settled` were all sent; above it, `sent` holds
            // those that were, so that a line committed late (a lower
            // sequence number than one already seen) is sent once, and
            // never twice. `rounds` remembers the highest line seen by
            // each recent round: SETTLE after a round, nothing below its
            // highest line can still appear.
            let mut settled = 0_i64;
            let mut sent = BTreeSet::new();
            let mut rounds = std::collections::VecDeque::new();
            let mut checked = std::time::Instant::now();
            loop {
                // Access taken away ends the stream within REAUTHORIZE.
                if checked.elapsed() >= super::REAUTHORIZE {
                    if let Err(status) = api.authorized_execution(&call, &id, Action::Read).await {
                        let _ = sender.send(Err(status)).await;
                        return;
                    }
                    checked = std::time::Instant::now();
                }
                // Read the state first: lines written before the end are
                // all read after it.
                // The state alone: an execution's task runs can be many.
                let execution = match api.read(&call.tenant).await {
                    Ok(tx) => repo::find(&tx, &id)
                        .await
                        .map_err(|e| Status::from(ServiceError::from(e))),
                    Err(err) => Err(Status::from(err)),
                };
                let ended = match execution {
                    Ok(Some(execution)) => {
                        State::parse(&execution.state).is_some_and(State::is_terminal)
                    }
                    Ok(None) => return,
                    Err(status) => {
                        let _ = sender.send(Err(status)).await;
                        return;
                    }
                };
                let lines = match api.read(&call.tenant).await {
                    Ok(tx) => repo::logs(&tx, &id, levels, settled)
                        .await
                        .map_err(|e| Status::from(ServiceError::from(e))),
                    Err(err) => Err(Status::from(err)),
                };
                let lines = match lines {
                    Ok(lines) => lines,
                    Err(status) => {
                        let _ = sender.send(Err(status)).await;
                        return;
                    }
                };
                let now = std::time::Instant::now();
                rounds.push_back((now, lines.last().map_or(settled, |l| l.seq)));
                for line in lines {
                    if !sent.insert(line.seq) {
                        continue;
                    }
                    let message = log_message(line, &row.namespace, &row.flow_id);
                    if sender.send(Ok(message)).await.is_err() {
                        return;
                    }
                }
                while let Some(&(at, highest)) = rounds.front()
                    && now.duration_since(at) >= SETTLE
                {
                    rounds.pop_front();
                    settled = settled.max(highest);
                    sent = sent.split_off(&(settled + 1));
                }
                if ended {
                    return;
                }
                tokio::select! {
                    _ = next_change(&mut changes, &id, Duration::from_millis(500)) => {}
                    _ = sender.closed() => return,
                    _ = api.engine.closing().cancelled() => {
                        let _ = sender.send(Err(super::shutting_down(&id))).await;
                        return;
                    }
                }
            }
        });
        Ok(ReceiverStream::new(receiver))
    }
}
