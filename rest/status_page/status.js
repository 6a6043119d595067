// The status page: polls the node's JSON API and fills the page. No framework,
// no build step, nothing from outside this node.
"use strict";

const POLL_MS = 2000;
const SAMPLES = 60;
const rates = [];
let last = null; // {t, queries} of the previous poll
const errors = new Map();

const $ = (id) => document.getElementById(id);
function text(id, value) { $(id).textContent = value; }

function showErrors() {
  const el = $("error");
  const all = [...errors.values()];
  el.hidden = all.length === 0;
  el.textContent = all.join(" · ");
}

async function getJson(path) {
  const res = await fetch(path, { cache: "no-store" });
  let body = null;
  try { body = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    const why = body && body.error ? body.error : res.statusText;
    const err = new Error(`${path}: HTTP ${res.status} ${why}`);
    err.status = res.status;
    throw err;
  }
  return body;
}

function duration(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  const d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600);
  const m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

function ago(unix) {
  return duration(Date.now() / 1000 - unix) + " ago";
}

function drawSpark() {
  const c = $("spark");
  const ctx = c.getContext("2d");
  const w = c.width, h = c.height;
  ctx.clearRect(0, 0, w, h);
  ctx.strokeStyle = "#e6e9ed";
  ctx.beginPath(); ctx.moveTo(0, h - 0.5); ctx.lineTo(w, h - 0.5); ctx.stroke();
  if (rates.length < 2) return;
  const max = Math.max(1, ...rates);
  const step = w / (SAMPLES - 1);
  const x0 = w - step * (rates.length - 1);
  ctx.beginPath();
  rates.forEach((r, i) => {
    const x = x0 + i * step, y = h - 2 - (h - 6) * r / max;
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.lineWidth = 2;
  ctx.strokeStyle = "#1f6feb";
  ctx.stroke();
  ctx.lineTo(x0 + (rates.length - 1) * step, h); ctx.lineTo(x0, h); ctx.closePath();
  ctx.fillStyle = "rgba(31, 111, 235, 0.12)";
  ctx.fill();
}

async function pollStatus() {
  const s = await getJson("/api/v1/status");
  text("label", s.label || "(gateway)");
  document.title = `pWeb Home Agent ${s.label || "gateway"}`;
  text("mode", s.mode || "agent");
  text("version", s.version);
  text("uptime", duration(Date.now() / 1000 - s.started));
  text("zones", (s.zones || []).join(", "));
  text("addresses", (s.addresses && s.addresses.length) ? s.addresses.join(", ") : "none published");
  const p = s.ports || {};
  text("ports", `DNS ${p.dns ?? "?"} · HTTP ${p.http ?? "?"} · gateway ${p.gateway || "-"}`);
  text("peers", String(s.peers ?? 0));
  text("device-count", String(s.devices));
  const udp = s.dns.udp_queries, tcp = s.dns.tcp_queries, total = udp + tcp;
  text("udp", udp.toLocaleString()); text("tcp", tcp.toLocaleString());
  text("queries-total", total.toLocaleString());
  const now = performance.now();
  if (last) {
    const secs = (now - last.t) / 1000;
    const rate = secs > 0 ? Math.max(0, total - last.queries) / secs : 0;
    rates.push(rate);
    if (rates.length > SAMPLES) rates.shift();
    text("qps", rate < 10 ? rate.toFixed(1) : Math.round(rate).toLocaleString());
    drawSpark();
  } else {
    text("qps", "0");
  }
  last = { t: now, queries: total };
}

async function pollDevices() {
  const body = $("devices");
  let doc;
  try {
    doc = await getJson("/api/v1/devices?limit=50");
  } catch (e) {
    if (e.status === 404) { // a gateway keeps no devices
      body.innerHTML = '<tr><td colspan="4" class="muted">no devices here (gateway)</td></tr>';
      return;
    }
    throw e;
  }
  const rows = doc.devices.map((d) => {
    const tr = document.createElement("tr");
    const when = new Date(d.updated * 1000).toISOString().replace(".000", "");
    for (const v of [d.name, d.ipv4 || "–", d.ipv6 || "–", `${ago(d.updated)} (${when})`]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    }
    return tr;
  });
  if (rows.length === 0) {
    body.innerHTML = '<tr><td colspan="4" class="muted">no devices registered yet</td></tr>';
  } else {
    body.replaceChildren(...rows);
  }
  text("devices-more", doc.next_cursor ? "(first 50; more via /api/v1/devices)" : "");
}

async function pollNeighbors() {
  const list = $("neighbors");
  let doc;
  try {
    doc = await getJson("/api/v1/neighbors");
  } catch (e) {
    if (e.status === 503) {
      list.innerHTML = '<li class="muted">not in the DHT (gateway)</li>';
      return;
    }
    throw e;
  }
  if (doc.neighbors.length === 0) {
    list.innerHTML = '<li class="muted">none yet</li>';
    return;
  }
  list.replaceChildren(...doc.neighbors.map((n) => {
    const li = document.createElement("li");
    li.textContent = `${n.address}  ${n.id.slice(0, 16)}…`;
    return li;
  }));
}

async function poll(name, fn) {
  try {
    await fn();
    errors.delete(name);
  } catch (e) {
    errors.set(name, e.message || String(e));
  }
  showErrors();
}

function tick() {
  poll("status", pollStatus);
  poll("devices", pollDevices);
  poll("neighbors", pollNeighbors);
}

tick();
setInterval(tick, POLL_MS);
