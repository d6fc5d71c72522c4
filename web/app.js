// Sallyport dashboard: keeps a server-rendered page live over Server-Sent Events.
// Without this script every page still shows the picture as of its loading.
"use strict";
(() => {
  const $ = (s) => document.querySelector(s);
  const status = $("#live-status");
  const xy = (() => { try { return JSON.parse($("#site-xy")?.textContent || "{}"); } catch { return {}; } })();
  const svgNS = "http://www.w3.org/2000/svg";
  const sorties = new Map();
  let pending = null;

  function feed(text) {
    const list = $("#feed");
    if (!list) return;
    const li = document.createElement("li");
    li.textContent = `${new Date().toISOString().slice(11, 19)} ${text}`;
    list.prepend(li);
    while (list.children.length > 50) list.lastChild.remove();
  }

  async function refresh() {
    if (pending) return;
    pending = setTimeout(async () => {
      pending = null;
      try {
        const r = await fetch("/api/v1/overview", { credentials: "same-origin" });
        if (!r.ok) return;
        const ov = await r.json();
        const set = (id, v) => { const e = document.getElementById(id); if (e) e.textContent = v; };
        set("kpi-total", ov.total_in_custody);
        set("kpi-origins", ov.at_origins);
        set("kpi-transit", ov.in_transit);
        set("kpi-delivered", ov.delivered);
        set("generated", ov.generated_at.replace("T", " ").slice(0, 19) + " UTC");
        if (ov.operation_state) set("op-state", ov.operation_state);
        set("headcount-source", ov.headcount_source);
        for (const s of ov.sites) {
          document.querySelectorAll(`[data-held="${CSS.escape(s.id)}"]`).forEach((e) => { e.textContent = s.held_now; });
          const cell = document.querySelector(`tr[data-row="${CSS.escape(s.id)}"] [data-cell="held"]`);
          if (cell) cell.textContent = s.held_now;
        }
      } catch (e) { /* next event retries */ }
    }, 300);
  }

  // On the schedule page: re-colour the Gantt bars by the operation clock; a
  // different plan in force means a different chart, so the page reloads.
  let schedPending = null;
  function refreshSchedule() {
    const gantt = document.getElementById("gantt");
    if (!gantt || schedPending) return;
    schedPending = setTimeout(async () => {
      schedPending = null;
      try {
        const r = await fetch("/api/v1/schedule", { credentials: "same-origin" });
        if (!r.ok) return;
        const s = await r.json();
        if (String(s.plan?.id ?? "") !== (gantt.dataset.plan ?? "")) { location.reload(); return; }
        for (const a of s.aircraft) for (const b of a.sorties) {
          const el = gantt.querySelector(`rect[data-sortie="${CSS.escape(b.name)}"]`);
          if (el) el.setAttribute("class", `sortie s-${b.status}`);
        }
        const set = (id, v) => { const e = document.getElementById(id); if (e) e.textContent = v; };
        set("sorties-landed", s.sorties_landed);
        set("planned-by-now", s.planned_delivered_by_now);
        set("delivered-now", s.delivered);
        set("sched-clock", `${s.now.replace("T", " ").slice(0, 16)} UTC (${s.clock})`);
      } catch (e) { /* next event retries */ }
    }, 400);
  }

  function drawSortie(ev) {
    const a = xy[ev.from], b = xy[ev.to];
    const layer = $("#sorties"), routes = $("#routes");
    if (!a || !b || !layer) return;
    let s = sorties.get(ev.sortie);
    if (!s) {
      const line = document.createElementNS(svgNS, "line");
      line.setAttribute("class", "route");
      line.setAttribute("x1", a[0]); line.setAttribute("y1", a[1]);
      line.setAttribute("x2", b[0]); line.setAttribute("y2", b[1]);
      routes.appendChild(line);
      const plane = document.createElementNS(svgNS, "circle");
      plane.setAttribute("r", 7); plane.setAttribute("class", "plane");
      plane.setAttribute("data-sortie", ev.sortie);
      const title = document.createElementNS(svgNS, "title");
      plane.appendChild(title);
      layer.appendChild(plane);
      s = { line, plane, title };
      sorties.set(ev.sortie, s);
    }
    const p = Math.max(0, Math.min(1, ev.progress));
    s.plane.setAttribute("cx", a[0] + (b[0] - a[0]) * p);
    s.plane.setAttribute("cy", a[1] + (b[1] - a[1]) * p);
    s.title.textContent = `${ev.sortie} ${ev.aircraft} ${ev.from}→${ev.to}, ${ev.people} people, ${ev.status}`;
    if (ev.status === "landed" || ev.status === "cancelled") {
      setTimeout(() => { s.line.remove(); s.plane.remove(); sorties.delete(ev.sortie); }, 4000);
    }
  }

  if (!status || !window.EventSource) return;
  const es = new EventSource("/api/v1/live");
  es.addEventListener("hello", () => { status.textContent = "live"; });
  es.onerror = () => { status.textContent = "reconnecting…"; };
  es.addEventListener("custody", (m) => {
    const e = JSON.parse(m.data);
    feed(`${e.people} ${e.kind} at ${e.site} (custody ${e.custodian})`);
    refresh();
  });
  es.addEventListener("sortie_progress", (m) => {
    const e = JSON.parse(m.data);
    drawSortie(e);
    if (e.status !== "airborne") feed(`sortie ${e.sortie} ${e.status} ${e.from}→${e.to}`);
  });
  es.addEventListener("alert", (m) => {
    const e = JSON.parse(m.data);
    const list = $("#alerts");
    if (list) {
      list.querySelector(".none")?.remove();
      const li = document.createElement("li");
      li.className = `sev-${e.severity}`;
      li.textContent = `${e.severity} ${e.site || ""} ${e.message}`;
      list.prepend(li);
    }
    feed(`alert: ${e.message}`);
    refresh();
  });
  es.addEventListener("refresh", () => { refresh(); refreshSchedule(); });
  es.addEventListener("day", (m) => {
    const e = JSON.parse(m.data);
    feed(`day ${e.day} (${e.date}) ended: ${e.moved} moved (plan ${e.planned}), ${e.arrived_total} at the destination, ${e.sorties_flown} sorties, ${e.replans_total} re-plans`);
    refresh();
    refreshSchedule();
  });
})();
