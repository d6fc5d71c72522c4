-- Execution engine: disruptions injected by hand (`sallyport disrupt …`) for
-- the next `sallyport run` to apply. json = sallyport_execution::Disruption.
CREATE TABLE execution_disruptions (
    id BIGSERIAL PRIMARY KEY,
    day BIGINT NOT NULL CHECK (day >= 0),
    kind TEXT NOT NULL,
    json TEXT NOT NULL,
    applied BIGINT NOT NULL DEFAULT 0 CHECK (applied IN (0, 1))
);
