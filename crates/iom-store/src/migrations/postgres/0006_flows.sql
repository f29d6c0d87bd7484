-- Orchestration. A flow is stored as versions: each keeps its source text and the plan compiled
-- from it, so a run that began on a version finishes on it whatever is published later.
-- `status`: draft | published | unpublished | superseded (a published version replaced by a newer).
CREATE TABLE flow_versions (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    flow_type TEXT NOT NULL,
    status TEXT NOT NULL,
    format TEXT NOT NULL,
    source TEXT NOT NULL,
    plan TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    published_at BIGINT,
    unpublished_at BIGINT,
    PRIMARY KEY (name, version)
);
CREATE INDEX flow_versions_status ON flow_versions (status, name);

-- One run of a flow for the event that triggered it: unique per (flow, trigger seq), so a trigger
-- dispatched twice creates one run. `wake_at` is set while the run has something to do at that
-- time (runnable now, a retry, a timer, an expired lease); NULL when it waits only for an event or
-- a task, or has ended. `state` is the executor's position (JSON).
CREATE TABLE flow_runs (
    id TEXT PRIMARY KEY,
    flow TEXT NOT NULL,
    version BIGINT NOT NULL,
    flow_type TEXT NOT NULL,
    subject TEXT NOT NULL,
    order_id TEXT,
    trigger_seq BIGINT NOT NULL,
    trigger_type TEXT NOT NULL,
    status TEXT NOT NULL,
    current_step TEXT,
    wake_at BIGINT,
    wait_event TEXT,
    lease_owner TEXT,
    lease_until BIGINT,
    state TEXT NOT NULL,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT,
    UNIQUE (flow, trigger_seq)
);
CREATE INDEX flow_runs_due ON flow_runs (wake_at) WHERE wake_at IS NOT NULL;
CREATE INDEX flow_runs_waiting ON flow_runs (subject) WHERE wait_event IS NOT NULL;
CREATE INDEX flow_runs_order ON flow_runs (order_id, created_at);
CREATE INDEX flow_runs_status ON flow_runs (status, created_at);

-- Every execution of a step: `n` counts the steps of the run (a loop visits a step again under a
-- new n), `attempt` the tries of this execution. The effect of a step commits with its record.
CREATE TABLE flow_steps (
    run_id TEXT NOT NULL,
    n BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    step TEXT NOT NULL,
    uses TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    outcome TEXT,
    error TEXT,
    output TEXT,
    PRIMARY KEY (run_id, n, attempt)
);

-- How far the dispatcher has read the events log.
CREATE TABLE flow_cursors (
    name TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);

-- Manual tasks (manual-review): one per (run, step execution).
CREATE TABLE flow_tasks (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    n BIGINT NOT NULL,
    step TEXT NOT NULL,
    order_id TEXT,
    queue TEXT NOT NULL,
    reason TEXT,
    status TEXT NOT NULL,
    decision TEXT,
    note TEXT,
    created_at BIGINT NOT NULL,
    completed_at BIGINT,
    UNIQUE (run_id, n)
);
CREATE INDEX flow_tasks_status ON flow_tasks (status, created_at);
