-- 0741 trading-execution: an account's own fees and slippage.
--
-- A backtest prices its fills with the costs asked for in its request, not
-- with trading-execution's EXEC_FEE_BPS / EXEC_FEE_MIN / EXEC_SLIPPAGE_BPS:
-- analytics sets the run account's model here (api.exec.fees.set) before
-- the run places any order, and trading-execution prices every fill of an
-- account that has a row with it. Accounts without a row (live trading)
-- keep the settings. A model is only written while its account has no
-- order, so the fills of an account are all priced by one model.
CREATE TABLE exec_fee_models (
    account      tb_token PRIMARY KEY,
    fee_bps      integer NOT NULL CHECK (fee_bps BETWEEN 0 AND 1000),
    fee_min      numeric(38,8) NOT NULL CHECK (fee_min >= 0 AND fee_min <= 1000000),
    slippage_bps integer NOT NULL CHECK (slippage_bps BETWEEN 0 AND 1000),
    created_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE exec_fee_models IS
    'trading-execution: fees and slippage of an account instead of the EXEC_* settings (backtests).';
