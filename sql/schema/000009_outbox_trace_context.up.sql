-- The W3C trace context (traceparent, tracestate as a JSON object) of the step that
-- wrote a message, so the relay, later and perhaps on another replica, publishes it
-- in the same trace. NULL when the step ran outside any trace (tracing off and no
-- traceparent came in). It is never read by the protocol: a message is relayed the
-- same whatever it holds.
ALTER TABLE outbox ADD COLUMN trace_context text;
