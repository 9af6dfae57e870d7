// Sova operator console. Vanilla JS, no build step.
//
// Rules this file keeps:
// - The token comes from the URL fragment (#token=…, never sent to a server) or the login form, lives
//   in sessionStorage, and travels only as an Authorization header. No cookie.
// - Every string that came from an agent or a peer (names, DIDs, messages, offers, ledger data) is put
//   on the page with textContent (through el()), never innerHTML.
// - The live ledger uses fetch + ReadableStream, because EventSource cannot send a header.
"use strict";

const TOKEN_KEY = "sova.operator.token";
const POLL_MS = 2000;
const VERIFY_MS = 5000;
const LEDGER_KEEP = 200;
const RECENT_DECIDED = 3;

const state = {
  token: null,
  agents: [],
  selected: null,
  chats: new Map(),        // agent name -> [{who, text}]
  approvals: new Map(),    // agent name -> [approval]
  deals: new Map(),        // agent name -> [deal] (GET /v1/deals: input, result, price, state, counterparty)
  ledger: [],              // entries of the selected agent, newest first
  ledgerAbort: null,
  lastSeq: null,
  verifyDue: 0,
  pollTimer: null,
};

// --- DOM helpers: text only ---------------------------------------------------------------------

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "class") node.className = value;
      else if (key === "title") node.title = String(value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, String(value));
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function $(id) {
  return document.getElementById(id);
}

function amount(value) {
  // Balances as people read them (4 decimals at most); the exact figure stays in the tooltip.
  const n = Number(value);
  if (!Number.isFinite(n)) return String(value);
  return n.toLocaleString("en-US", { maximumFractionDigits: 4 });
}

function compact(text) {
  // DIDs, addresses, hashes and JWS are long: keep their head and tail.
  return text.length > 28 ? `${text.slice(0, 14)}…${text.slice(-6)}` : text;
}

function compactAddresses(text) {
  return String(text).replace(/0x[0-9a-fA-F]{40}/g, (address) => `${address.slice(0, 8)}…${address.slice(-4)}`);
}

function short(value, keep = 10) {
  const text = String(value ?? "");
  return text.length > keep * 2 + 1 ? `${text.slice(0, keep)}…${text.slice(-6)}` : text;
}

// --- the API ------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || "GET",
    headers,
    body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
    credentials: "omit",
    cache: "no-store",
  });
  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    data = null;
  }
  if (response.status === 401) {
    showLogin("the token was refused: open the link `sova up` printed, or paste the token again");
    throw new ApiError("unauthorized", 401);
  }
  if (!response.ok) {
    const message = data && typeof data.error === "string" ? data.error : `HTTP ${response.status}`;
    throw new ApiError(message, response.status);
  }
  return data;
}

const agentPath = (name, rest) => `/api/agents/${encodeURIComponent(name)}/${rest}`;

// --- token --------------------------------------------------------------------------------------

