-- 0703 the latest mark of every symbol, kept by position-management.
--
-- positions.last_price is moved by ticks (pos_marks.c) only for positions
-- that exist when the mark is written. In a replay the fills of a symbol
-- arrive after its last ticks, so a position opened then would keep no mark
-- (or an older one) depending on how fast the machine was. The newest mark
-- per symbol (by tick time) is kept here in the same statement that marks
-- the positions, and booking a fill takes it over when it is newer than the
-- position's own, so a settled replay ends with the same marks however it
-- was timed.
CREATE TABLE IF NOT EXISTS pos_symbol_marks (
    symbol text PRIMARY KEY,
    price numeric NOT NULL,
    mark_ts timestamptz NOT NULL
);
