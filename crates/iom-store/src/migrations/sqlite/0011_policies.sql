-- Policies (filter and execution rules in CEL), stored as versions like flows: each keeps its
-- source text and the compiled policy (JSON). The newest version of a name is the one in force;
-- a run pins the versions in force when it starts, so a newer version never changes a run under
-- way. `kind` (filter | execution) is the same for every version of a name, since flows refer to
-- a policy by name for one kind of use.
CREATE TABLE policy_versions (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    kind TEXT NOT NULL,
    format TEXT NOT NULL,
    source TEXT NOT NULL,
    policy TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);
