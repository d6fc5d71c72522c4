-- The running operation as the server shows it (SQLite): the current run (one row)
-- (the demo, or `sallyport run`, records it as days pass) and each operation
-- day's report (JSON = sallyport_server::operation::OperationDay). The day's
-- end (end_ms, simulated time) is the dashboard's operation clock.
CREATE TABLE server_operation_run (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    label TEXT NOT NULL CHECK (length(label) > 0),
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    started_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE server_operation_days (
    day BIGINT PRIMARY KEY CHECK (day >= 0),
    date TEXT NOT NULL,
    end_ms BIGINT NOT NULL,
    json TEXT NOT NULL
);