function takeTokenFromFragment() {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    // Drop the fragment so the token is not left in the address bar, history or a screenshot.
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function showLogin(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  if (state.pollTimer) clearInterval(state.pollTimer);
  state.pollTimer = null;
  stopLedger();
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("fleet-line").textContent = "not connected";
}

// --- agents -------------------------------------------------------------------------------------

function stateBadge(agent) {
  return el("span", { class: `badge state-${agent.state}`, text: agent.state });
}

function pauseBadges(agent) {
  const badges = [];
  if (agent.paused) badges.push(el("span", { class: "badge paused", text: "paused", title: agent.pause_reason || "" }));
  if (agent.paused_onchain) badges.push(el("span", { class: "badge paused", text: "paused on-chain" }));
  return badges;
}

function renderBudgets(budgets) {
  if (!Array.isArray(budgets) || budgets.length === 0) return null;
  const list = el("div", { class: "budgets" });
  for (const b of budgets) {
    const limit = Number(b.limit);
    const left = Number(b.left);
    const ratio = limit > 0 && Number.isFinite(left) ? Math.max(0, Math.min(1, left / limit)) : 0;
    const bar = el("div", { class: "bar" }, el("div", { class: "fill" }));
    bar.firstChild.style.width = `${Math.round(ratio * 100)}%`;
    list.append(
      el("div", { class: "budget" },
        el("span", { class: "budget-label", text: `${b.scope.replaceAll("_", " ")}` }),
        bar,
        el("span", { class: "budget-left", text: `${b.left} / ${b.limit} ${b.token}` })),
    );
  }
  return list;
}

// Reputation (paid feedback only) and validations from the ERC-8004 registries; null: unknown.
function renderTrust(trust) {
  if (!trust || typeof trust !== "object") return null;
  const parts = [`agent #${trust.agent_id}`];
  const rep = trust.reputation;
  if (rep) {
    parts.push(rep.count ? `reputation ${rep.value} (${rep.count} paid)` : "no paid feedback");
    parts.push(`${rep.settled_deals} settled deal${rep.settled_deals === 1 ? "" : "s"}`);
  }
  const val = trust.validations;
  if (val) parts.push(val.requests ? `validations ${val.answered}/${val.requests}, avg ${val.average}` : "no validations");
  return el("div", { class: "trust muted", text: parts.join(" · "),
    title: "from ReputationRegistry (feedback only from paying clients) and ValidationRegistry" });
}

function renderAgents() {
  const list = $("agent-list");
  list.replaceChildren();
  for (const agent of state.agents) {
    const balances = agent.balances && typeof agent.balances === "object"
      ? Object.entries(agent.balances).map(([token, value]) =>
        el("span", { class: "balance", text: `${amount(value)} ${token}`, title: `${value} ${token}` }))
      : [el("span", { class: "muted", text: agent.error || "no balances yet" })];
    const item = el("li", {
      class: `agent-card${agent.name === state.selected ? " selected" : ""}`,
      tabindex: "0",
      "data-agent": agent.name,
      onclick: () => selectAgent(agent.name),
      onkeydown: (event) => { if (event.key === "Enter") selectAgent(agent.name); },
    },
    el("div", { class: "agent-line" },
      el("span", { class: "agent-name", text: agent.name }),
      el("span", { class: "role muted", text: agent.role }),
      stateBadge(agent), ...pauseBadges(agent)),
    el("div", { class: "balances" }, ...balances),
    renderTrust(agent.trust),
    renderBudgets(agent.budgets));
    list.append(item);
  }
  const ready = state.agents.filter((a) => a.state === "ready").length;
  $("fleet-line").textContent = `${ready} of ${state.agents.length} agents ready`;
  renderDetailHead();
}

function selectedAgent() {
  return state.agents.find((a) => a.name === state.selected) || null;
}

function renderDetailHead() {
  const agent = selectedAgent();
  $("agent-title").textContent = agent ? agent.name : "—";
  $("agent-ids").replaceChildren(
    ...(agent ? [
      el("span", { text: short(agent.did, 16), title: agent.did || "" }),
      el("span", { text: short(agent.address, 8), title: agent.address || "" }),
    ] : []),
  );
  const badge = $("agent-pause-state");
  if (agent && (agent.paused || agent.paused_onchain)) {
    const where = [agent.paused ? "locally" : null, agent.paused_onchain ? "on-chain" : null].filter(Boolean).join(" and ");
    badge.textContent = `paused ${where}`;
    badge.className = "badge paused";
  } else {
    badge.textContent = agent ? "running" : "";
    badge.className = agent ? "badge state-ready" : "badge";
  }
  $("pause-btn").disabled = !agent;
  $("resume-btn").disabled = !agent;
}

async function refreshAgents() {
  try {
    const data = await api("/api/agents");
    state.agents = Array.isArray(data.agents) ? data.agents : [];
  } catch (error) {
    if (error.status !== 401) $("fleet-line").textContent = `console unreachable: ${error.message}`;
    return;
  }
  if (!state.selected && state.agents.length) selectAgent(state.agents[0].name);
  renderAgents();
  await Promise.all([refreshApprovals(), refreshDeals()]);
  if (Date.now() > state.verifyDue) verifyLedger();
}

function selectAgent(name) {
  if (state.selected === name) return;
  state.selected = name;
  renderAgents();
  renderChat();
  renderDeals();
  refreshDeals();
  startLedger(name);
}

// --- chat ---------------------------------------------------------------------------------------

function chatOf(name) {
  if (!state.chats.has(name)) state.chats.set(name, []);
  return state.chats.get(name);
}

function renderChat() {
  const log = $("chat-log");
  const lines = state.selected ? chatOf(state.selected) : [];
  log.replaceChildren(...lines.map((line) =>
    el("div", { class: `msg ${line.who}` },
      el("span", { class: "who", text: line.who === "you" ? "you" : state.selected }),
      el("pre", { class: "text", text: line.text }))));
  log.scrollTop = log.scrollHeight;
}

async function sendChat(event) {
  event.preventDefault();
  const input = $("chat-input");
  const text = input.value.trim();
  const name = state.selected;
  if (!text || !name) return;
  input.value = "";
  chatOf(name).push({ who: "you", text });
  renderChat();
  try {
    const data = await api(agentPath(name, "chat"), { method: "POST", body: { text } });
    chatOf(name).push({ who: "agent", text: typeof data.reply === "string" ? data.reply : JSON.stringify(data) });
  } catch (error) {
    chatOf(name).push({ who: "agent error", text: error.message });
  }
  if (state.selected === name) renderChat();
  refreshAgents();
}

// --- pause / resume -----------------------------------------------------------------------------

function describePause(result) {
  const local = result.local && result.local.error ? `locally not done (${result.local.error})` : "locally done";
  const chain = result.onchain && result.onchain.ok
    ? `on-chain done (tx ${short(result.onchain.tx, 8)})`
    : `on-chain not done (${result.onchain ? result.onchain.error : "?"})`;
  return `${result.paused ? "paused" : "resumed"}: ${local}; ${chain}`;
}

async function pauseOrResume(verb) {
  const name = state.selected;
  if (!name) return;
  const line = $("action-line");
  line.textContent = `${verb === "pause" ? "pausing" : "resuming"} ${name}…`;
  try {
    const body = verb === "pause" ? { reason: "paused from the console" } : {};
    const result = await api(agentPath(name, verb), { method: "POST", body });
    line.textContent = `${name} ${describePause(result)}`;
  } catch (error) {
    line.textContent = `${name}: ${error.message}`;
  }
  await refreshAgents();
}

// --- deals --------------------------------------------------------------------------------------

const DEALS_SHOWN = 20;

async function refreshDeals() {
  const agent = selectedAgent();
  if (!agent || agent.state !== "ready" || !agent.operator_url) return;
  try {
    const data = await api(agentPath(agent.name, `deals?limit=${DEALS_SHOWN}`));
    const deals = Array.isArray(data.deals) ? data.deals : [];
    const paid = Array.isArray(data.x402) ? data.x402.map(x402Row) : [];
    const when = (d) => Date.parse(d.updated || "") || 0;
    state.deals.set(agent.name, [...deals, ...paid].sort((a, b) => when(b) - when(a)).slice(0, DEALS_SHOWN));
  } catch (_) {
    return; // keep the last table; the agent list shows the agent's problem
  }
  renderDeals();
}

function nameOf(did) {
  const agent = state.agents.find((a) => a.did === did);
  return agent ? agent.name : short(did, 12);
}

function jsonText(value) {
  return value === null || value === undefined ? "—" : JSON.stringify(value);
}

// An x402 payment or sale (GET /v1/deals' `x402`) as a row of the deals table: the URL paid for is
// its item, the settlement transaction its result.
function x402Row(p) {
  return {
    updated: p.updated, state: p.state, item: `x402 ${p.resource || "?"}`, price: p.price, token: p.token,
    role: p.role, counterparty: p.counterparty || "?", reason: p.reason,
    input: p.input_hash ? { sha256: p.input_hash } : null, result: p.transaction ? { tx: p.transaction } : null,
  };
}

function renderDeals() {
  const rows = $("deal-rows");
  const deals = state.selected ? state.deals.get(state.selected) || [] : [];
  if (deals.length === 0) {
    rows.replaceChildren(el("tr", {}, el("td", { colspan: 7, class: "muted empty", text: "no deals yet" })));
    return;
  }
  rows.replaceChildren(...deals.map((d) => el("tr", { "data-state": d.state, title: d.reason || "" },
    el("td", { class: "when", text: String(d.updated || "").replace("T", " ").slice(5, 19) }),
    el("td", {}, el("span", { class: `badge deal-${d.state}`, text: d.state })),
    el("td", { text: d.item || "?" }),
    el("td", { class: "num", text: d.price ? `${d.price} ${d.token}` : "—" }),
    el("td", { class: "counterparty", title: d.counterparty, text: `${d.role === "buyer" ? "from" : "to"} ${nameOf(d.counterparty)}` }),
    el("td", { class: "payload input", title: jsonText(d.input), text: short(jsonText(d.input), 24) }),
    el("td", { class: "payload result", title: jsonText(d.result), text: short(jsonText(d.result), 24) }))));
}

// --- approvals ----------------------------------------------------------------------------------

async function refreshApprovals() {
  const ready = state.agents.filter((a) => a.state === "ready" && a.operator_url);
  await Promise.all(ready.map(async (agent) => {
    try {
      const data = await api(agentPath(agent.name, "approvals"));
      state.approvals.set(agent.name, Array.isArray(data.approvals) ? data.approvals : []);
    } catch (_) {
      // keep the last list; the agent list shows the agent's problem
    }
  }));
  renderApprovals();
}

function describeIntent(approval) {
  const intent = (approval.summary && approval.summary.intent) || {};
  const parts = [approval.skill];
  if (intent.amount) parts.push(`${intent.amount} ${compact(String(intent.token || ""))}`.trim());
  const cp = intent.counterparty;
  if (cp) parts.push(`→ ${cp.name || cp.did || cp.address || JSON.stringify(cp)}`);
  return parts.join(" · ");
}

function renderApprovals() {
  const list = $("approval-list");
  const rows = [];
  for (const [agent, approvals] of state.approvals) {
    for (const a of approvals) rows.push({ agent, a });
  }
  // Every pending approval, then the few most recently decided (the ledger below keeps them all).
  const pendingRows = rows.filter((r) => r.a.state === "pending");
  const decidedRows = rows.filter((r) => r.a.state !== "pending").sort((x, y) => y.a.number - x.a.number);
  rows.splice(0, rows.length, ...pendingRows, ...decidedRows.slice(0, RECENT_DECIDED));
  const pending = pendingRows.length;
  $("approval-count").textContent = pending ? String(pending) : "";
  if (rows.length === 0) {
    list.replaceChildren(el("li", { class: "muted empty", text: "nothing waits for you" }));
    return;
  }
  // Keep a reason being typed: rebuild only when the set of approvals or their states changed.
  const signature = rows.map((r) => `${r.agent}/${r.a.id}/${r.a.state}/${(r.a.approvers || []).length}`).join("|");
  if (list.dataset.signature === signature) return;
  list.dataset.signature = signature;
  list.replaceChildren(...rows.slice(0, 30).map(({ agent, a }) => approvalItem(agent, a)));
}

function approvalItem(agent, a) {
  const reason = el("input", { class: "reason", placeholder: "reason (optional)", autocomplete: "off" });
  const decide = (decision) => async () => {
    try {
      await api(agentPath(agent, `approvals/${encodeURIComponent(a.id)}/${decision}`), {
        method: "POST", body: { reason: reason.value },
      });
      $("action-line").textContent = `${decision === "approve" ? "approved" : "rejected"} #${a.number} of ${agent}`;
    } catch (error) {
      $("action-line").textContent = `#${a.number} of ${agent}: ${error.message}`;
    }
    await refreshApprovals();
  };
  const why = Array.isArray(a.summary && a.summary.reasons) ? a.summary.reasons.join("; ") : "";
  return el("li", { class: `approval ${a.state}`, "data-agent": agent, "data-number": a.number },
    el("div", { class: "approval-line" },
      el("span", { class: "number", text: `#${a.number}` }),
      el("span", { class: "agent-name", text: agent }),
      el("span", { class: `badge ${a.state}`, text: a.state }),
      el("span", { class: "muted", text: `${(a.approvers || []).length}/${a.needed}` })),
    el("div", { class: "what", text: describeIntent(a) }),
    a.state === "pending" && why ? el("div", { class: "why muted", text: why }) : null,
    a.state === "pending"
      ? el("div", { class: "decide" }, reason,
        el("button", { type: "button", class: "approve", onclick: decide("approve"), text: "Approve" }),
        el("button", { type: "button", class: "reject danger", onclick: decide("reject"), text: "Reject" }))
      : el("div", { class: "why muted", text: (a.reasons || []).map(compactAddresses).join("; ") }));
}

// --- the live ledger (SSE over fetch) -----------------------------------------------------------

function stopLedger() {
  if (state.ledgerAbort) state.ledgerAbort.abort();
  state.ledgerAbort = null;
}

async function startLedger(name) {
  stopLedger();
  state.ledger = [];
  state.lastSeq = null;
  $("ledger-agent").textContent = name;
  renderLedger();
  verifyLedger();
  try {
    const head = await api(agentPath(name, "ledger?limit=1"));
    if (typeof head.head === "number") state.lastSeq = Math.max(0, head.head - 30); // replay the last 30
  } catch (_) {
    // the stream below reports the problem
  }
  followLedger(name);
}

async function followLedger(name) {
  const controller = new AbortController();
  state.ledgerAbort = controller;
  while (!controller.signal.aborted && state.selected === name && state.token) {
    const after = state.lastSeq === null ? "" : `?after=${state.lastSeq}`;
    try {
      const response = await fetch(agentPath(name, `events${after}`), {
        headers: { Authorization: `Bearer ${state.token}`, Accept: "text/event-stream" },
        credentials: "omit",
        cache: "no-store",
        signal: controller.signal,
      });
      if (response.status === 401) {
        showLogin("the token was refused");
        return;
      }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      await readEvents(response.body, (event, data) => {
        if (event === "ledger") addLedgerEntry(data);
      });
    } catch (error) {
      if (controller.signal.aborted) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 2000)); // then reconnect after lastSeq
  }
}

