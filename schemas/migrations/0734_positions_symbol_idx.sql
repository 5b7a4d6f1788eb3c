-- 0734 position-management: a symbol's positions found by index.
--
-- A batch of marks (pos_marks.c) locks and revalues every position of the
-- batch's symbols, in (symbol, account) order. Without an index leading with
-- symbol that was a sequential scan of every position of every account at
-- each batch of ticks, growing with the number of accounts. Updates of a
-- position change neither column, so they stay HOT.
CREATE INDEX positions_symbol_idx ON positions (symbol, account);
