// Browser test of the Sallyport dashboard, in Debian's chromium driven by playwright-core.
// Usage: node dashboard.mjs <base-url> <screenshot-dir>
// Env: SP_USER / SP_PASSWORD (an operator login), SP_TOKEN (operator bearer token for the
// live-update trigger), SP_PARTNER / SP_PARTNER_PASSWORD (a partner-force login), CHROMIUM (binary).
// Prints one line per check and "N passed, M failed"; exits non-zero on any failure.
import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";

const [base, shots = "screenshots"] = process.argv.slice(2);
if (!base) { console.error("usage: node dashboard.mjs <base-url> [screenshot-dir]"); process.exit(2); }
mkdirSync(shots, { recursive: true });
const env = (k, d) => process.env[k] ?? d;
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

let passed = 0, failed = 0;
async function check(name, fn) {
  try { await fn(); passed++; console.log(`ok   ${name}`); }
  catch (e) { failed++; console.log(`FAIL ${name}: ${e.message.split("\n")[0]}`); }
}
function assert(c, msg) { if (!c) throw new Error(msg); }

async function axe(page, name) {
  await page.addScriptTag({ content: axeSource });
  const r = await page.evaluate(async () => await window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "best-practice"] }));
  const bad = r.violations.filter((v) => v.impact === "serious" || v.impact === "critical" || v.impact === "moderate");
  for (const v of bad) console.log(`     axe ${name}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.length}× e.g. ${v.nodes[0]?.target})`);
  assert(bad.length === 0, `${bad.length} accessibility violations on ${name}`);
}

