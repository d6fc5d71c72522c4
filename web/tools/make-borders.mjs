// Regenerates web/data/borders.geojson: Natural Earth 1:50m admin-0 countries
// (via the npm package world-atlas@2, TopoJSON) for Syria, Iraq and their
// neighbours, coordinates rounded to 0.01 degree (about 1 km).
// Usage (outside the repo): npm install world-atlas@2 topojson-client@3 &&
//   node make-borders.mjs node_modules/world-atlas/countries-50m.json > borders.geojson
import { readFileSync } from "node:fs";
import { feature } from "topojson-client";

const KEEP = new Set(["Syria", "Iraq", "Turkey", "Jordan", "Lebanon", "Israel", "Palestine",
  "Saudi Arabia", "Iran", "Kuwait", "Cyprus", "N. Cyprus", "Egypt", "Armenia", "Azerbaijan", "Georgia"]);
const topo = JSON.parse(readFileSync(process.argv[2], "utf8"));
const all = feature(topo, topo.objects.countries);
const round = (c) => Array.isArray(c[0]) ? c.map(round) : [Math.round(c[0] * 100) / 100, Math.round(c[1] * 100) / 100];
const dedup = (ring) => ring.filter((p, i) => i === 0 || p[0] !== ring[i - 1][0] || p[1] !== ring[i - 1][1]);
const features = all.features.filter((f) => KEEP.has(f.properties.name)).map((f) => {
  const g = f.geometry;
  const polys = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
  return {
    type: "Feature",
    properties: { name: f.properties.name, iso_n3: f.id },
    geometry: { type: "MultiPolygon", coordinates: polys.map((p) => p.map((r) => dedup(round(r))).filter((r) => r.length >= 4)) },
  };
});
process.stdout.write(JSON.stringify({ type: "FeatureCollection", features }) + "\n");
