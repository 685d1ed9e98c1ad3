// Feishu sandbox console: chats + bot cards + posting as a user + Bases grids. Vanilla JS.
"use strict";

const HEADER_COLORS = {
  blue: "#3370ff", wathet: "#4fc3f7", turquoise: "#14c0aa", green: "#34c724", yellow: "#ffc60a",
  orange: "#ff8800", red: "#f54a45", carmine: "#e12d6b", violet: "#d136d1", purple: "#7f3bf5",
  indigo: "#4954e6", grey: "#8f959e", default: "#ffffff",
};
const FONT_COLORS = { red: "#f54a45", green: "#34c724", blue: "#3370ff", grey: "#8f959e", orange: "#ff8800",
  yellow: "#d4a600", purple: "#7f3bf5", "red-500": "#f54a45", "green-500": "#34c724" };
const PALETTE = ["#3370ff", "#34c724", "#ff8800", "#f54a45", "#7f3bf5", "#14c0aa", "#ffc60a", "#e12d6b"];

const PARAMS = new URLSearchParams(location.search);
// the reader's client language: a card's texts show their i18n_content for it, else content
const state = { info: null, chat: null, users: {}, sig: "", lang: PARAMS.get("lang") || "zh_cn" };
const $ = (id) => document.getElementById(id);
function tx(o) { return (o && o.i18n_content && typeof o.i18n_content[state.lang] === "string") ? o.i18n_content[state.lang] : ((o && o.content) || ""); }

