-- Idempotency keys of agent creation: a repeated POST /v1/agents with the
-- same Idempotency-Key returns the agent the first request created.
CREATE TABLE idempotency_keys (
    account_id  TEXT NOT NULL,
    key         TEXT NOT NULL,
    agent_id    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, key)
);
