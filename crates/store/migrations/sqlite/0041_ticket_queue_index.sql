-- The queue reads tickets in (priority, number) order and keeps those in the wanted states: an
-- index in that order lets both databases stop after a page, where (state, priority, number)
-- made PostgreSQL sort every open ticket (77 ms for 250,000; 0.2 ms with this one).
DROP INDEX tickets_queue;
CREATE INDEX tickets_by_priority ON tickets (priority, number);
