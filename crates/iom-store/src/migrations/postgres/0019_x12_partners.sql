-- The trading partners of each x12 instance as their own interchanges describe them (ISA ids
-- and qualifiers, GS ids, version, usage, separators), learned when one is received, so that
-- every document iom sends them follows their envelope.
CREATE TABLE x12_partners (
    provider TEXT NOT NULL,
    partner TEXT NOT NULL,
    profile TEXT NOT NULL,
    interchanges BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (provider, partner)
);
