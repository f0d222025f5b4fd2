//! The SQS poller: long-poll the queue, batch up to `BatchSize` within the batching window,
//! drop filtered-out messages, invoke the function with AWS's SQS event, delete what succeeded
//! and leave failures to reappear after the visibility timeout (so the queue's redrive policy
//! takes them to its dead-letter queue).

use std::sync::Arc;
use std::time::{Duration, Instant};

use nimbus_core::queue::{QueueMessage, QueueSource};
use nimbus_core::RequestContext;
use serde_json::{json, Value};

use super::filter::{self, Pattern};
use super::EventSourceMapping;
use crate::{recursion, Lambda};

/// How long one receive waits when the batch is still empty; short enough that a disabled or
/// deleted mapping stops promptly.
const IDLE_WAIT: Duration = Duration::from_secs(2);

/// Run one poller of a mapping until the mapping is disabled or deleted.
pub async fn run(lambda: Arc<Lambda>, account: String, region: String, uuid: String) {
    loop {
        let Some(mapping) = current(&lambda, &account, &region, &uuid) else { return };
        let Some(source) = lambda.queues.read().clone() else {
            tokio::time::sleep(IDLE_WAIT).await;
            continue;
        };
        let Some(queue) = mapping.event_source_arn.clone() else { return };
        let batch = collect(&*source, &account, &region, &queue, &mapping).await;
        if batch.is_empty() {
            continue;
        }
        process(&lambda, &*source, &account, &region, &mapping, batch).await;
    }
}

/// The mapping as currently configured, if it still exists and is enabled.
fn current(lambda: &Lambda, account: &str, region: &str, uuid: &str) -> Option<EventSourceMapping> {
    let store = lambda.store.read();
    store.region(account, region)?.event_source_mappings.get(uuid).filter(|m| m.enabled).cloned()
}

/// Gather a batch: up to `BatchSize` messages, waiting at most the batching window once the
/// first message is in (with no window, whatever one receive returns).
async fn collect(
    source: &dyn QueueSource,
    account: &str,
    region: &str,
    queue: &str,
    mapping: &EventSourceMapping,
) -> Vec<QueueMessage> {
    let size = mapping.batch_size.max(1) as usize;
    let window = Duration::from_secs(u64::from(mapping.batching_window));
    let mut batch: Vec<QueueMessage> = Vec::new();
    let mut window_end: Option<Instant> = None;
    loop {
        let wait = match window_end {
            None => IDLE_WAIT,
            Some(end) => end.saturating_duration_since(Instant::now()),
        };
        let want = (size - batch.len()).min(10);
        match source.receive(account, region, queue, want, wait).await {
            Ok(messages) => batch.extend(messages),
            Err(err) => {
                tracing::warn!(queue, error = %err, "event source mapping could not receive");
                tokio::time::sleep(IDLE_WAIT).await;
                return batch;
            }
        }
        if batch.is_empty() {
            return batch;
        }
        if batch.len() >= size || window.is_zero() {
            return batch;
        }
        let end = *window_end.get_or_insert_with(|| Instant::now() + window);
        if Instant::now() >= end {
            return batch;
        }
    }
}

/// Lambda's SQS event record for one message.
pub fn record(message: &QueueMessage, queue_arn: &str, region: &str) -> Value {
    let mut record = json!({
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": message.attributes,
        "messageAttributes": message.message_attributes,
        "md5OfBody": message.md5_of_body,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    });
    // Without message attributes AWS leaves the member out rather than sending null.
    if let Some(md5) = &message.md5_of_message_attributes {
        record["md5OfMessageAttributes"] = json!(md5);
    }
    record
}

