-- Accounts own agents and API keys.
CREATE TABLE accounts (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- API keys are stored as the SHA-256 of the full key; the key itself is
-- shown once at creation and never stored.
CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY NOT NULL,
    account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,
    key_hint      TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX api_keys_account ON api_keys(account_id);

-- Agents. Secrets (provider keys, channel credentials, tokens) are sealed
-- into `secrets`; the JSON columns hold only hints and non-secret settings.
CREATE TABLE agents (
    id                  TEXT PRIMARY KEY NOT NULL,
    account_id          TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    description         TEXT,
    model_provider      TEXT NOT NULL,
    model_name          TEXT NOT NULL,
    runtime_kind        TEXT NOT NULL,
    size                TEXT NOT NULL,
    llm_key_hints       TEXT NOT NULL,
    channel_summaries   TEXT NOT NULL,
    extra_agents        TEXT NOT NULL,
    secrets             BYTEA NOT NULL,
    gateway_token_hash  TEXT NOT NULL UNIQUE,
    desired_state       TEXT NOT NULL,
    status              TEXT NOT NULL,
    status_reason       TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    status_changed_at   BIGINT NOT NULL
);
CREATE INDEX agents_account_created ON agents(account_id, created_at, id);

-- Lifecycle transitions and other notable events, per agent.
CREATE TABLE agent_events (
    id           BIGSERIAL PRIMARY KEY,
    agent_id     TEXT NOT NULL,
    at           BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    from_status  TEXT,
    to_status    TEXT,
    message      TEXT NOT NULL
);
CREATE INDEX agent_events_agent ON agent_events(agent_id, id);
