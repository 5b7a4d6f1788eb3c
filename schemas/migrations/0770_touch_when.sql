-- 0770 updated_at triggers: PL/pgSQL only for an update that did not set
-- updated_at itself.
--
-- tb_touch_updated_at() stamps now() when an update left updated_at as it
-- was. As a plain BEFORE UPDATE trigger it ran its PL/pgSQL function for
-- every updated row, also for the order path's updates of orders,
-- positions and accounts (three calls an order). The same condition as a
-- WHEN clause is evaluated by the executor without calling the function,
-- so an update that sets updated_at (the order path's now do) costs no
-- call, and every other writer is stamped exactly as before.
CREATE OR REPLACE TRIGGER accounts_touch BEFORE UPDATE ON accounts FOR EACH ROW
    WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
    EXECUTE FUNCTION tb_touch_updated_at();
CREATE OR REPLACE TRIGGER risk_limits_touch BEFORE UPDATE ON risk_limits FOR EACH ROW
    WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
    EXECUTE FUNCTION tb_touch_updated_at();
CREATE OR REPLACE TRIGGER risk_global_touch BEFORE UPDATE ON risk_global FOR EACH ROW
    WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
    EXECUTE FUNCTION tb_touch_updated_at();
CREATE OR REPLACE TRIGGER symbols_touch BEFORE UPDATE ON symbols FOR EACH ROW
    WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
    EXECUTE FUNCTION tb_touch_updated_at();
CREATE OR REPLACE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW
    WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
    EXECUTE FUNCTION tb_touch_updated_at();
CREATE OR REPLACE TRIGGER positions_touch BEFORE UPDATE ON positions FOR EACH ROW
    WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
    EXECUTE FUNCTION tb_touch_updated_at();
CREATE OR REPLACE TRIGGER strategies_touch BEFORE UPDATE ON strategies FOR EACH ROW
    WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
    EXECUTE FUNCTION tb_touch_updated_at();
CREATE OR REPLACE TRIGGER alert_rules_touch BEFORE UPDATE ON alert_rules FOR EACH ROW
    WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
    EXECUTE FUNCTION tb_touch_updated_at();
