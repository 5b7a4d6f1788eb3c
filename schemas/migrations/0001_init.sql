-- 0001 init: the tradebus system of record.
--
-- Applied by scripts/migrate inside one transaction together with its row in
-- schema_migrations; a migration file must not contain BEGIN/COMMIT. Applied
-- migrations are never edited: change the schema with a new NNNN_<name>.sql.
--
-- Conventions
-- * Money, prices and quantities: numeric(38,8). On the wire and in C they
--   are tb_fixed (int64, 8 decimals, schemas/money.h), so every value the code
--   produces fits exactly; pass them to libpq as decimal strings.
-- * Times: timestamptz (microseconds; wire nanoseconds are truncated).
-- * Ids of accounts, symbols and strategies are subject tokens
--   ([A-Za-z0-9_-], 1..63 bytes, schemas/events.def TOKEN); other ids are
--   printable ASCII without spaces (ID, <= 63 bytes).
-- * Enumerations are text with CHECK constraints spelling the values of
--   schemas/events.def.
-- * updated_at columns are kept by a trigger unless the statement sets them.
-- * Idempotency (DESIGN.md section 3): every consumer applies an event keyed
--   on its id in the same transaction as its effect (applied_fills,
--   processed_messages); every event is recorded before it is published
--   (outbox).

-- ------------------------------------------------------------ helpers --

CREATE FUNCTION tb_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Keep an explicitly set updated_at (e.g. event time); else stamp now().
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;

CREATE DOMAIN tb_token AS text
    CHECK (VALUE ~ '^[A-Za-z0-9_-]{1,63}$');
COMMENT ON DOMAIN tb_token IS
    'Subject-safe identifier: accounts, symbols, strategy ids (events.def TOKEN).';

CREATE DOMAIN tb_id AS text
    CHECK (VALUE ~ '^[!-~]{1,63}$');
COMMENT ON DOMAIN tb_id IS
    'Printable ASCII identifier without spaces, <= 63 bytes (events.def ID).';

-- ----------------------------------------------------------- accounts --

