-- Transfer planner: every plan computed or re-planned, newest last.
-- json = the Plan (sallyport_planner::Plan), problem_json = the Problem it was
-- made for (re-planning events accumulate there).
CREATE TABLE plans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_ms BIGINT NOT NULL,
    seed BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('solve', 'replan', 'import')),
    note TEXT NOT NULL,
    json TEXT NOT NULL,
    problem_json TEXT NOT NULL
);
