-- Monthly aggregates group by the month of a timestamp. Without statistics on that expression
-- Postgres guesses one group per row, sorts every row to group them, and a year of a busy
-- tenant's orders spends most of its time in that sort; knowing there are a few dozen months
-- it hashes them instead (about a third faster on the bench dataset).
CREATE STATISTICS orders_ordered_month ON (date_trunc('month', ordered_at, 'UTC')) FROM orders;
ANALYZE orders;
