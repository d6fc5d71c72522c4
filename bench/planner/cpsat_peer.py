#!/usr/bin/env python3
"""CP-SAT peer for the Sallyport transfer planner (run with the venv from setup_peer.sh).

Reads the instance exported by `planner-bench SCENARIO export (flagship|scale) FILE.json`
and solves the *aggregate slot model* stated in bench/planner/README.md:

  For every aircraft class c, day d and slot j (fixed departure times from a
  conservative cycle: the class's slowest round trip over the sites it reaches,
  slots per day limited by daylight, daily flight hours and crew duty) and site s:
    w[c,d,j,s] in 0..count_c   aircraft of class c flying slot (d,j) to site s
    x[c,d,j,s] >= 0            people they carry,  x <= capacity[c,s] * w
  sum_s w[c,d,j,s] <= count_c                      (each aircraft flies a slot once)
  sum_{c,j,s} x[c,d,j,s] <= intake[d]              (destination intake per day)
  sum_{c,d,j} x[c,d,j,s] = n_s                     (everyone movable moves)
  slots departing after a site's deadline are not offered (hard deadline)
  minimise  sum exposure[c,d,j,s] * x[c,d,j,s]     (risk exposure, same definition)

Not modelled by the peer (the Rust planner models them): per-manifest guards by
risk class (the peer uses the site's mean guard ratio for capacity), categories
flying apart, separation groups, positioning between sites, per-aircraft
identity and duty across slots.
"""
import json
import sys
import time

from ortools.sat.python import cp_model


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: cpsat_peer.py INSTANCE.json [TIME_LIMIT_S]")
    inst = json.load(open(sys.argv[1]))
    limit = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
    t0 = time.time()
    m = cp_model.CpModel()
    n = inst["people_per_site"]
    count = inst["class_count"]
    intake = {int(k): v for k, v in inst["intake_per_day"].items()}
    deadline = inst["deadline_h"]
    by_site = {}
    by_day = {}
    by_slot = {}
    terms = []
    vars_ = []
    for k, s in enumerate(inst["slots"]):
        site = s["site"]
        if deadline[site] is not None and s["depart_h"] > deadline[site]:
            continue
        c = s["class"]
        cap = s["capacity"]
        if cap <= 0:
            continue
        w = m.NewIntVar(0, count[c], f"w{k}")
        x = m.NewIntVar(0, min(cap * count[c], n[site]), f"x{k}")
        m.Add(x <= cap * w)
        by_site.setdefault(site, []).append(x)
        by_day.setdefault(s["day"], []).append(x)
        by_slot.setdefault((c, s["day"], s["slot"]), []).append(w)
        terms.append((int(round(s["exposure"] * 100)), x))
        vars_.append((s, x))
    for (c, d, j), ws in by_slot.items():
        m.Add(sum(ws) <= count[c])
    for d, xs in by_day.items():
        m.Add(sum(xs) <= intake.get(d, 0))
    infeasible_sites = []
    for site, people in enumerate(n):
        if people == 0:
            continue
        xs = by_site.get(site, [])
        if not xs:
            infeasible_sites.append(inst["site_ids"][site])
            continue
        m.Add(sum(xs) == people)
    m.Minimize(sum(c * x for c, x in terms))
    build_s = time.time() - t0
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = limit
    solver.parameters.num_workers = 2
    solver.parameters.random_seed = 1
    status = solver.Solve(m)
    wall = time.time() - t0
    out = {
        "instance": inst["name"],
        "status": solver.StatusName(status),
        "variables": 2 * len(vars_),
        "build_s": round(build_s, 3),
        "wall_s": round(wall, 3),
        "time_limit_s": limit,
        "unreachable_sites": infeasible_sites,
    }
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        exposure = sum(s["exposure"] * solver.Value(x) for s, x in vars_)
        last = max((s["arrive_h"] for s, x in vars_ if solver.Value(x) > 0), default=inst["start_h"])
        out.update({
            "risk_exposure": exposure,
            "makespan_h": last - inst["start_h"],
            "best_bound_exposure": solver.BestObjectiveBound() / 100.0,
            "people_moved": sum(solver.Value(x) for _, x in vars_),
        })
    print(json.dumps(out))


if __name__ == "__main__":
    main()