async function readEvents(body, onEvent) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replaceAll("\r\n", "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue; // keep-alive comment
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) {
        try {
          onEvent(event, JSON.parse(data.join("\n")));
        } catch (_) {
          // not JSON: ignore this event, keep the stream
        }
      }
    }
  }
}

function addLedgerEntry(entry) {
  if (!entry || typeof entry.seq !== "number") return;
  if (state.ledger.some((e) => e.seq === entry.seq)) return; // a reconnect may replay one
  state.lastSeq = Math.max(state.lastSeq ?? -1, entry.seq);
  state.ledger.unshift(entry);
  state.ledger.sort((a, b) => b.seq - a.seq);
  if (state.ledger.length > LEDGER_KEEP) state.ledger.length = LEDGER_KEEP;
  renderLedger();
  state.verifyDue = Math.min(state.verifyDue, Date.now() + 1000);
}

function ledgerSummary(entry) {
  // Every plain field, the telling ones first; long values (signatures, JWS) cut short.
  const data = entry.data && typeof entry.data === "object" ? entry.data : {};
  const first = ["skill", "verdict", "state", "reason", "peer", "counterparty", "price", "amount", "token"];
  const keys = [...first.filter((k) => k in data), ...Object.keys(data).filter((k) => !first.includes(k))];
  const parts = [];
  for (const key of keys) {
    const value = data[key];
    if (value === null || value === undefined || typeof value === "object") continue;
    parts.push(`${key}=${compact(String(value))}`);
  }
  const line = parts.join("  ");
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

function renderLedger() {
  const list = $("ledger-list");
  if (state.ledger.length === 0) {
    list.replaceChildren(el("li", { class: "muted empty", text: "waiting for entries…" }));
    return;
  }
  list.replaceChildren(...state.ledger.slice(0, 60).map((entry) =>
    el("li", { class: "entry", "data-seq": entry.seq, title: `hash ${entry.hash}` },
      el("span", { class: "seq", text: `#${entry.seq}` }),
      el("span", { class: "kind", text: entry.kind }),
      el("span", { class: "ts muted", text: String(entry.ts || "").replace("T", " ").slice(0, 19) }),
      el("div", { class: "data", text: ledgerSummary(entry) }))));
}

async function verifyLedger() {
  const name = state.selected;
  if (!name) return;
  state.verifyDue = Date.now() + VERIFY_MS;
  const mark = $("verified");
  try {
    const result = await api(agentPath(name, "ledger/verify"));
    if (state.selected !== name) return;
    if (result.ok) {
      mark.textContent = `✓ verified (${result.checked} entries)`;
      mark.className = "verified ok";
    } else {
      mark.textContent = `✗ ${result.message || `broken at #${result.first_bad}`}`;
      mark.className = "verified bad";
    }
    mark.title = result.message || "";
  } catch (error) {
    if (state.selected !== name) return;
    mark.textContent = "not verified";
    mark.className = "verified unknown";
    mark.title = error.message;
  }
}

// --- start --------------------------------------------------------------------------------------

function start(token) {
  state.token = token;
  $("login").hidden = true;
  $("app").hidden = false;
  refreshAgents();
  if (state.pollTimer) clearInterval(state.pollTimer);
  state.pollTimer = setInterval(refreshAgents, POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  $("chat-form").addEventListener("submit", sendChat);
  $("pause-btn").addEventListener("click", () => pauseOrResume("pause"));
  $("resume-btn").addEventListener("click", () => pauseOrResume("resume"));
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("login-token").value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("login-token").value = "";
    start(token);
  });
  const token = takeTokenFromFragment();
  if (token) start(token);
  else showLogin("");
});