CREATE TABLE accounts (
    id           tb_token PRIMARY KEY,
    name         text NOT NULL DEFAULT '',
    cash         numeric(38,8) NOT NULL DEFAULT 0,
    initial_cash numeric(38,8) NOT NULL DEFAULT 0 CHECK (initial_cash >= 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE accounts IS 'Trading accounts; cash is kept by position-management.';
CREATE TRIGGER accounts_touch BEFORE UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION tb_touch_updated_at();

CREATE TABLE api_keys (
    id           tb_id PRIMARY KEY,
    -- Lowercase hex SHA-256 of the whole key; the key itself is never stored.
    key_hash     text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    -- First characters of the key, shown to people to tell keys apart.
    prefix       text NOT NULL CHECK (length(prefix) BETWEEN 1 AND 16),
    name         text NOT NULL DEFAULT '',
    role         text NOT NULL CHECK (role IN ('admin', 'trader', 'viewer')),
    -- Accounts the key may touch. Empty: every account for an admin key,
    -- none for the other roles.
    accounts     text[] NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
COMMENT ON TABLE api_keys IS 'Gateway API keys (Authorization: Bearer <key>), stored hashed.';

-- --------------------------------------------------------------- risk --

-- One row per account plus the row account = '*' holding the defaults. In an
-- account's row NULL means "use the default"; in the '*' row NULL means "no
-- limit". Read the effective values from risk_limits_effective.
CREATE TABLE risk_limits (
    account            text PRIMARY KEY
                       CHECK (account = '*' OR account ~ '^[A-Za-z0-9_-]{1,63}$'),
    max_order_qty      numeric(38,8) CHECK (max_order_qty > 0),
    max_order_notional numeric(38,8) CHECK (max_order_notional > 0),
    max_position_qty   numeric(38,8) CHECK (max_position_qty > 0),   -- absolute, per symbol
    max_gross_exposure numeric(38,8) CHECK (max_gross_exposure > 0), -- sum |qty| * price
    daily_loss_limit   numeric(38,8) CHECK (daily_loss_limit > 0),   -- a positive amount
    max_orders_per_sec integer CHECK (max_orders_per_sec > 0),
    max_open_orders    integer CHECK (max_open_orders > 0),
    price_collar_bps   integer CHECK (price_collar_bps > 0),         -- vs last price
    min_qty            numeric(38,8) CHECK (min_qty > 0),
    lot_size           numeric(38,8) CHECK (lot_size > 0),
    reduce_only        boolean,
    kill_switch        boolean,
    -- Added to the default row's list (never replaces it).
    restricted_symbols text[],
    updated_at         timestamptz NOT NULL DEFAULT now(),
    updated_by         text
);
COMMENT ON TABLE risk_limits IS
    'Pre-trade limits: per account, with the defaults in the row account = ''*''.';
CREATE TRIGGER risk_limits_touch BEFORE UPDATE ON risk_limits
    FOR EACH ROW EXECUTE FUNCTION tb_touch_updated_at();

-- The limits in force for every account.
CREATE VIEW risk_limits_effective AS
SELECT a.id AS account,
       COALESCE(r.max_order_qty,      d.max_order_qty)      AS max_order_qty,
       COALESCE(r.max_order_notional, d.max_order_notional) AS max_order_notional,
       COALESCE(r.max_position_qty,   d.max_position_qty)   AS max_position_qty,
       COALESCE(r.max_gross_exposure, d.max_gross_exposure) AS max_gross_exposure,
       COALESCE(r.daily_loss_limit,   d.daily_loss_limit)   AS daily_loss_limit,
       COALESCE(r.max_orders_per_sec, d.max_orders_per_sec) AS max_orders_per_sec,
       COALESCE(r.max_open_orders,    d.max_open_orders)    AS max_open_orders,
       COALESCE(r.price_collar_bps,   d.price_collar_bps)   AS price_collar_bps,
       COALESCE(r.min_qty,            d.min_qty)            AS min_qty,
       COALESCE(r.lot_size,           d.lot_size)           AS lot_size,
       COALESCE(r.reduce_only, d.reduce_only, false)        AS reduce_only,
       COALESCE(r.kill_switch, d.kill_switch, false)        AS kill_switch,
       COALESCE(d.restricted_symbols, '{}') || COALESCE(r.restricted_symbols, '{}')
                                                            AS restricted_symbols
  FROM accounts a
  LEFT JOIN risk_limits r ON r.account = a.id
  LEFT JOIN risk_limits d ON d.account = '*';

-- The global kill switch: exactly one row (id = true). It is part of the
-- schema, not seed data: risk-management reads it and must always find it.
CREATE TABLE risk_global (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    kill_switch boolean NOT NULL DEFAULT false,
    reason      text,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text
);
COMMENT ON TABLE risk_global IS 'Single row: the global kill switch.';
CREATE TRIGGER risk_global_touch BEFORE UPDATE ON risk_global
    FOR EACH ROW EXECUTE FUNCTION tb_touch_updated_at();
INSERT INTO risk_global (id, kill_switch) VALUES (true, false);

-- ------------------------------------------------------------ symbols --

CREATE TABLE symbols (
    symbol      tb_token PRIMARY KEY,
    description text NOT NULL DEFAULT '',
    tradable    boolean NOT NULL DEFAULT true,
    lot_size    numeric(38,8) NOT NULL DEFAULT 0.00000001 CHECK (lot_size > 0),
    tick_size   numeric(38,8) NOT NULL DEFAULT 0.00000001 CHECK (tick_size > 0),
    min_qty     numeric(38,8) NOT NULL DEFAULT 0.00000001 CHECK (min_qty > 0),
    max_qty     numeric(38,8) CHECK (max_qty >= min_qty), -- NULL: no maximum
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE symbols IS 'Instruments and their trading rules.';
CREATE TRIGGER symbols_touch BEFORE UPDATE ON symbols
    FOR EACH ROW EXECUTE FUNCTION tb_touch_updated_at();

-- ------------------------------------------------------------- orders --

CREATE TABLE orders (
    order_id        tb_id PRIMARY KEY,
    client_order_id tb_id,
    account         tb_token NOT NULL REFERENCES accounts (id),
    symbol          tb_token NOT NULL,
    side            text NOT NULL CHECK (side IN ('buy', 'sell')),
    type            text NOT NULL CHECK (type IN ('market', 'limit', 'stop', 'stop_limit')),
    qty             numeric(38,8) NOT NULL CHECK (qty > 0),
    limit_price     numeric(38,8) CHECK (limit_price > 0),
    stop_price      numeric(38,8) CHECK (stop_price > 0),
    tif             text NOT NULL CHECK (tif IN ('day', 'gtc', 'ioc', 'fok')),
    source          text NOT NULL CHECK (source IN ('api', 'signal')),
    strategy_id     tb_token,
    signal_id       tb_id,
    reduce_only     boolean NOT NULL DEFAULT false,
    status          text NOT NULL DEFAULT 'new'
                    CHECK (status IN ('new', 'accepted', 'partially_filled', 'filled',
                                      'canceled', 'rejected', 'expired')),
    filled_qty      numeric(38,8) NOT NULL DEFAULT 0,
    leaves_qty      numeric(38,8) GENERATED ALWAYS AS (qty - filled_qty) STORED,
    avg_price       numeric(38,8) CHECK (avg_price > 0),
    -- When a stop or stop-limit order's trigger price was reached.
    triggered_at    timestamptz,
    -- Transition number: 1 when created, +1 per status change (order_events).
    version         integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    reason          text,
    trace_id        text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orders_client_order_id_key UNIQUE (account, client_order_id),
    CONSTRAINT orders_limit_price_by_type
        CHECK ((type IN ('limit', 'stop_limit')) = (limit_price IS NOT NULL)),
    CONSTRAINT orders_stop_price_by_type
        CHECK ((type IN ('stop', 'stop_limit')) = (stop_price IS NOT NULL)),
    CONSTRAINT orders_filled_range CHECK (filled_qty >= 0 AND filled_qty <= qty),
    CONSTRAINT orders_filled_status CHECK (
        (status <> 'filled' OR filled_qty = qty) AND
        (status <> 'partially_filled' OR (filled_qty > 0 AND filled_qty < qty)) AND
        (status NOT IN ('new', 'accepted') OR filled_qty = 0)),
    CONSTRAINT orders_avg_price_when_filled CHECK (filled_qty = 0 OR avg_price IS NOT NULL),
    CONSTRAINT orders_signal_source CHECK (signal_id IS NULL OR source = 'signal')
);
COMMENT ON TABLE orders IS
    'Orders, the resting book included; committed before anyone is told they exist.';
COMMENT ON COLUMN orders.version IS 'Transition number, equal to the latest order_events.version.';
CREATE TRIGGER orders_touch BEFORE UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION tb_touch_updated_at();
-- A signal turns into at most one order.
CREATE UNIQUE INDEX orders_signal_id_key ON orders (signal_id) WHERE signal_id IS NOT NULL;
CREATE INDEX orders_account_created_idx ON orders (account, created_at DESC);
-- The resting book: open orders per symbol (matched against every tick)
-- and per account (max_open_orders, kill switch cancels).
CREATE INDEX orders_open_symbol_idx ON orders (symbol, created_at)
    WHERE status IN ('new', 'accepted', 'partially_filled');
CREATE INDEX orders_open_account_idx ON orders (account)
    WHERE status IN ('new', 'accepted', 'partially_filled');

CREATE TABLE order_events (
    order_id   tb_id NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    version    integer NOT NULL CHECK (version >= 1),
    status     text NOT NULL
               CHECK (status IN ('new', 'accepted', 'partially_filled', 'filled',
                                 'canceled', 'rejected', 'expired')),
    filled_qty numeric(38,8) NOT NULL DEFAULT 0 CHECK (filled_qty >= 0),
    avg_price  numeric(38,8),
    reason     text,
    trace_id   text,
    at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, version)
);
COMMENT ON TABLE order_events IS 'Every status transition of an order (orders.status events).';

CREATE TABLE fills (
    fill_id     tb_id PRIMARY KEY,
    order_id    tb_id NOT NULL REFERENCES orders (order_id),
    account     tb_token NOT NULL REFERENCES accounts (id),
    symbol      tb_token NOT NULL,
    side        text NOT NULL CHECK (side IN ('buy', 'sell')),
    qty         numeric(38,8) NOT NULL CHECK (qty > 0),
    price       numeric(38,8) NOT NULL CHECK (price > 0),
    -- Charged in cash units; negative for a rebate.
    fee         numeric(38,8) NOT NULL DEFAULT 0,
    liquidity   text CHECK (liquidity IN ('maker', 'taker')),
    strategy_id tb_token,
    ts          timestamptz NOT NULL,
    trace_id    text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE fills IS 'Executions; fill_id is also the JetStream Nats-Msg-Id.';
CREATE INDEX fills_order_idx ON fills (order_id);
CREATE INDEX fills_account_ts_idx ON fills (account, ts DESC);
CREATE INDEX fills_symbol_ts_idx ON fills (symbol, ts DESC);

-- ---------------------------------------------------------- positions --

CREATE TABLE positions (
    account      tb_token NOT NULL REFERENCES accounts (id),
    symbol       tb_token NOT NULL,
    qty          numeric(38,8) NOT NULL DEFAULT 0,  -- signed: short < 0
    avg_cost     numeric(38,8) NOT NULL DEFAULT 0 CHECK (avg_cost >= 0),
    realized_pnl numeric(38,8) NOT NULL DEFAULT 0,
    fees         numeric(38,8) NOT NULL DEFAULT 0,  -- cumulative, this symbol
    last_price   numeric(38,8) CHECK (last_price > 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, symbol)
);
COMMENT ON TABLE positions IS 'Positions per account and symbol, kept by position-management.';
CREATE TRIGGER positions_touch BEFORE UPDATE ON positions
    FOR EACH ROW EXECUTE FUNCTION tb_touch_updated_at();

-- position-management's idempotency: a fill changes positions and cash only
-- in the transaction that inserts its row here.
CREATE TABLE applied_fills (
    fill_id    tb_id PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- ------------------------------------------------------ messaging ----

-- Transactional outbox: a service inserts the event it must publish in the
-- transaction that records it; a relay publishes unpublished rows with
-- Nats-Msg-Id = msg_id and sets published_at once the publish is confirmed.
-- Workers claim rows with SELECT ... FOR UPDATE SKIP LOCKED.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    producer     text NOT NULL DEFAULT '',  -- service that wrote the row
    subject      text NOT NULL CHECK (subject <> ''),
    msg_id       text NOT NULL UNIQUE,      -- Nats-Msg-Id, e.g. order_id, fill_id
    payload      bytea NOT NULL,            -- msgpack body
    headers      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(headers) = 'object'),
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
COMMENT ON TABLE outbox IS 'Events recorded but not yet confirmed published (transactional outbox).';
CREATE INDEX outbox_pending_idx ON outbox (producer, id) WHERE published_at IS NULL;

-- Generic consumer idempotency: (consumer, msg_id) inserted in the same
-- transaction as the message's effect; a duplicate insert means "already done".
CREATE TABLE processed_messages (
    consumer     text NOT NULL,
    msg_id       text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, msg_id)
);
CREATE INDEX processed_messages_at_idx ON processed_messages (processed_at);

-- --------------------------------------------------------- strategies --

CREATE TABLE strategies (
    strategy_id tb_token PRIMARY KEY,
    kind        text NOT NULL
                CHECK (kind IN ('sma_cross', 'ema_cross', 'rsi', 'bollinger', 'donchian')),
    symbol      tb_token NOT NULL,
    account     tb_token NOT NULL REFERENCES accounts (id),
    params      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(params) = 'object'),
    enabled     boolean NOT NULL DEFAULT true,
    sizing      text NOT NULL DEFAULT 'fixed' CHECK (sizing IN ('fixed', 'target')),
    qty         numeric(38,8) CHECK (qty > 0),     -- order size (sizing = fixed)
    target      numeric(38,8) CHECK (target >= 0), -- position size (sizing = target)
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT strategies_sizing_value CHECK (
        (sizing = 'fixed' AND qty IS NOT NULL) OR (sizing = 'target' AND target IS NOT NULL))
);
COMMENT ON TABLE strategies IS 'Strategy configuration read by signal-processing.';
CREATE TRIGGER strategies_touch BEFORE UPDATE ON strategies
    FOR EACH ROW EXECUTE FUNCTION tb_touch_updated_at();
CREATE INDEX strategies_enabled_symbol_idx ON strategies (symbol) WHERE enabled;
CREATE INDEX strategies_account_idx ON strategies (account);

-- Signals outlive the strategy that made them: no foreign key.
CREATE TABLE signals (
    signal_id   tb_id PRIMARY KEY,  -- deterministic: strategy, symbol, tick sequence
    strategy_id tb_token NOT NULL,
    account     tb_token NOT NULL,
    symbol      tb_token NOT NULL,
    side        text NOT NULL CHECK (side IN ('buy', 'sell')),
    sizing      text NOT NULL CHECK (sizing IN ('fixed', 'target')),
    qty         numeric(38,8),
    target      numeric(38,8),
    ref_price   numeric(38,8) NOT NULL CHECK (ref_price > 0),
    tick_seq    bigint NOT NULL CHECK (tick_seq >= 0),
    reason      text,
    ts          timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE signals IS 'Trading intents produced by strategies.';
CREATE INDEX signals_account_ts_idx ON signals (account, ts DESC);
CREATE INDEX signals_strategy_ts_idx ON signals (strategy_id, ts DESC);

-- --------------------------------------------------------------- bars --

CREATE TABLE bars (
    symbol   tb_token NOT NULL,
    interval text NOT NULL CHECK (interval IN ('1s', '1m', '5m', '1h', '1d')),
    start    timestamptz NOT NULL,
    open     numeric(38,8) NOT NULL,
    high     numeric(38,8) NOT NULL,
    low      numeric(38,8) NOT NULL,
    close    numeric(38,8) NOT NULL,
    volume   numeric(38,8) NOT NULL DEFAULT 0 CHECK (volume >= 0),
    ticks    bigint NOT NULL DEFAULT 0 CHECK (ticks >= 0),
    PRIMARY KEY (symbol, interval, start),
    CONSTRAINT bars_ohlc CHECK (low <= open AND low <= close AND high >= open AND high >= close)
);
COMMENT ON TABLE bars IS 'OHLCV bars aggregated by historical-data (or imported from CSV).';

-- ---------------------------------------------------------- analytics --

CREATE TABLE equity (
    account        tb_token NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    ts             timestamptz NOT NULL,
    equity         numeric(38,8) NOT NULL,
    cash           numeric(38,8) NOT NULL,
    realized_pnl   numeric(38,8),
    unrealized_pnl numeric(38,8),
    PRIMARY KEY (account, ts)
);
COMMENT ON TABLE equity IS 'Equity curve samples per account, kept by analytics.';

-- ------------------------------------------------------ notifications --

CREATE TABLE alert_rules (
    rule_id       tb_id PRIMARY KEY,
    name          text NOT NULL DEFAULT '',
    -- e.g. fill, risk_reject, drawdown, price_above, price_below.
    kind          tb_token NOT NULL,
    severity      text NOT NULL DEFAULT 'info' CHECK (severity IN ('info', 'warning', 'critical')),
    account       tb_token,  -- NULL: every account
    symbol        tb_token,  -- NULL: every symbol
    threshold     numeric(38,8),
    params        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(params) = 'object'),
    enabled       boolean NOT NULL DEFAULT true,
    cooldown_s    integer NOT NULL DEFAULT 60 CHECK (cooldown_s >= 0),
    last_fired_at timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE alert_rules IS 'Rules notifications evaluates against events.';
CREATE TRIGGER alert_rules_touch BEFORE UPDATE ON alert_rules
    FOR EACH ROW EXECUTE FUNCTION tb_touch_updated_at();
CREATE INDEX alert_rules_kind_idx ON alert_rules (kind) WHERE enabled;

CREATE TABLE alerts (
    alert_id tb_id PRIMARY KEY,
    rule_id  tb_id,  -- the rule that fired, if any (kept when the rule goes)
    severity text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    kind     tb_token NOT NULL,
    account  tb_token,
    symbol   tb_token,
    message  text NOT NULL,
    trace_id text,
    ts       timestamptz NOT NULL
);
COMMENT ON TABLE alerts IS 'Alerts raised (alerts.<severity>.<kind> events).';
CREATE INDEX alerts_ts_idx ON alerts (ts DESC);
CREATE INDEX alerts_account_ts_idx ON alerts (account, ts DESC);

CREATE TABLE webhooks (
    id          tb_id PRIMARY KEY,
    url         text NOT NULL CHECK (url ~ '^https?://'),
    -- HMAC key for the signature header; returned only when created.
    secret      text NOT NULL CHECK (secret <> ''),
    -- Event kinds delivered (e.g. fill, alert, risk_decision); empty: all.
    events      text[] NOT NULL DEFAULT '{}',
    account     tb_token,  -- NULL: every account
    description text NOT NULL DEFAULT '',
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE webhooks IS 'Webhook subscriptions.';

-- Durable webhook deliveries: at least once, with the idempotency key as a
-- header, retried with backoff until delivered or dead-lettered.
CREATE TABLE webhook_outbox (
    id              bigserial PRIMARY KEY,
    webhook_id      tb_id NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        text NOT NULL,
    event_type      text NOT NULL DEFAULT '',
    idempotency_key text NOT NULL UNIQUE,
    payload         jsonb NOT NULL,
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status     integer,  -- HTTP status of the last attempt
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    dead_at         timestamptz,
    CONSTRAINT webhook_outbox_event_key UNIQUE (webhook_id, event_id),
    CONSTRAINT webhook_outbox_final CHECK (delivered_at IS NULL OR dead_at IS NULL)
);
COMMENT ON TABLE webhook_outbox IS
    'Webhook deliveries; pending while delivered_at and dead_at are NULL; dead_at marks a dead letter.';
CREATE INDEX webhook_outbox_due_idx ON webhook_outbox (next_attempt_at)
    WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX webhook_outbox_dead_idx ON webhook_outbox (dead_at) WHERE dead_at IS NOT NULL;
