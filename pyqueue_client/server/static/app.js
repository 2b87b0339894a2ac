// The PyQueue dashboard: plain JavaScript, no framework, no build step.
// Every number shown comes from the server's JSON API, called with the API key the user typed.
// The key lives in sessionStorage (this tab only) and travels in the X-API-Key header; it is
// never put in a URL, a cookie or the page. Text is always set with textContent, never as HTML.
"use strict";

(function () {
  const KEY_NAME = "pyqueue.apiKey";
  const API = "/api/v1";
  const REFRESH_MS = 2000;
  const PAGE_SIZE = 20;
  const KINDS = ["sent", "received", "deleted"];
  const ATTRIBUTES = [
    ["visibility_timeout", "Visibility timeout (s)"],
    ["delay_seconds", "Delay (s)"],
    ["wait_time_seconds", "Receive wait (s)"],
    ["retention_seconds", "Retention (s, empty: forever)"],
    ["max_receive_count", "Max receives (empty: no limit)"],
    ["dead_letter_queue", "Dead-letter queue (empty: none)"],
  ];

  const $ = (id) => document.getElementById(id);
  let timer = null;
  let generation = 0;
  const state = { offset: 0 };

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  // -- the API -------------------------------------------------------------------------------

  function apiKey() {
    return sessionStorage.getItem(KEY_NAME);
  }

  async function api(method, path, body) {
    const headers = { "X-API-Key": apiKey() || "", Accept: "application/json" };
    const init = { method: method, headers: headers, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    let data = null;
    try {
      data = await response.json();
    } catch (ignored) {
      data = null;
    }
    if (!response.ok) {
      const detail = data && typeof data.detail === "string" ? data.detail : response.statusText;
      if (response.status === 401) {
        signOut("The server did not accept the key: " + detail);
      }
      throw new ApiError(response.status, detail);
    }
    return data;
  }

  const q = (name) => API + "/queues/" + encodeURIComponent(name);

  // -- small helpers -------------------------------------------------------------------------

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === false || value === null || value === undefined) {
        continue;
      } else if (name.startsWith("on")) {
        node.addEventListener(name.slice(2), value);
      } else if (name === "class") {
        node.className = value;
      } else {
        node.setAttribute(name, value === true ? "" : String(value));
      }
    }
    for (const child of children) {
      if (child !== null && child !== undefined) {
        node.append(child instanceof Node ? child : document.createTextNode(String(child)));
      }
    }
    return node;
  }

  function svg(tag, attributes) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      node.setAttribute(name, String(value));
    }
    return node;
  }

  function age(seconds) {
    if (seconds === null || seconds === undefined) return "-";
    if (seconds < 60) return seconds.toFixed(seconds < 10 ? 1 : 0) + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min " + Math.floor(seconds % 60) + " s";
    if (seconds < 86400) return (seconds / 3600).toFixed(1) + " h";
    return (seconds / 86400).toFixed(1) + " d";
  }

  function notify(text, ok) {
    const notice = $("notice");
    notice.textContent = text;
    notice.className = ok ? "notice ok" : "notice";
    notice.setAttribute("role", ok ? "status" : "alert");
    notice.hidden = !text;
  }

  function failed(error) {
    if (error instanceof ApiError && error.status === 401) return;
    notify(error instanceof ApiError ? error.message + " (HTTP " + error.status + ")" : String(error));
  }

  // -- signing in and out --------------------------------------------------------------------

  async function signIn(event) {
    event.preventDefault();
    const input = $("api-key");
    sessionStorage.setItem(KEY_NAME, input.value.trim());
    input.value = "";
    notify("");
    route();
  }

  function signOut(reason) {
    sessionStorage.removeItem(KEY_NAME);
    stop();
    $("view").hidden = true;
    $("view").replaceChildren();
    $("sign-out").hidden = true;
    $("who").textContent = "";
    $("sign-in").hidden = false;
    notify(typeof reason === "string" ? reason : "");
    $("api-key").focus();
  }

  // -- routing: #/ (every queue), #/queue/NAME, #/queue/NAME/message/ID -----------------------

  function stop() {
    generation += 1;
    if (timer !== null) clearTimeout(timer);
    timer = null;
  }

  async function route() {
    stop();
    if (!apiKey()) {
      signOut();
      return;
    }
    $("sign-in").hidden = true;
    $("sign-out").hidden = false;
    const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    try {
      const me = await api("GET", API + "/auth/me");
      $("who").textContent = "Signed in: " + me.description;
    } catch (error) {
      failed(error);
      return;
    }
    const view = $("view");
    view.replaceChildren();
    view.hidden = false;
    let refresh;
    if (parts[0] === "queue" && parts[1] && parts[2] === "message" && parts[3] !== undefined) {
      refresh = await messageView(view, parts[1], parts[3]);
    } else if (parts[0] === "queue" && parts[1]) {
      refresh = await queueView(view, parts[1]);
    } else {
      refresh = serverView(view);
    }
    if (refresh) loop(refresh);
  }

  function loop(refresh) {
    const mine = generation;
    const tick = async () => {
      if (mine !== generation) return;
      if (!document.hidden) {
        try {
          await refresh();
        } catch (error) {
          failed(error);
        }
      }
      if (mine === generation) timer = setTimeout(tick, REFRESH_MS);
    };
    tick();
  }

  // -- the throughput chart ------------------------------------------------------------------

  function chart(title) {
    const box = svg("svg", {
      class: "chart",
      viewBox: "0 0 900 100",
      preserveAspectRatio: "none",
      role: "img",
    });
    const label = svg("title");
    box.append(label);
    for (const y of [25, 50, 75]) {
      box.append(svg("line", { class: "grid", x1: 0, x2: 900, y1: y, y2: y, "vector-effect": "non-scaling-stroke" }));
    }
    const lines = {};
    for (const kind of KINDS) {
      lines[kind] = svg("polyline", { class: kind, "vector-effect": "non-scaling-stroke", points: "" });
      box.append(lines[kind]);
    }
    const legend = el("ul", { class: "legend" });
    const rates = {};
    for (const kind of KINDS) {
      rates[kind] = el("span", { class: "mono", "data-rate": kind }, "0");
      legend.append(el("li", {}, legendSample(kind), kind + ": ", rates[kind], "/s (last minute)"));
    }
    const scale = el("p", { class: "meta" }, "");
    const section = el("section", { class: "throughput" }, el("h2", {}, title), box, legend, scale);

    function update(throughput) {
      let top = 1;
      for (const kind of KINDS) top = Math.max(top, ...throughput[kind]);
      for (const kind of KINDS) {
        const values = throughput[kind];
        const points = values.map((v, i) => i + "," + (100 - (v / top) * 96).toFixed(1));
        lines[kind].setAttribute("points", points.join(" "));
        const lastMinute = values.slice(-60).reduce((a, b) => a + b, 0) / 60;
        rates[kind].textContent = lastMinute.toFixed(lastMinute < 10 ? 2 : 0);
      }
      scale.textContent =
        "Messages per second over the last 15 minutes (left: 15 min ago, right: now); top of the chart: " +
        top + "/s.";
      label.textContent = title + ": " + KINDS.map((k) => k + " " + rates[k].textContent + "/s").join(", ");
    }
    return { section: section, update: update };
  }

  function legendSample(kind) {
    // The same stroke (colour and dash pattern) as the series, so it reads without colour too.
    const sample = svg("svg", { viewBox: "0 0 32 8", "aria-hidden": "true", class: "sample" });
    sample.append(svg("line", { class: kind, x1: 0, x2: 32, y1: 4, y2: 4 }));
    return sample;
  }

  // -- the server page -----------------------------------------------------------------------

  function serverView(view) {
    document.title = "Queues - PyQueue";
    const meta = el("p", { class: "meta", id: "summary" }, "Loading...");
    const graph = chart("Throughput, every queue you may see");
    const body = el("tbody", { id: "queue-rows" });
    const head = el(
      "tr",
      {},
      el("th", { scope: "col" }, "Queue"),
      ...["Visible", "In flight", "Delayed", "Total"].map((t) => el("th", { scope: "col", class: "num" }, t)),
      el("th", { scope: "col" }, "Dead letters"),
      el("th", { scope: "col", class: "num" }, "Oldest message")
    );
    const table = el("div", { class: "scroll" }, el("table", { id: "queues" }, el("thead", {}, head), body));
    view.append(el("h1", {}, "Queues"), meta, graph.section, el("h2", {}, "Every queue"), table);

    return async function refresh() {
      const overview = await api("GET", API + "/overview");
      graph.update(overview.throughput);
      const rows = overview.queues.map((queue) =>
        el(
          "tr",
          { "data-queue": queue.queue_name },
          el("td", {}, el("a", { href: "#/queue/" + encodeURIComponent(queue.queue_name) }, queue.queue_name)),
          el("td", { class: "num", "data-count": "visible" }, queue.visible_messages),
          el("td", { class: "num", "data-count": "in_flight" }, queue.in_flight_messages),
          el("td", { class: "num", "data-count": "delayed" }, queue.delayed_messages),
          el("td", { class: "num", "data-count": "total" }, queue.message_count),
          el("td", {}, deadLetterText(queue)),
          el("td", { class: "num" }, age(queue.oldest_message_age_seconds))
        )
      );
      body.replaceChildren(...rows);
      meta.textContent =
        overview.count + (overview.count === 1 ? " queue" : " queues") +
        "; updated " + new Date().toLocaleTimeString() + ", every " + REFRESH_MS / 1000 + " s.";
    };
  }

  function deadLetterText(queue) {
    const parts = [];
    if (queue.dead_letter_queue) {
      const count = queue.dead_letter_messages === null ? "?" : queue.dead_letter_messages;
      parts.push(count + " in " + queue.dead_letter_queue);
    }
    if (queue.dead_letter_for.length) parts.push("dead-letter queue of " + queue.dead_letter_for.join(", "));
    return parts.length ? parts.join("; ") : "-";
  }

  // -- a queue's page ------------------------------------------------------------------------

  async function queueView(view, name) {
    document.title = name + " - PyQueue";
    const first = await api("GET", API + "/overview?queue=" + encodeURIComponent(name));
    const row = first.queues[0];
    const can = (permission) => row.permissions.indexOf(permission) >= 0;
    const counts = el("dl", { class: "counts", id: "counts" });
    const graph = chart("Throughput of " + name);
    view.append(
      el("p", {}, el("a", { href: "#/" }, "All queues")),
      el("h1", {}, "Queue ", el("span", { class: "mono" }, name)),
      el("p", { class: "meta" }, "Your permissions: " + (row.permissions.join(", ") || "none")),
      counts,
      actions(name, row, can),
      graph.section
    );
    const browser = el("section", { id: "browser" });
    if (can("read")) {
      view.append(await attributesSection(name, can("manage")), browser);
    }

    async function refresh() {
      const overview = await api("GET", API + "/overview?queue=" + encodeURIComponent(name));
      const current = overview.queues[0];
      counts.replaceChildren(
        ...[
          ["visible", "Visible", current.visible_messages],
          ["in_flight", "In flight", current.in_flight_messages],
          ["delayed", "Delayed", current.delayed_messages],
          ["total", "Total", current.message_count],
          ["dead_letters", "Dead letters", deadLetterText(current)],
          ["oldest", "Oldest message", age(current.oldest_message_age_seconds)],
        ].map(([id, title, value]) =>
          el("div", {}, el("dt", {}, title), el("dd", { "data-count": id, class: typeof value === "string" ? "words" : null }, value))
        )
      );
      graph.update(overview.throughput);
      if (can("read")) await renderMessages(browser, name, can("delete"));
    }
    await refresh();
    return refresh;
  }

  function actions(name, row, can) {
    const bar = el("div", { class: "actions", id: "actions" });
    const done = (text) => {
      notify(text, true);
      route();
    };
    if (can("write")) {
      bar.append(
        el(
          "button",
          {
            type: "button",
            id: "send-test",
            onclick: async () => {
              const body = { message_body: { test: true, sent_from: "dashboard", at: new Date().toISOString() } };
              try {
                const answer = await api("POST", q(name) + "/messages", body);
                done("Sent a test message: " + answer.id);
              } catch (error) {
                failed(error);
              }
            },
          },
          "Send a test message"
        )
      );
    }
    if (can("manage") && row.dead_letter_for.length) {
      bar.append(
        el(
          "button",
          {
            type: "button",
            id: "redrive",
            onclick: async () => {
              try {
                const answer = await api("POST", q(name) + "/redrive");
                done("Moved " + answer.moved + " message(s) back to " + row.dead_letter_for.join(", ") + ".");
              } catch (error) {
                failed(error);
              }
            },
          },
          "Redrive to " + row.dead_letter_for.join(", ")
        )
      );
    }
    if (can("manage")) {
      const confirmBox = el("span", { class: "actions", hidden: true });
      const ask = el("button", { type: "button", id: "purge", class: "danger" }, "Purge...");
      const really = el(
        "button",
        {
          type: "button",
          id: "purge-confirm",
          class: "danger",
          onclick: async () => {
            try {
              await api("DELETE", q(name) + "/messages");
              done("Purged every message of " + name + ".");
            } catch (error) {
              failed(error);
            }
          },
        },
        "Yes, delete every message"
      );
      const cancel = el("button", { type: "button", onclick: () => { confirmBox.hidden = true; ask.hidden = false; } }, "Cancel");
      ask.addEventListener("click", () => {
        confirmBox.hidden = false;
        ask.hidden = true;
        really.focus();
      });
      confirmBox.append("Purge " + name + "? This cannot be undone.", really, cancel);
      bar.append(ask, confirmBox);
    }
    if (!bar.childElementCount) bar.append(el("span", { class: "meta" }, "This key may not change this queue."));
    return el("section", {}, el("h2", {}, "Actions"), bar);
  }

  async function attributesSection(name, editable) {
    const attributes = await api("GET", q(name) + "/attributes");
    const grid = el("div", { class: "attributes" });
    const inputs = {};
    for (const [key, title] of ATTRIBUTES) {
      const value = attributes[key] === null ? "" : String(attributes[key]);
      const id = "attr-" + key;
      if (editable) {
        inputs[key] = el("input", { id: id, name: key, value: value, inputmode: key === "dead_letter_queue" ? "text" : "decimal" });
        grid.append(el("label", { for: id }, title), inputs[key]);
      } else {
        grid.append(el("span", {}, title), el("span", { id: id, class: "mono" }, value || "-"));
      }
    }
    const section = el("section", { id: "attributes" }, el("h2", {}, "Attributes"));
    if (!editable) {
      section.append(grid);
      return section;
    }
    const form = el("form", { id: "attributes-form" }, grid, el("button", { type: "submit" }, "Save attributes"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const changes = {};
      for (const [key] of ATTRIBUTES) {
        const text = inputs[key].value.trim();
        if (key === "dead_letter_queue") changes[key] = text || null;
        else changes[key] = text === "" ? null : Number(text);
      }
      for (const key of ["visibility_timeout", "delay_seconds", "wait_time_seconds"]) {
        if (changes[key] === null) delete changes[key];
      }
      try {
        await api("PATCH", q(name) + "/attributes", changes);
        notify("Saved the attributes of " + name + ".", true);
      } catch (error) {
        failed(error);
      }
    });
    section.append(form);
    return section;
  }

  async function renderMessages(section, name, canDelete) {
    const page = await api("GET", q(name) + "/messages?limit=" + PAGE_SIZE + "&offset=" + state.offset);
    if (page.count === 0 && state.offset > 0) {
      state.offset = Math.max(0, state.offset - PAGE_SIZE);
      return;
    }
    const rows = page.messages.map((message) =>
      el(
        "tr",
        { "data-id": message.id },
        el("td", {}, el("a", { href: "#/queue/" + encodeURIComponent(name) + "/message/" + encodeURIComponent(message.id) }, message.id)),
        el("td", {}, stateOf(message)),
        el("td", { class: "num" }, message.receive_count),
        el("td", { class: "mono" }, message.timestamp)
      )
    );
    const head = el(
      "tr",
      {},
      el("th", { scope: "col" }, "Id"),
      el("th", { scope: "col" }, "State"),
      el("th", { scope: "col", class: "num" }, "Receives"),
      el("th", { scope: "col" }, "Sent (UTC)")
    );
    const from = page.count ? page.offset + 1 : 0;
    const pager = el(
      "div",
      { class: "pager" },
      el("button", { type: "button", id: "previous-page", disabled: page.offset === 0, onclick: () => { state.offset = Math.max(0, state.offset - PAGE_SIZE); route(); } }, "Previous"),
      el("span", { id: "page-info" }, page.total ? "Messages " + from + "-" + (page.offset + page.count) + " of " + page.total : "No messages"),
      el("button", { type: "button", id: "next-page", disabled: !page.has_more, onclick: () => { state.offset += PAGE_SIZE; route(); } }, "Next")
    );
    const intro = el("p", { class: "meta" }, "Looking does not receive: messages stay as they are." + (canDelete ? " Open one to delete it." : ""));
    section.replaceChildren(
      el("h2", {}, "Messages"),
      intro,
      pager,
      el("div", { class: "scroll" }, el("table", { id: "messages" }, el("thead", {}, head), el("tbody", {}, ...rows)))
    );
  }

  // A hidden message never received is waiting for its delay; one received is in flight.
  function stateOf(message) {
    if (message.status !== "in_flight") return "visible";
    return message.receive_count === 0 ? "delayed" : "in flight";
  }

  // -- one message ---------------------------------------------------------------------------

  async function messageView(view, name, id) {
    document.title = id + " - " + name + " - PyQueue";
    const permissions = await api("GET", API + "/auth/permissions/" + encodeURIComponent(name));
    const message = await api("GET", q(name) + "/message/" + encodeURIComponent(id));
    const facts = el("dl", { class: "counts" });
    for (const [title, value] of [
      ["State", stateOf(message)],
      ["Receives", message.receive_count],
      ["Sent (UTC)", message.timestamp],
      ["First received", message.first_received_at || "never"],
      ["Hidden until", message.invisible_until || "-"],
    ]) {
      facts.append(el("div", {}, el("dt", {}, title), el("dd", { class: "mono" }, value)));
    }
    view.append(
      el("p", {}, el("a", { href: "#/queue/" + encodeURIComponent(name) }, "Back to " + name)),
      el("h1", {}, "Message ", el("span", { class: "mono" }, id)),
      facts,
      el("h2", {}, "Body"),
      el("pre", { class: "body", id: "message-body" }, JSON.stringify(message.message_body, null, 2))
    );
    if (permissions.can_delete) {
      view.append(
        el(
          "div",
          { class: "actions" },
          el(
            "button",
            {
              type: "button",
              id: "delete-message",
              class: "danger",
              onclick: async () => {
                try {
                  await api("DELETE", q(name) + "/messages/by-id/" + encodeURIComponent(id));
                  notify("Deleted message " + id + ".", true);
                  location.hash = "#/queue/" + encodeURIComponent(name);
                } catch (error) {
                  failed(error);
                }
              },
            },
            "Delete this message"
          )
        )
      );
    }
    return null;
  }

  // -- start ---------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("sign-in-form").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", () => signOut("Signed out."));
    window.addEventListener("hashchange", () => {
      state.offset = 0;
      route();
    });
    route();
  });
})();
