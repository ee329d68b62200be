//! OpenTelemetry's OTLP/JSON: `resourceSpans`, one per service.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Span, SpanKind, Traces};

/// OTLP span kinds: internal 1, server 2, client 3, producer 4, consumer 5.
fn kind(span: &Span) -> u8 {
    match span.kind {
        SpanKind::Request | SpanKind::Link | SpanKind::Queue => 1,
        SpanKind::Processing => 2,
        SpanKind::Call => 3,
        SpanKind::Send | SpanKind::Publish => 4,
        SpanKind::Delivery => 5,
    }
}

/// A trace id: 16 bytes as 32 hex digits (never all zero: trace ids start at 1).
pub(super) fn trace_hex(trace: u64) -> String {
    format!("{:032x}", trace)
}

/// A span id: 8 bytes as 16 hex digits.
pub(super) fn span_hex(span: u64) -> String {
    format!("{span:016x}")
}

fn attribute(key: &str, value: Value) -> Value {
    let value = match value {
        Value::String(text) => json!({"stringValue": text}),
        Value::Number(number) => json!({"intValue": number.to_string()}),
        other => json!({"stringValue": other.to_string()}),
    };
    json!({"key": key, "value": value})
}

pub(super) fn to_json(traces: &Traces) -> String {
    let mut by_service: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for trace in &traces.traces {
        for span in &trace.spans {
            let mut attributes = vec![attribute("microsim.kind", json!(span.kind.as_str()))];
            if let Some(peer) = &span.peer {
                attributes.push(attribute("peer.service", json!(peer)));
            }
            if let Some(replica) = span.replica {
                attributes.push(attribute("microsim.replica", json!(replica)));
            }
            if let Some(worker) = span.worker {
                attributes.push(attribute("microsim.worker", json!(worker)));
            }
            if span.kind == SpanKind::Request {
                attributes.push(attribute("microsim.workload", json!(trace.workload)));
            }
            let mut value = json!({
                "traceId": trace_hex(trace.trace_id),
                "spanId": span_hex(span.id),
                "name": span.name(),
                "kind": kind(span),
                "startTimeUnixNano": span.start_ns.to_string(),
                "endTimeUnixNano": span.end_ns.to_string(),
                "attributes": attributes,
                "status": match &span.error {
                    Some(error) => json!({"code": 2, "message": error}),
                    None => json!({"code": 0}),
                },
            });
            if let Some(parent) = span.parent {
                value["parentSpanId"] = json!(span_hex(parent));
            }
            if let Some(follows) = span.follows {
                value["links"] = json!([{
                    "traceId": trace_hex(trace.trace_id),
                    "spanId": span_hex(follows),
                }]);
            }
            by_service
                .entry(span.service.as_str())
                .or_default()
                .push(value);
        }
    }
    let resource_spans: Vec<Value> = by_service
        .into_iter()
        .map(|(service, spans)| {
            json!({
                "resource": {"attributes": [attribute("service.name", json!(service))]},
                "scopeSpans": [{
                    "scope": {"name": "microsim", "version": env!("CARGO_PKG_VERSION")},
                    "spans": spans,
                }],
            })
        })
        .collect();
    json!({ "resourceSpans": resource_spans }).to_string()
}
