-- One row per request the LLM gateway forwarded to a provider.
--
-- Rows are kept when their agent is deleted, so an account's cost history
-- survives the agent; that is why agent_id has no foreign key.
-- `day` is the UTC date of started_at (YYYY-MM-DD), written at insert so
-- that grouping by day is the same plain GROUP BY on every database.
-- cost_usd is NULL when the model was missing from the price table.
CREATE TABLE usage_records (
    id             BIGSERIAL PRIMARY KEY,
    account_id     TEXT NOT NULL,
    agent_id       TEXT NOT NULL,
    provider       TEXT NOT NULL,
    model          TEXT NOT NULL,
    request_id     TEXT NOT NULL,
    input_tokens   BIGINT NOT NULL,
    output_tokens  BIGINT NOT NULL,
    cached_tokens  BIGINT NOT NULL,
    cost_usd       DOUBLE PRECISION,
    started_at     BIGINT NOT NULL,
    day            TEXT NOT NULL,
    latency_ms     BIGINT NOT NULL,
    status_code    INTEGER NOT NULL,
    streamed       BOOLEAN NOT NULL
);
CREATE INDEX usage_records_account_started ON usage_records(account_id, started_at);
CREATE INDEX usage_records_agent_started ON usage_records(agent_id, started_at);