async fn process(
    lambda: &Arc<Lambda>,
    source: &dyn QueueSource,
    account: &str,
    region: &str,
    mapping: &EventSourceMapping,
    batch: Vec<QueueMessage>,
) {
    let queue = mapping.event_source_arn.clone().unwrap_or_default();
    let patterns: Vec<Pattern> = mapping.filters.iter().filter_map(|p| Pattern::parse(p).ok()).collect();
    let mut records = Vec::with_capacity(batch.len());
    let mut filtered_out = Vec::new();
    for message in &batch {
        let record = record(message, &queue, region);
        if patterns.is_empty() || filter::any_matches(&patterns, &filter::sqs_record_view(&record)) {
            records.push((message, record));
        } else {
            filtered_out.push(message.receipt_handle.clone());
        }
    }
    // Lambda deletes messages that match no filter: they will never be delivered.
    if !filtered_out.is_empty() {
        let _ = source.delete(account, region, &queue, filtered_out);
    }
    if records.is_empty() {
        return;
    }
    let ctx = RequestContext {
        account: account.to_string(),
        region: region.to_string(),
        request_id: uuid::Uuid::new_v4().to_string(),
        access_key_id: None,
        endpoint: mapping.endpoint.clone(),
        clock: lambda.clock.clone(),
    };
    let Ok(id) = crate::ident::parse_function(&ctx, &mapping.function_arn, None) else { return };
    let mut target = match crate::api::invoke::target(lambda, &ctx, &id) {
        Ok(t) => t,
        Err(err) => {
            tracing::warn!(function = %mapping.function_arn, error = %err, "event source mapping target missing");
            return;
        }
    };
    let records = match stop_recursion(lambda, source, &ctx, &id.name, &queue, records) {
        Some((records, trace_header)) => {
            target.trace_header = Some(trace_header);
            records
        }
        None => return,
    };
    let event = json!({"Records": records.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>()});
    let payload = event.to_string().into_bytes();
    let outcome = lambda.invoker.invoke(&lambda.blobs, &ctx, target, &payload, None).await;
    let Ok(outcome) = outcome else { return }; // throttled or not runnable: messages reappear
    if outcome.function_error.is_some() {
        return;
    }
    let handles: Vec<String> = if mapping.function_response_types.iter().any(|t| t == "ReportBatchItemFailures") {
        match failed_ids(&outcome.payload, &records) {
            Some(failed) => records
                .iter()
                .filter(|(m, _)| !failed.contains(&m.message_id))
                .map(|(m, _)| m.receipt_handle.clone())
                .collect(),
            // An unreadable failure report fails the whole batch, as on AWS.
            None => Vec::new(),
        }
    } else {
        records.iter().map(|(m, _)| m.receipt_handle.clone()).collect()
    };
    if !handles.is_empty() {
        if let Err(err) = source.delete(account, region, &queue, handles) {
            tracing::warn!(queue, error = %err, "could not delete processed messages");
        }
    }
}

/// Recursive-loop detection: messages whose chain has already invoked the function
/// [`MAX_CHAIN`] times are not delivered when its recursion config is `Terminate` (the default).
/// As on AWS, such a message goes to the queue's dead-letter queue when it has one (it is left
/// for the redrive policy), and is dropped (deleted) otherwise. Returns the records to deliver
/// and the trace header their invocation runs with, or `None` when nothing is left.
fn stop_recursion<'m>(
    lambda: &Lambda,
    source: &dyn QueueSource,
    ctx: &RequestContext,
    function: &str,
    queue: &str,
    records: Vec<(&'m QueueMessage, Value)>,
) -> Option<(Vec<(&'m QueueMessage, Value)>, String)> {
    let hash = recursion::function_hash(&crate::ident::function_arn(ctx, function));
    let terminate = {
        let store = lambda.store.read();
        let config = store.region(&ctx.account, &ctx.region).and_then(|r| r.functions.get(function));
        config.and_then(|f| f.recursive_loop.as_deref()).unwrap_or("Terminate") == "Terminate"
    };
    let chain = |m: &QueueMessage| m.attributes.get("AWSTraceHeader").map_or(0, |h| recursion::count(h, &hash));
    let (stopped, kept): (Vec<_>, Vec<_>) =
        records.into_iter().partition(|(m, _)| terminate && chain(m) >= recursion::MAX_CHAIN);
    if !stopped.is_empty() {
        tracing::warn!(
            function,
            queue,
            messages = stopped.len(),
            "recursive loop detected: Lambda stopped invoking the function for these messages (RecursiveInvocationsDropped)"
        );
        let has_dlq = source.queue_kind(&ctx.account, &ctx.region, queue).is_some_and(|k| k.has_dead_letter_queue);
        if !has_dlq {
            let handles = stopped.iter().map(|(m, _)| m.receipt_handle.clone()).collect();
            let _ = source.delete(&ctx.account, &ctx.region, queue, handles);
        }
    }
    // The invocation continues the longest chain among its messages.
    let longest = kept.iter().max_by_key(|(m, _)| chain(m))?;
    let header = recursion::next_header(
        longest.0.attributes.get("AWSTraceHeader").map(String::as_str),
        &hash,
        chain(longest.0) + 1,
    );
    Some((kept, header))
}

/// Message ids the function reported as failed (`{"batchItemFailures": [{"itemIdentifier"}]}`);
/// `None` when the report is malformed.
fn failed_ids(payload: &[u8], records: &[(&QueueMessage, Value)]) -> Option<Vec<String>> {
    let response: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    let failures = match response.get("batchItemFailures") {
        None | Some(Value::Null) => return Some(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return None,
    };
    let mut ids = Vec::new();
    for item in failures {
        let id = item.get("itemIdentifier").and_then(Value::as_str).filter(|s| !s.is_empty())?;
        if !records.iter().any(|(m, _)| m.message_id == id) {
            return None;
        }
        ids.push(id.to_string());
    }
    Some(ids)
}
