// wfwatch in a browser tab: the session list, and one session rendered like a pane.
//
// The page is a device like any other: it folds the records of the event
// stream (docs/events.md) through the same rules as src/wfwatch/reducer.py,
// so it shows the same canonical text as a dashboard pane. Event text is
// untrusted: it only ever reaches the DOM through textContent, with invisible
// and bidi characters shown as placeholders (visible()).
//
// Reconnecting: EventSource reconnects by itself after a drop and sends the
// id of the last event it saw as Last-Event-ID; that id is a cursor
// ("epoch:next offset"), so the server resumes exactly there. If the browser
// gives up (the server answered with an error), we reopen the stream
// ourselves with ?last_event_id=. A `reset` event (the workflow id now names
// another stream) starts the view over; `end` closes the stream for good.
"use strict";

(() => {
  const MAIN_LANE = "main";
  const UNANNOUNCED_LANE = 1000000;

  // --- the reducer: a port of wfwatch.reducer.Reducer ---------------------------------

  class Reducer {
    constructor() {
      this.sessionId = "";
      this.title = "";
      this.status = "running";
      this.firstOffset = null;
      this.nextOffset = 0;
      this.records = 0;
      this.tokens = 0;
      this.turns = new Map();
      this.lanes = new Map();
      this.messages = new Map();
      this.steps = new Map();
      this.tools = new Map();
      this.errors = [];
      this.odd = [];
    }

    apply(ev) {
      const offset = ev.offset;
      if (this.firstOffset !== null && offset < this.nextOffset) return; // re-delivery
      if (this.firstOffset === null) this.firstOffset = offset;
      this.nextOffset = offset + 1;
      this.records += 1;
      if (ev.kind === "unknown" && ev.schema) {
        // Another framework's item, translated by the bridge (wfwatch.schemas): apply what it stands for.
        for (const derived of ev.derived || []) this.applyEvent({ ...derived, offset }, offset);
        return;
      }
      this.applyEvent(ev, offset);
    }

    applyEvent(ev, offset) {
      const lane = ev.lane === undefined ? MAIN_LANE : ev.lane;
      const turn = ev.turn === undefined ? 0 : ev.turn;
      switch (ev.kind) {
        case "token": {
          this.tokens += 1;
          const attempt = this.message(ev.message_id, lane, turn, offset).attempt(ev.attempt ?? 1);
          (ev.channel === "reasoning" ? attempt.reasoning : attempt.answer).push(ev.text);
          break;
        }
        case "attempt_started":
          this.message(ev.message_id, lane, turn, offset).attempt(ev.attempt ?? 1);
          break;
        case "message_finished":
          this.message(ev.message_id, lane, turn, offset).attempt(ev.attempt ?? 1).finished = true;
          break;
        case "step_started":
          this.lane(lane, offset);
          this.steps.set(ev.step_id, {
            stepId: ev.step_id, lane, turn, name: ev.name, status: "running",
            startedOffset: offset, durationMs: null, reason: "",
          });
          break;
        case "step_finished": {
          this.lane(lane, offset);
          let step = this.steps.get(ev.step_id);
          if (step === undefined) { // joined after the start: name it from its id ("t3-plan" -> "plan")
            const prefix = `t${turn}-`;
            const name = ev.step_id.startsWith(prefix) ? ev.step_id.slice(ev.step_id.indexOf("-") + 1) : ev.step_id;
            step = { stepId: ev.step_id, lane, turn, name, status: "running", startedOffset: offset };
          }
          this.steps.set(ev.step_id, {
            ...step, status: ev.status ?? "completed", durationMs: ev.duration_ms === undefined ? 0 : ev.duration_ms, reason: ev.reason ?? "",
          });
          break;
        }
        case "tool_call":
          this.lane(lane, offset);
          this.tools.set(ev.call_id, { callId: ev.call_id, lane, turn, name: ev.name, arguments: ev.arguments ?? "", result: null, ok: null });
          break;
        case "tool_result": {
          this.lane(lane, offset);
          const call = this.tools.get(ev.call_id) ?? { callId: ev.call_id, lane, turn, name: "?", arguments: "" };
          this.tools.set(ev.call_id, { ...call, result: ev.result ?? "", ok: ev.ok ?? true });
          break;
        }
        case "turn_started":
          this.turns.set(turn, { turn, userMessage: ev.user_message ?? "", status: "running", startOffset: offset, reason: "" });
          break;
        case "turn_finished": {
          const known = this.turns.get(turn) ?? { turn, userMessage: "", status: "running", startOffset: offset };
          this.turns.set(turn, { ...known, status: ev.status ?? "completed", reason: ev.reason ?? "" });
          break;
        }
        case "subagent_spawned": {
          const l = this.lane(lane, offset);
          l.index = ev.index ?? 0;
          l.workflowId = ev.workflow_id ?? "";
          l.status = "running";
          break;
        }
        case "subagent_finished": {
          const l = this.lane(lane, offset);
          l.status = ev.status ?? "completed";
          l.reason = ev.reason ?? "";
          break;
        }
        case "session_started":
          this.sessionId = ev.session_id;
          this.title = ev.title ?? "";
          this.lane(lane, offset);
          break;
        case "session_finished":
          this.status = ev.status ?? "completed";
          break;
        case "error": {
          this.lane(lane, offset);
          const where = ev.message_id ? `${lane}/${ev.message_id}#${ev.attempt ?? 0}` : lane;
          this.errors.push(`@${offset} ${where}: ${ev.message}`);
          break;
        }
        case "unknown":
          this.odd.push({ offset, kind: "unknown", detail: ev.reason || ev.item_kind || "" });
          break;
        case "invalid":
          this.odd.push({ offset, kind: "invalid", detail: ev.reason || "" });
          break;
        default: // a kind this page does not know (a newer schema): an odd item, like the reducer's
          this.odd.push({ offset, kind: "unknown", detail: `unknown event kind ${JSON.stringify(ev.kind)}` });
      }
    }

    lane(name, offset) {
      let lane = this.lanes.get(name);
      if (lane === undefined) {
        // Lanes not announced by a spawn sort after announced ones, by first appearance.
        const index = name === MAIN_LANE ? 0 : UNANNOUNCED_LANE + offset;
        lane = { name, index, firstSeen: offset, status: "running", workflowId: "", reason: "", messageIds: [] };
        this.lanes.set(name, lane);
      }
      return lane;
    }

    message(messageId, lane, turn, offset) {
      let message = this.messages.get(messageId);
      if (message === undefined) {
        message = new Message(messageId, lane, turn);
        this.messages.set(messageId, message);
        this.lane(lane, offset).messageIds.push(messageId);
      }
      return message;
    }

    mainStatus() {
      if (this.status !== "running") return this.status;
      const turns = [...this.turns.values()];
      if (turns.some((t) => t.status === "running")) return "running";
      return turns.length ? "idle" : "running";
    }

    view() {
      const lanes = [...this.lanes.values()]
        .sort((a, b) => (a.index - b.index) || (a.firstSeen - b.firstSeen))
        .map((lane) => {
          const messages = lane.messageIds.map((id) => this.messages.get(id).view());
          return {
            name: lane.name,
            index: lane.index,
            status: lane.name === MAIN_LANE ? this.mainStatus() : lane.status,
            reason: lane.reason,
            messages,
            text: messages.filter((m) => m.answer).map((m) => m.answer).join("\n\n"),
          };
        });
      return {
        sessionId: this.sessionId,
        title: this.title,
        status: this.status,
        nextOffset: this.nextOffset,
        records: this.records,
        tokens: this.tokens,
        turns: [...this.turns.values()].sort((a, b) => a.turn - b.turn),
        lanes,
        steps: [...this.steps.values()].sort((a, b) => a.startedOffset - b.startedOffset),
        tools: [...this.tools.values()],
        errors: this.errors,
        odd: this.odd,
        // Byte for byte SessionView.canonical_text().
        canonical: lanes.map((lane) => `[${lane.name}]\n${lane.text}`).join("\n"),
      };
    }
  }

  class Message {
    constructor(messageId, lane, turn) {
      this.messageId = messageId;
      this.lane = lane;
      this.turn = turn;
      this.attempts = new Map();
    }

    attempt(number) {
      let found = this.attempts.get(number);
      if (found === undefined) {
        found = { answer: [], reasoning: [], finished: false };
        this.attempts.set(number, found);
      }
      return found;
    }

    view() {
      // Only the highest attempt is canonical; earlier ones are superseded.
      const numbers = [...this.attempts.keys()].sort((a, b) => a - b);
      const latest = numbers[numbers.length - 1];
      const current = this.attempts.get(latest);
      return {
        messageId: this.messageId,
        attempt: latest,
        answer: current.answer.join(""),
        reasoning: current.reasoning.join(""),
        finished: current.finished,
        superseded: numbers.slice(0, -1),
      };
    }
  }

  // --- small DOM helpers: text only, never HTML -----------------------------------------

  const $ = (id) => document.getElementById(id);

  // Characters that would act unseen even as text (docs/events.md, "wfwatch tail output"):
  // C0/C1 controls but newline and tab, and the invisible and bidi ones, which hide text
  // or reorder what a reader sees. Each shows as a placeholder, as in the dashboard.
  const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\u{e0000}-\u{e007f}]/gu;
  const hex = (code, digits) => code.toString(16).padStart(digits, "0");

  function visible(text) {
    const value = String(text);
    UNSAFE.lastIndex = 0;
    if (!UNSAFE.test(value)) return value;
    return value.replace(UNSAFE, (c) => {
      const code = c.codePointAt(0);
      if (code < 0x100) return `\\x${hex(code, 2)}`;
      return code < 0x10000 ? `\\u${hex(code, 4)}` : `\\U${hex(code, 8)}`;
    });
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = visible(text);
    return node;
  }

  function setText(node, text) {
    const shown = visible(text);
    if (node.textContent !== shown) node.textContent = shown;
  }

  function showError(node, message) {
    node.hidden = !message;
    setText(node, message || "");
  }

  // --- the token: from the URL fragment (never sent to a server log), kept per tab ----------

  function takeToken() {
    const fragment = new URLSearchParams(location.hash.slice(1));
    const fromUrl = fragment.get("token");
    if (fromUrl) {
      sessionStorage.setItem("wfwatch.token", fromUrl);
      history.replaceState(null, "", location.pathname + location.search);
      return fromUrl;
    }
    return sessionStorage.getItem("wfwatch.token") || "";
  }

  const token = takeToken();

  function authHeaders(extra) {
    const headers = { ...(extra || {}) };
    if (token) headers.Authorization = `Bearer ${token}`;
    return headers;
  }

  async function errorText(response) {
    try {
      const body = await response.json();
      if (body && typeof body.error === "string") return body.error;
    } catch (_) { /* not JSON */ }
    return `HTTP ${response.status}`;
  }

  // --- the session list -------------------------------------------------------------------

  async function loadSessions() {
    let response;
    try {
      response = await fetch("/sessions?status=all", { headers: authHeaders(), cache: "no-store" });
    } catch (err) {
      showError($("list-error"), `cannot reach the server (${err})`);
      return;
    }
    if (!response.ok) {
      const hint = response.status === 401 ? " — open this page with #token=<token> at the end of its address" : "";
      showError($("list-error"), (await errorText(response)) + hint);
      return;
    }
    showError($("list-error"), "");
    const body = await response.json();
    const tbody = $("sessions").tBodies[0];
    tbody.replaceChildren(
      ...body.sessions.map((row) => {
        const tr = el("tr");
        const link = el("a", "", row.session_id);
        link.href = `/?session=${encodeURIComponent(row.session_id)}`;
        const first = el("td");
        first.append(link);
        tr.append(
          first,
          el("td", "", row.title || ""),
          el("td", `badge ${row.status}`, row.status),
          el("td", "", row.turn == null ? "" : String(row.turn)),
          el("td", "muted", row.start_time ? new Date(row.start_time).toLocaleString() : ""),
        );
        return tr;
      }),
    );
  }

  // --- one session ---------------------------------------------------------------------------

  class SessionPage {
    constructor(sessionId) {
      this.sessionId = sessionId;
      this.reducer = new Reducer();
      this.lastEventId = "";
      this.gaps = [];
      this.ended = null;
      this.source = null;
      this.retryDelay = 500;
      this.retryTimer = null;
      this.renderTimer = null;
      this.laneNodes = new Map();
      this.drops = 0; // connections lost (the browser or we reconnected after each)
      // Record events received, re-deliveries included (the reducer ignores those, so only
      // this count shows a server that sends an offset twice; the browser test checks it).
      this.messages = 0;
    }

    url(withCursor) {
      const query = new URLSearchParams();
      if (token) query.set("token", token);
      if (withCursor && this.lastEventId) query.set("last_event_id", this.lastEventId);
      else query.set("join", "start");
      return `/sessions/${encodeURIComponent(this.sessionId)}/events?${query}`;
    }

    setState(state) {
      document.body.dataset.state = state;
      const badge = $("connection");
      setText(badge, state);
      badge.className = `badge ${state}`;
    }

    connect(withCursor) {
      this.setState(withCursor ? "reconnecting" : "connecting");
      const source = new EventSource(this.url(withCursor));
      this.source = source;
      source.onopen = () => {
        this.retryDelay = 500;
        this.setState("live");
        showError($("stream-error"), "");
      };
      source.onmessage = (e) => this.onRecord(e);
      source.addEventListener("gap", (e) => this.onGap(e));
      source.addEventListener("end", (e) => this.onEnd(e));
      source.addEventListener("reset", (e) => this.onReset(e));
      source.onerror = () => this.onError(source);
    }

    onRecord(e) {
      this.messages += 1;
      this.lastEventId = e.lastEventId;
      this.reducer.apply(JSON.parse(e.data));
      this.scheduleRender();
    }

    onGap(e) {
      this.lastEventId = e.lastEventId;
      const gap = JSON.parse(e.data);
      this.gaps.push(gap);
      this.scheduleRender();
    }

    onReset(e) {
      this.lastEventId = e.lastEventId;
      this.reducer = new Reducer();
      this.gaps = [];
      this.laneNodes.clear();
      $("lanes").replaceChildren();
      this.scheduleRender();
    }

    onEnd(e) {
      this.lastEventId = e.lastEventId;
      this.ended = JSON.parse(e.data);
      this.source.close();
      this.setState("ended");
      this.render();
    }

    onError(source) {
      if (this.ended || source !== this.source) return;
      if (document.body.dataset.state === "live") this.drops += 1;
      if (source.readyState === EventSource.CONNECTING) {
        this.setState("reconnecting"); // the browser retries by itself, with Last-Event-ID
        return;
      }
      // The browser gave up (an HTTP error): find out why, then retry ourselves.
      source.close();
      this.setState("reconnecting");
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.diagnoseAndRetry(), this.retryDelay);
      this.retryDelay = Math.min(this.retryDelay * 2, 10000);
    }

    async diagnoseAndRetry() {
      try {
        const response = await fetch(this.url(true), { method: "HEAD", headers: authHeaders(), cache: "no-store" });
        if ([400, 401, 403, 404].includes(response.status)) {
          const messages = { 401: "missing or wrong token", 403: "refused by the server", 404: "no such session" };
          showError($("stream-error"), messages[response.status] || "the server refused the stream");
          this.setState("error");
          return;
        }
      } catch (_) { /* server down: keep trying */ }
      this.connect(true);
    }

    scheduleRender() {
      if (this.renderTimer === null) {
        // A timer rather than requestAnimationFrame: it also runs in background tabs.
        this.renderTimer = setTimeout(() => this.render(), 50);
      }
    }

    render() {
      clearTimeout(this.renderTimer);
      this.renderTimer = null;
      const view = this.reducer.view();
      setText($("title"), view.title || this.sessionId);
      setText($("session-id"), this.sessionId);
      const status = this.ended ? this.ended.status : view.status;
      setText($("status"), status);
      $("status").className = `badge ${status}`;
      setText($("position"), `offset ${view.nextOffset} · ${view.records} records · ${view.tokens} tokens`);
      document.body.dataset.offset = String(view.nextOffset);
      this.renderTurns(view);
      this.renderLanes(view);
      this.renderDetails(view);
      setText($("canonical"), view.canonical);
      document.body.dataset.canonicalLength = String(view.canonical.length);
    }

    renderTurns(view) {
      $("turns").replaceChildren(
        ...view.turns.map((t) => el("li", "", `turn ${t.turn} · ${t.status} · ${t.userMessage}${t.reason ? ` (${t.reason})` : ""}`)),
      );
    }

    renderLanes(view) {
      const container = $("lanes");
      const order = [];
      for (const lane of view.lanes) {
        let node = this.laneNodes.get(lane.name);
        if (node === undefined) {
          node = { root: el("div", "lane"), title: el("h3"), name: el("span", "", lane.name), status: el("span", "badge"), body: el("div"), messages: new Map() };
          node.title.append(node.name, node.status);
          node.root.append(node.title, node.body);
          node.root.dataset.lane = lane.name;
          this.laneNodes.set(lane.name, node);
        }
        setText(node.status, lane.status + (lane.reason ? ` (${lane.reason})` : ""));
        node.status.className = `badge ${lane.status}`;
        for (const message of lane.messages) {
          let m = node.messages.get(message.messageId);
          if (m === undefined) {
            m = { root: el("div", "message"), meta: el("div", "meta"), reasoning: el("div", "reasoning"), answer: el("div", "answer") };
            m.root.append(m.meta, m.reasoning, m.answer);
            node.messages.set(message.messageId, m);
            node.body.append(m.root);
          }
          const superseded = message.superseded.length ? ` · superseded: ${message.superseded.join(", ")}` : "";
          setText(m.meta, `${message.messageId} · attempt ${message.attempt}${message.finished ? "" : " · streaming"}${superseded}`);
          setText(m.reasoning, message.reasoning);
          setText(m.answer, message.answer);
        }
        order.push(node.root);
      }
      const current = [...container.children];
      if (current.length !== order.length || current.some((child, i) => child !== order[i])) {
        container.replaceChildren(...order);
      }
    }

    renderDetails(view) {
      $("steps").replaceChildren(
        ...view.steps.map((s) => {
          const took = s.durationMs == null ? "" : ` · ${Math.round(s.durationMs)} ms`;
          return el("li", `step ${s.status}`, `${s.lane}/t${s.turn} ${s.name} · ${s.status}${took}${s.reason ? ` (${s.reason})` : ""}`);
        }),
      );
      $("tools").replaceChildren(
        ...view.tools.map((t) => {
          const result = t.result == null ? "…" : `${t.ok ? "ok" : "failed"}: ${t.result}`;
          return el("li", "", `${t.name}(${t.arguments}) → ${result}`);
        }),
      );
      const notes = [
        ...this.gaps.map((g) => `offsets ${g.start}–${g.end - 1} are gone from the workflow`),
        ...view.errors,
        ...view.odd.map((o) => `@${o.offset} ${o.kind}: ${o.detail}`),
      ];
      if (this.ended) notes.push(`stream ended: ${this.ended.status} at offset ${this.ended.next_offset}`);
      $("notes").replaceChildren(...notes.map((n) => el("li", "", n)));
    }

    async send(text) {
      const response = await fetch(`/sessions/${encodeURIComponent(this.sessionId)}/messages`, {
        method: "POST",
        headers: authHeaders({ "Content-Type": "application/json" }),
        body: JSON.stringify({ text }),
      });
      if (!response.ok) return errorText(response);
      const result = await response.json();
      return `turn ${result.turn} queued`;
    }

    async cancel() {
      const response = await fetch(`/sessions/${encodeURIComponent(this.sessionId)}/cancel`, {
        method: "POST",
        headers: authHeaders({ "Content-Type": "application/json" }),
        body: "{}",
      });
      return response.ok ? "cancel requested" : errorText(response);
    }
  }

  // --- wiring ----------------------------------------------------------------------------------

  function start() {
    // What tests (and curious users) can reach from the console.
    window.wfwatch = { Reducer, visible, page: null };
    const sessionId = new URLSearchParams(location.search).get("session");
    if (!sessionId) {
      loadSessions();
      setInterval(loadSessions, 5000);
      return;
    }
    $("list-view").hidden = true;
    $("session-view").hidden = false;
    const page = new SessionPage(sessionId);
    window.wfwatch.page = page;
    $("steer").addEventListener("submit", async (e) => {
      e.preventDefault();
      const input = $("message");
      const text = input.value.trim();
      if (!text) return;
      setText($("steer-result"), "sending…");
      setText($("steer-result"), await page.send(text));
      input.value = "";
    });
    $("cancel").addEventListener("click", async () => setText($("steer-result"), await page.cancel()));
    page.render();
    page.connect(false);
  }

  start();
})();
