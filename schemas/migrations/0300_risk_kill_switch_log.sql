-- 0300 risk kill-switch log: the audit trail of api.risk.killswitch.
--
-- risk-management inserts one row per engage or release, in the same
-- transaction that changes the switch and records the mass cancels, so the
-- log and the switch never disagree. account NULL = the global switch.
CREATE TABLE risk_kill_switch_log (
    id       bigserial PRIMARY KEY,
    account  tb_token,
    engaged  boolean NOT NULL,
    reason   text NOT NULL DEFAULT '',
    canceled integer NOT NULL DEFAULT 0 CHECK (canceled >= 0),
    trace_id text,
    at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE risk_kill_switch_log IS
    'Every engage/release of a kill switch (account NULL = global), with the open orders it canceled.';
CREATE INDEX risk_kill_switch_log_account_idx ON risk_kill_switch_log (account, at DESC);