const profile = mkdtempSync(join(tmpdir(), "sp-chromium-"));
// A fresh profile directory (playwright passes it as --user-data-dir).
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: env("CHROMIUM", "/usr/bin/chromium"),
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
  viewport: { width: 1400, height: 1000 },
  acceptDownloads: true,
});
try {
  const page = ctx.pages()[0] ?? await ctx.newPage();
  page.setDefaultTimeout(15000);
  const external = [];
  page.on("request", (r) => { if (!r.url().startsWith(base)) external.push(r.url()); });

  await check("unauthenticated visit is sent to the login page", async () => {
    await page.goto(base + "/");
    assert(page.url().endsWith("/login"), `landed on ${page.url()}`);
    await page.screenshot({ path: join(shots, "login.png") });
  });
  await check("login page is accessible", () => axe(page, "login"));

  await check("wrong password is refused", async () => {
    await page.fill("#username", env("SP_USER", "operator"));
    await page.fill("#password", "not-the-password");
    await page.click("button[type=submit]");
    assert(await page.isVisible(".error"), "no error shown");
  });

  await check("log in and see the map and the numbers", async () => {
    await page.fill("#username", env("SP_USER", "operator"));
    await page.fill("#password", env("SP_PASSWORD", ""));
    await Promise.all([page.waitForURL(base + "/"), page.click("button[type=submit]")]);
    const countries = await page.locator("#map path.country").count();
    assert(countries >= 10, `only ${countries} countries drawn`);
    const sites = await page.locator("#map g.site").count();
    const ov = await page.evaluate(async () => (await fetch("/api/v1/overview")).json());
    assert(sites === ov.sites.length && sites > 5, `${sites} sites drawn, API has ${ov.sites.length}`);
    const total = Number(await page.textContent("#kpi-total"));
    assert(total === ov.total_in_custody && total > 0, `KPI shows ${total}, API ${ov.total_in_custody}`);
    const rows = await page.locator("#headcounts tbody tr").count();
    assert(rows === ov.sites.length, `${rows} headcount rows`);
    const basis = await page.textContent("#threat-basis");
    assert(basis.includes(ov.threat_basis.slice(0, 40)), `threat basis shown: ${basis}`);
    await page.waitForFunction(() => document.querySelector("#live-status")?.textContent === "live");
  });

  let before = 0;
  await check("a live update arrives without reloading", async () => {
    before = Number(await page.textContent("#kpi-delivered"));
    const body = { events: [{ seq: 1, person: "P-000001", kind: "arrived", site: env("SP_DEST", "baghdad"), custodian: env("SP_DEST_CUSTODIAN", "IQ-GOV"), at: env("SP_AT", "2026-01-22T10:00:00Z") }] };
    const r = await fetch(base + "/api/v1/devices/web-test/events", {
      method: "POST", headers: { "content-type": "application/json", authorization: "Bearer " + env("SP_TOKEN", "") }, body: JSON.stringify(body),
    });
    assert(r.ok, `sync answered ${r.status}`);
    await page.waitForFunction((b) => Number(document.querySelector("#kpi-delivered").textContent) === b + 1, before);
    await page.waitForFunction(() => [...document.querySelectorAll("#feed li")].some((li) => li.textContent.includes("arrived at")));
  });

  await check("sorties are drawn as they fly", async () => {
    await page.waitForSelector("#sorties circle.plane", { state: "attached" });
    await page.waitForTimeout(600);
    await page.screenshot({ path: join(shots, "picture.png"), fullPage: true });
  });
  await check("picture page is accessible", () => axe(page, "picture"));

  await check("open a person: identity and custody timeline", async () => {
    await page.goto(base + "/people?site=" + env("SP_DEST", "baghdad"));
    await Promise.all([page.waitForURL(/\/people\/P-000001$/), page.click("a[href='/people/P-000001']")]);
    const h1 = await page.textContent("h1");
    const p = await page.evaluate(async () => (await fetch("/api/v1/people/P-000001")).json());
    assert(h1.includes(p.person.identity.name_latin), `heading ${h1}`);
    const items = await page.locator("#timeline li").count();
    assert(items === p.timeline.length && items >= 1, `${items} timeline entries, API ${p.timeline.length}`);
    await page.screenshot({ path: join(shots, "person.png"), fullPage: true });
  });
  await check("person page is accessible", () => axe(page, "person"));

  await check("schedule: sorties per aircraft from the stored plan, progress against plan", async () => {
    await page.goto(base + "/schedule");
    const sched = await page.evaluate(async () => (await fetch("/api/v1/schedule")).json());
    assert(sched.plan !== null, "no plan in the API");
    const want = sched.aircraft.reduce((n, a) => n + a.sorties.length, 0);
    const bars = await page.locator("svg#gantt rect.sortie").count();
    assert(bars === want && bars === sched.plan.sorties && bars > 50, `${bars} sortie bars, API ${want}, plan ${sched.plan.sorties}`);
    const rows = await page.locator("svg#gantt text.rowlabel").count();
    assert(rows === sched.aircraft.length, `${rows} aircraft lines, API ${sched.aircraft.length}`);
    const origins = await page.locator("#origins-chart rect.span").count();
    assert(origins === sched.origins.length && origins === 7, `${origins} origin bars`);
    assert(await page.locator("svg.chart polyline.actual").count() === 1, "no progress line");
    const planned = await page.locator("svg.chart rect.pbar").count();
    assert(planned > 5, `${planned} planned-per-day bars`);
    await page.screenshot({ path: join(shots, "schedule.png"), fullPage: true });
  });
  await check("schedule page is accessible", () => axe(page, "schedule"));

  await check("sitrep page and PDF download", async () => {
    await page.goto(base + "/sitrep?date=" + env("SP_AT", "2026-01-22T10:00:00Z").slice(0, 10));
    const delivered = Number(await page.textContent("#sitrep-delivered"));
    assert(delivered === before + 1, `sitrep shows ${delivered} delivered, expected ${before + 1}`);
    await page.screenshot({ path: join(shots, "sitrep.png"), fullPage: true });
    const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#sitrep-pdf")]);
    const file = join(shots, "sitrep.pdf");
    await dl.saveAs(file);
    const head = readFileSync(file).subarray(0, 5).toString();
    assert(head === "%PDF-", `download starts with ${JSON.stringify(head)}`);
  });
  await check("sitrep page is accessible", () => axe(page, "sitrep"));

  await check("a partner sees a person's custody but not their risk or intelligence notes", async () => {
    await ctx.clearCookies();
    const vp = await ctx.newPage();
    await vp.goto(base + "/login");
    await vp.fill("#username", env("SP_PARTNER", "partner"));
    await vp.fill("#password", env("SP_PARTNER_PASSWORD", ""));
    await Promise.all([vp.waitForURL(base + "/"), vp.click("button[type=submit]")]);
    const r = await vp.goto(base + "/people/P-000001");
    assert(r.status() === 200, `partner got ${r.status()}`);
    const at = await vp.textContent("#now-at");
    assert(at.includes("custody of"), `now-at: ${at}`);
    const risk = await vp.textContent("#risk");
    assert(risk.includes("withheld"), `risk shown to the partner: ${risk}`);
    assert(await vp.locator("#intel-notes").count() === 0, "intelligence notes shown to the partner");
    const api = await vp.evaluate(async () => (await fetch("/api/v1/people/P-000001")).json());
    assert(api.person.risk === undefined && api.person.intel_notes.length === 0, "API leaks risk or notes");
    await vp.screenshot({ path: join(shots, "person-partner.png"), fullPage: true });
    await vp.close();
  });

  await check("no request left the server (offline)", async () => {
    assert(external.length === 0, `external requests: ${external.slice(0, 3).join(", ")}`);
  });
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
writeFileSync(join(shots, "result.txt"), `${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);