function el(tag, attrs, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") n.className = v; else if (k === "html") n.innerHTML = v;
    else if (k.startsWith("on")) n.addEventListener(k.slice(2), v); else n.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) n.append(k);
  return n;
}
function esc(s) { return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c])); }
async function api(path, opts) {
  const r = await fetch(path, opts && { method: opts.method || "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(opts.body || {}) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}
function toast(text) {
  const t = $("toast"); t.textContent = text; t.hidden = false;
  clearTimeout(toast.timer); toast.timer = setTimeout(() => (t.hidden = true), 2500);
}
function userName(id) { return (state.users[id] && state.users[id].name) || id; }

// -- markdown (the card subset: bold, italic, strike, links, lists, <font>, <at>, <text_tag>) --
function inline(s) {
  s = esc(s);
  s = s.replace(/&lt;at\s+(?:id|user_id)=["']?([^"'\s&]+)["']?\s*&gt;(.*?)&lt;\/at&gt;/g,
    (m, id, name) => `<span class="at">@${esc(name || (id === "all" ? "所有人" : userName(id)))}</span>`);
  s = s.replace(/&lt;font\s+color=["']?([\w-]+)["']?\s*&gt;(.*?)&lt;\/font&gt;/g,
    (m, c, t) => `<span style="color:${FONT_COLORS[c] || c}">${t}</span>`);
  s = s.replace(/&lt;text_tag\s+color=["']?([\w-]+)["']?\s*&gt;(.*?)&lt;\/text_tag&gt;/g,
    (m, c, t) => `<span class="opt" style="color:${FONT_COLORS[c] || c}">${t}</span>`);
  s = s.replace(/&lt;person\s+id=["']?([^"'\s&]+)["']?[^&]*&gt;&lt;\/person&gt;/g, (m, id) => `<span class="person">${esc(userName(id))}</span>`);
  s = s.replace(/\*\*(.+?)\*\*/g, "<b>$1</b>").replace(/~~(.+?)~~/g, "<s>$1</s>")
    .replace(/(^|[^*])\*([^*]+)\*/g, "$1<i>$2</i>")
    .replace(/\[([^\]]+)\]\((https?:[^)]+)\)/g, '<a href="$2" target="_blank">$1</a>');
  return s;
}
function markdown(src) {
  const out = []; let list = null;
  for (const line of String(src || "").split("\n")) {
    const ul = line.match(/^\s*[-*]\s+(.*)$/), ol = line.match(/^\s*\d+\.\s+(.*)$/);
    if (ul || ol) {
      const kind = ul ? "ul" : "ol";
      if (!list || list.kind !== kind) { list = { kind, items: [] }; out.push(list); }
      list.items.push(inline((ul || ol)[1]));
    } else { list = null; out.push(line.trim() === "" ? "<br>" : `<p>${inline(line)}</p>`); }
  }
  return out.map((b) => (typeof b === "string" ? b : `<${b.kind}>${b.items.map((i) => `<li>${i}</li>`).join("")}</${b.kind}>`)).join("");
}

// -- charts: VChart bar/line/area/pie with data.values as inline SVG --
function chartValues(spec) {
  const d = Array.isArray(spec.data) ? spec.data[0] : spec.data;
  return (d && d.values) || [];
}
function first(f) { return Array.isArray(f) ? f[0] : f; }
function chart(spec) {
  const W = 480, H = 240, P = 34, vals = chartValues(spec), NS = "http://www.w3.org/2000/svg";
  const parts = [];
  const type = spec.type;
  if (type === "pie") {
    const cf = spec.categoryField, vf = spec.valueField;
    const total = vals.reduce((a, v) => a + (+v[vf] || 0), 0) || 1;
    let a0 = -Math.PI / 2; const cx = W / 2, cy = H / 2, r = H / 2 - 16;
    vals.forEach((v, i) => {
      const a1 = a0 + (2 * Math.PI * (+v[vf] || 0)) / total;
      const large = a1 - a0 > Math.PI ? 1 : 0;
      const p = (a) => `${cx + r * Math.cos(a)},${cy + r * Math.sin(a)}`;
      const d = vals.length === 1 ? `M${cx - r},${cy}a${r},${r} 0 1,0 ${2 * r},0a${r},${r} 0 1,0 ${-2 * r},0`
        : `M${cx},${cy}L${p(a0)}A${r},${r} 0 ${large} 1 ${p(a1)}Z`;
      parts.push(`<path d="${d}" fill="${PALETTE[i % PALETTE.length]}"><title>${esc(v[cf])}: ${esc(v[vf])}</title></path>`);
      a0 = a1;
    });
  } else {
    const xf = first(spec.xField), yf = first(spec.yField), sf = spec.seriesField;
    const xs = [...new Set(vals.map((v) => String(v[xf])))];
    const series = sf ? [...new Set(vals.map((v) => String(v[sf])))] : [""];
    const left = (spec.axes || []).find((a) => a.orient === "left") || {};
    const max = left.max != null ? +left.max : Math.max(1, ...vals.map((v) => +v[yf] || 0));
    const bw = (W - 2 * P) / Math.max(1, xs.length), y = (v) => H - P - ((H - 2 * P) * v) / max;
    parts.push(`<line x1="${P}" y1="${H - P}" x2="${W - P}" y2="${H - P}" stroke="#8f959e"/>`);
    parts.push(`<line x1="${P}" y1="${P}" x2="${P}" y2="${H - P}" stroke="#8f959e"/>`);
    for (const k of [0, 0.25, 0.5, 0.75, 1]) {  // value axis ticks
      const v = Math.round(max * k);
      parts.push(`<text class="tick" x="${P - 4}" y="${y(v) + 4}" font-size="10" text-anchor="end" fill="#646a73">${v}</text>`);
      if (k) parts.push(`<line x1="${P}" y1="${y(v)}" x2="${W - P}" y2="${y(v)}" stroke="#eff0f1"/>`);
    }
    xs.forEach((x, i) => parts.push(`<text x="${P + bw * i + bw / 2}" y="${H - P + 14}" font-size="11" text-anchor="middle" fill="#646a73">${esc(x)}</text>`));
    series.forEach((s, si) => {
      const color = PALETTE[si % PALETTE.length];
      const pts = vals.filter((v) => !sf || String(v[sf]) === s).map((v) => ({ i: xs.indexOf(String(v[xf])), v: +v[yf] || 0 }));
      if (type === "line" || type === "area") {
        const d = pts.map((p, k) => `${k ? "L" : "M"}${P + bw * p.i + bw / 2},${y(p.v)}`).join("");
        parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2.5"/>`);
        pts.forEach((p) => parts.push(`<circle cx="${P + bw * p.i + bw / 2}" cy="${y(p.v)}" r="3.5" fill="${color}"/>`));
      } else {
        const w = (bw * 0.7) / series.length;
        pts.forEach((p) => parts.push(`<rect x="${P + bw * p.i + bw * 0.15 + w * si}" y="${y(p.v)}" width="${w}" height="${H - P - y(p.v)}" fill="${color}"><title>${p.v}</title></rect>`));
        if (!spec.label || spec.label.visible !== false) pts.forEach((p) => parts.push(`<text class="value" x="${P + bw * p.i + bw * 0.15 + w * si + w / 2}" y="${y(p.v) - 3}" font-size="10" text-anchor="middle" fill="#1f2329">${p.v}</text>`));
      }
    });
  }
  const svg = `<svg xmlns="${NS}" class="chart" data-testid="chart" data-chart-type="${esc(type)}" viewBox="0 0 ${W} ${H}">${parts.join("")}</svg>`;
  return el("div", { html: svg });
}

// -- card rendering --
function text(t) { return t ? (t.tag === "lark_md" ? inline(tx(t)) : esc(tx(t))) : ""; }
function renderElements(els, ctx) { return (els || []).map((e) => renderElement(e, ctx)).filter(Boolean); }
function renderElement(e, ctx) {
  switch (e.tag) {
    case "markdown": return el("div", { class: "md", html: markdown(tx(e)) });
    case "div": return el("div", { class: "md", html: text(e.text) + (e.fields || []).map((f) => `<div>${text(f.text)}</div>`).join("") });
    case "hr": return el("hr");
    case "column_set": {
      const row = el("div", { class: "cols" });
      for (const c of e.columns || []) {
        const col = el("div", { class: "col" }, ...renderElements(c.elements, ctx));
        col.style.flex = c.width === "weighted" ? String(c.weight || 1) : (c.width && c.width.endsWith("px") ? `0 0 ${c.width}` : "1");
        row.append(col);
      }
      return row;
    }
    case "collapsible_panel":
      return el("details", { class: "panel", ...(e.expanded ? { open: "" } : {}) },
        el("summary", { html: text(e.header && e.header.title) }), ...renderElements(e.elements, ctx));
    case "table": return table(e);
    case "chart": return chart(e.chart_spec || {});
    case "person": return el("span", { class: "person" }, userName(e.user_id));
    case "person_list": return el("div", {}, ...(e.persons || []).map((p) => el("span", { class: "person" }, userName(p.id))));
    case "form": {
      const f = el("form", { class: "card-form", "data-testid": "card-form", onsubmit: (ev) => ev.preventDefault() });
      renderElements(e.elements, { ...ctx, form: f }).forEach((n) => f.append(n));
      return f;
    }
    case "date_picker":
      return el("label", {}, text(e.placeholder) || "日期 ", el("input", { type: "date", name: e.name || "date", "data-testid": "card-date", value: e.initial_date || "" }));
    case "input":
      return el("input", { name: e.name || "input", placeholder: tx(e.placeholder), value: e.default_value || "" });
    case "button": return button(e, ctx);
    default: return el("div", { class: "md" }, `[${e.tag}]`);
  }
}
function table(e) {
  const cols = e.columns || [], t = el("table", { "data-testid": "card-table" });
  t.append(el("tr", {}, ...cols.map((c) => el("th", {}, c.display_name || c.name))));
  for (const row of (e.rows || []).slice(0, e.page_size || 5)) {
    t.append(el("tr", {}, ...cols.map((c) => {
      const v = row[c.name];
      let html = "";
      if (v == null) html = "";
      else if (c.data_type === "options") html = (Array.isArray(v) ? v : [v]).map((o) => `<span class="opt" style="color:${FONT_COLORS[o.color] || "#1f2329"}">${esc(o.text)}</span>`).join("");
      else if (c.data_type === "persons") html = (Array.isArray(v) ? v : [v]).map((id) => `<span class="person">${esc(userName(id))}</span>`).join("");
      else if (c.data_type === "date") html = esc(new Date(+v).toISOString().slice(0, 10));
      else if (c.data_type === "lark_md" || c.data_type === "markdown") html = markdown(v);
      else html = esc(v);
      return el("td", { html });
    })));
  }
  return t;
}
function button(e, ctx) {
  const cb = (e.behaviors || []).find((b) => b.type === "callback");
  return el("button", { type: "button", class: `btn ${e.type || "default"}`, "data-testid": "card-button",
    onclick: async () => {
      const body = { open_id: $("post-user").value, value: cb ? cb.value : {}, button_text: (e.text || {}).content };
      if (ctx.form) {
        body.form_value = {};
        for (const inp of ctx.form.querySelectorAll("input[name]")) {
          body.form_value[inp.name] = inp.type === "date" && inp.value ? `${inp.value} +0800` : inp.value;
        }
      }
      try {
        const r = await api(`/_sandbox/messages/${ctx.message_id}/click`, { body });
        toast((r.answer && r.answer.toast && r.answer.toast.content) || "已回调 · callback done");
        refresh(true);
      } catch (err) { toast("回调失败 · " + err.message); }
    } }, tx(e.text));
}
function renderCard(card, message_id) {
  const box = el("div", { class: "card", "data-testid": "card" });
  const h = card.header;
  if (h) {
    const color = HEADER_COLORS[h.template || "default"] || HEADER_COLORS.default;
    const head = el("div", { class: "card-header" + (h.template && h.template !== "default" ? "" : " light"), "data-testid": "card-header",
      "data-template": h.template || "default" });
    head.style.background = color;
    head.append(el("div", { class: "title" }, tx(h.title)));
    for (const t of h.text_tag_list || []) head.firstChild.append(el("span", { class: "tag" }, tx(t.text)));
    if (h.subtitle) head.append(el("div", { class: "subtitle" }, tx(h.subtitle)));
    box.append(head);
  }
  box.append(el("div", { class: "card-body" }, ...renderElements((card.body || {}).elements, { message_id })));
  return box;
}
function renderMessage(m) {
  const bot = m.sender && m.sender.sender_type === "app";
  const who = bot ? "🤖 机器人 Bot" : userName(m.sender && m.sender.id);
  const node = el("div", { class: "msg " + (bot ? "bot" : "user"), "data-testid": "message", "data-message-id": m.message_id },
    el("div", { class: "who" }, who));
  if (m.msg_type === "interactive" && m.card) node.append(renderCard(m.card, m.message_id));
  else if (m.msg_type === "text") {
    let t = esc(m.text || "");
    for (const mt of m.mentions || []) t = t.split(esc(mt.key)).join(`<span class="at">@${esc(mt.name)}</span>`);
    node.append(el("div", { class: "bubble", html: t }));
  } else node.append(el("div", { class: "bubble" }, `[${m.msg_type}] ${JSON.stringify(m.content).slice(0, 300)}`));
  return node;
}

// -- chats --
async function loadInfo() {
  state.info = await api("/_sandbox/info");
  state.users = Object.fromEntries(state.info.users.map((u) => [u.open_id, u]));
  $("app-info").textContent = `${state.info.app_id || ""} · ${state.info.url}`;
  const list = $("chat-list"); list.innerHTML = "";
  const chats = [...state.info.chats.filter((c) => !c.dissolved), ...state.info.p2p_chats];
  for (const c of chats) {
    const label = c.chat_type === "p2p" ? `私聊 · ${c.name}` : c.name;
    list.append(el("div", { class: "chat-item" + (state.chat && state.chat.chat_id === c.chat_id ? " active" : ""),
      "data-testid": "chat-item", "data-chat-id": c.chat_id, onclick: () => selectChat(c) },
      label, el("small", {}, c.chat_id)));
  }
  const wanted = chats.find((c) => c.chat_id === PARAMS.get("chat"));
  if (!state.chat && chats.length) selectChat(wanted || chats[0]);
}
function selectChat(c) {
  state.chat = c; state.sig = "";
  $("chat-title").textContent = c.chat_type === "p2p" ? `私聊 · ${c.name}` : c.name;
  for (const n of document.querySelectorAll(".chat-item")) n.classList.toggle("active", n.dataset.chatId === c.chat_id);
  const sel = $("post-user"); sel.innerHTML = "";
  const people = c.chat_type === "p2p" ? [c.open_id] : c.members;
  for (const id of people) sel.append(el("option", { value: id }, userName(id)));
  $("post-mention").disabled = c.chat_type === "p2p";
  refresh(true);
}
async function refresh(force) {
  if (!state.chat) return;
  const data = await api(`/_sandbox/chats/${state.chat.chat_id}/messages`);
  const sig = JSON.stringify(data.items.map((m) => [m.message_id, m.body && m.body.content]));
  if (!force && sig === state.sig) return;
  state.sig = sig;
  const box = $("messages"); box.innerHTML = "";
  for (const m of data.items) box.append(renderMessage(m));
  box.scrollTop = box.scrollHeight;
}
$("post").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("post-text").value.trim();
  if (!text || !state.chat) return;
  try {
    await api(`/_sandbox/chats/${state.chat.chat_id}/messages`, { body: { open_id: $("post-user").value, text,
      mention_bot: state.chat.chat_type === "p2p" ? false : $("post-mention").checked } });
    $("post-text").value = ""; refresh(true);
  } catch (err) { toast("发送失败 · " + err.message); }
});

// -- bases: the grid as Feishu shows it (dates, people, links by name, checkboxes, progress bars) --
function items(d, ...keys) { if (Array.isArray(d)) return d; for (const k of keys) if (d && Array.isArray(d[k])) return d[k]; return (d && d.data && items(d.data, ...keys)) || []; }
function plainCell(v) {
  if (v == null) return "";
  if (Array.isArray(v)) return v.map(plainCell).join(", ");
  if (typeof v === "object") return v.name || v.text || v.en_name || v.link || JSON.stringify(v);
  return String(v);
}
const DATE_TYPES = new Set([5, 1001, 1002]), USER_TYPES = new Set([11, 1003, 1004]), LINK_TYPES = new Set([18, 21]);
function fmtDate(ms, tz) {
  if (ms == null || ms === "") return "";
  const d = new Date(+ms);
  if (isNaN(d)) return String(ms);
  return new Intl.DateTimeFormat("en-CA", { timeZone: tz || "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" }).format(d);
}
function linkIds(v) {
  if (v == null) return [];
  if (Array.isArray(v)) return v.flatMap(linkIds);
  if (typeof v === "object") return v.link_record_ids || v.record_ids || (v.record_id ? [v.record_id] : []);
  return [String(v)];
}
function gridCell(f, v, ctx) {
  const td = el("td", { "data-field-type": String(f.type) });
  if (v == null || v === "") return td;
  if (DATE_TYPES.has(f.type)) td.textContent = fmtDate(v, ctx.tz);
  else if (f.type === 7) td.append(el("span", { class: "check" + (v ? " on" : ""), "data-testid": "checkbox" }, v ? "☑" : "☐"));
  else if (USER_TYPES.has(f.type)) for (const p of (Array.isArray(v) ? v : [v])) td.append(el("span", { class: "person" }, p.name || p.en_name || userName(p.id || p)));
  else if (LINK_TYPES.has(f.type)) {
    const names = ctx.names[(f.property || {}).table_id] || {};
    for (const id of linkIds(v)) td.append(el("span", { class: "link-chip" }, names[id] || id));
  } else if (f.type === 3 || f.type === 4) for (const o of (Array.isArray(v) ? v : [v])) td.append(el("span", { class: "opt" }, plainCell(o)));
  else if (f.type === 2 && f.ui_type === "Progress") {
    const pct = Math.round(Math.max(0, Math.min(1, +v)) * 100);
    const bar = el("span", { class: "progress", "data-testid": "progress" }, el("span", { class: "fill" }));
    bar.firstChild.style.width = pct + "%";
    td.append(bar, ` ${pct}%`);
  } else if (f.type === 2 && typeof v === "number") td.textContent = v.toLocaleString("zh-CN");
  else if (f.type === 15 && typeof v === "object") td.append(el("a", { href: v.link || "#", target: "_blank" }, v.text || v.link || ""));
  else td.textContent = plainCell(v);
  return td;
}
async function loadBases() {
  const box = $("bases"); box.innerHTML = "加载中 · loading…";
  let bases;
  try { bases = items(await api("/_sandbox/bitable/bases"), "items", "bases"); }
  catch (err) { box.innerHTML = ""; box.append(el("p", { class: "error", "data-testid": "bases-error" }, "读取失败 · could not load: " + err.message)); return; }
  box.innerHTML = "";
  if (!bases.length) { box.append(el("p", { "data-testid": "no-bases" }, "还没有多维表格 · no bases")); return; }
  for (const b of bases) {
    const token = b.app_token || b.token || b.id;
    box.append(el("h3", { "data-testid": "base" }, b.name || token));
    const tables = b.tables || [], data = {};
    const ctx = { tz: b.time_zone, names: {} };
    for (const t of tables) {  // records first: links show the linked row's primary value
      const tid = t.table_id || t.id, base = `/_sandbox/bitable/bases/${token}/tables/${tid}`;
      const [fields, recs] = await Promise.all([api(base + "/fields").then((d) => items(d, "items")).catch(() => []),
        api(base + "/records").then((d) => items(d, "items", "records")).catch(() => [])]);
      data[tid] = { fields, recs };
      const primary = (fields.find((f) => f.is_primary) || fields[0] || {}).field_name;
      ctx.names[tid] = Object.fromEntries(recs.map((r) => [r.record_id || r.id, plainCell((r.fields || {})[primary])]));
    }
    for (const t of tables) {
      const tid = t.table_id || t.id, { fields, recs } = data[tid];
      box.append(el("h4", { "data-testid": "base-table" }, `${t.name || tid} · ${recs.length}`));
      const grid = el("table", { class: "grid", "data-testid": "grid" }, el("tr", {}, ...fields.map((f) => el("th", {}, f.field_name))));
      for (const r of recs) grid.append(el("tr", { "data-testid": "grid-row" }, ...fields.map((f) => gridCell(f, (r.fields || {})[f.field_name], ctx))));
      box.append(grid);
    }
  }
}
for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => {
    for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t === tab);
    $("view-chat").hidden = tab.dataset.tab !== "chat";
    $("view-bases").hidden = tab.dataset.tab !== "bases";
    if (tab.dataset.tab === "bases") loadBases();
  });
}
if (PARAMS.get("tab") === "bases") document.querySelector('.tab[data-tab="bases"]').click();
$("lang").value = state.lang;
$("lang").addEventListener("change", () => { state.lang = $("lang").value; refresh(true); });
loadInfo().catch((err) => toast(err.message));
setInterval(() => { refresh(false).catch(() => {}); }, 2000);
setInterval(() => { loadInfo().catch(() => {}); }, 10000);
