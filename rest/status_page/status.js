// The status page: polls the node's JSON API and fills the page. No framework,
// no build step, nothing from outside this node.
"use strict";

const POLL_MS = 2000;
const TIMEOUT_MS = 10000; // per request
const SAMPLES = 60;
const PAGE = 50; // devices shown: the first page of /api/v1/devices
const rates = []; // q/s between consecutive polls, oldest first
const rateTimes = []; // when each of those intervals began (performance.now())
let last = null; // {t, queries} of the previous poll
let deviceTotal = null; // from /api/v1/status, for "N more"
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
  // Bounded: a node that stops answering shows as an error, the polling goes on.
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  let res, body = null;
  try {
    res = await fetch(path, { cache: "no-store", signal: abort.signal });
    try { body = await res.json(); } catch (e) { if (abort.signal.aborted) throw e; }
  } catch (e) {
    const why = abort.signal.aborted ? `no answer within ${TIMEOUT_MS / 1000} s`
                                     : e.message || "network error";
    throw new Error(`${path}: ${why}`);
  } finally {
    clearTimeout(timer);
  }
  if (!res.ok) {
    const why = body && body.error ? body.error : res.statusText;
    const err = new Error(`${path}: HTTP ${res.status} ${why}`);
    err.status = res.status;
    throw err;
  }
  if (body === null) throw new Error(`${path}: the answer is not JSON`);
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

function qps(rate) {
  return rate < 10 ? rate.toFixed(1) : Math.round(rate).toLocaleString();
}

function ago(unix) {
  return duration(Date.now() / 1000 - unix) + " ago";
}

function drawSpark() {
  const c = $("spark");
  // The bitmap follows the canvas's laid-out size (sharp at any width and zoom).
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, c.clientWidth), h = Math.max(1, c.clientHeight);
  if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
    c.width = Math.round(w * dpr);
    c.height = Math.round(h * dpr);
  }
  const ctx = c.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.strokeStyle = "#e6e9ed";
  ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(0, h - 0.5); ctx.lineTo(w, h - 0.5); ctx.stroke();
  if (rates.length === 0) return;
  // The newest sample at the right edge (room for its dot), older ones leftwards.
  const max = Math.max(1, ...rates);
  const right = w - 4, step = right / (SAMPLES - 1);
  const x = (i) => right - step * (rates.length - 1 - i);
  const y = (r) => h - 2 - (h - 8) * r / max;
  if (rates.length > 1) {
    ctx.beginPath();
    rates.forEach((r, i) => (i === 0 ? ctx.moveTo(x(i), y(r)) : ctx.lineTo(x(i), y(r))));
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#1f6feb";
    ctx.stroke();
    ctx.lineTo(right, h); ctx.lineTo(x(0), h); ctx.closePath();
    ctx.fillStyle = "rgba(31, 111, 235, 0.12)";
    ctx.fill();
  }
  ctx.beginPath();
  ctx.arc(right, y(rates[rates.length - 1]), 3, 0, 2 * Math.PI);
  ctx.fillStyle = "#1f6feb";
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
  deviceTotal = typeof s.devices === "number" ? s.devices : null;
  text("device-count", deviceTotal === null ? "–" : String(deviceTotal));
  const dns = s.dns || {};
  const udp = dns.udp_queries || 0, tcp = dns.tcp_queries || 0, total = udp + tcp;
  text("udp", udp.toLocaleString()); text("tcp", tcp.toLocaleString());
  text("queries-total", total.toLocaleString());
  const now = performance.now();
  if (last) {
    const secs = (now - last.t) / 1000;
    const rate = secs > 0 ? Math.max(0, total - last.queries) / secs : 0;
    rates.push(rate);
    rateTimes.push(last.t);
    if (rates.length > SAMPLES) { rates.shift(); rateTimes.shift(); }
    text("qps", qps(rate));
    const peak = Math.max(...rates);
    text("qps-peak", qps(peak));
    text("qps-window", duration((now - rateTimes[0]) / 1000));
    $("spark").setAttribute("aria-label",
      `query rate over the last ${rates.length} polls, peak ${qps(peak)} q/s`);
    drawSpark();
  } else {
    text("qps", "–"); // a rate needs two polls
  }
  last = { t: now, queries: total };
}

async function pollDevices() {
  const body = $("devices");
  let doc;
  try {
    doc = await getJson(`/api/v1/devices?limit=${PAGE}`);
  } catch (e) {
    if (e.status === 404) { // a gateway keeps no devices
      body.innerHTML = '<tr><td colspan="5" class="muted">no devices here (gateway)</td></tr>';
      return;
    }
    throw e;
  }
  const rows = doc.devices.map((d) => {
    const tr = document.createElement("tr");
    const when = new Date(d.updated * 1000).toISOString().replace(".000", "");
    // RRsets below the device besides its addresses, e.g. "_http._tcp SRV, * TXT".
    const records = Array.isArray(d.rrsets) && d.rrsets.length
      ? d.rrsets.map((r) => `${r.subname} ${r.type}`).join(", ") : "–";
    for (const v of [d.name, d.ipv4 || "–", d.ipv6 || "–", records, `${ago(d.updated)} (${when})`]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    }
    return tr;
  });
  if (rows.length === 0) {
    body.innerHTML = '<tr><td colspan="5" class="muted">no devices registered yet</td></tr>';
  } else {
    body.replaceChildren(...rows);
  }
  let more = "";
  if (doc.next_cursor) {
    const rest = deviceTotal === null ? 0 : deviceTotal - rows.length;
    more = rest > 0 ? `(first ${rows.length}; ${rest.toLocaleString()} more via /api/v1/devices)`
                    : `(first ${rows.length}; more via /api/v1/devices)`;
  }
  text("devices-more", more);
}

async function pollNeighbors() {
  const list = $("neighbors");
  let doc;
  try {
    doc = await getJson("/api/v1/neighbors");
  } catch (e) {
    if (e.status === 503 || e.status === 404) {
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

// The next round starts POLL_MS after this one ended: a slow node is never
// asked faster than it answers. Status first: the devices' "N more" uses it.
async function tick() {
  await poll("status", pollStatus);
  await Promise.all([poll("devices", pollDevices), poll("neighbors", pollNeighbors)]);
  setTimeout(tick, POLL_MS);
}

window.addEventListener("resize", drawSpark);
tick();
