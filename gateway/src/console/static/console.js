// labgate console: progressive enhancement only. Every page works without this script; here
// forms that act ask for confirmation, and the live page follows the site over server-sent events.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.classList || !form.classList.contains("confirm")) return;
  const question = document.body.dataset.confirm || "OK?";
  if (!window.confirm(question)) event.preventDefault();
});

function describe(line) {
  const d = line.data || {};
  const where = d.door || d.machine || "";
  const parts = [d.time || "", where, d.member || "", d.kind || d.phase || d.state || d.lock || "",
                 d.decision || "", d.reason || ""];
  return parts.filter((p) => p !== "").join(" ");
}

// The page's own names for states (the server renders them in the account's language).
let labels = null;
function stateLabel(kind, state) {
  if (labels === null) {
    const holder = document.getElementById("state-labels");
    try {
      labels = holder ? JSON.parse(holder.dataset.labels) : {};
    } catch (e) {
      labels = {};
    }
  }
  return (labels[kind] && labels[kind][state]) || state;
}

function applyState(line) {
  const d = line.data || {};
  if (line.stream !== "state") return;
  let el = null;
  if (d.door) el = document.querySelector(`[data-door="${CSS.escape(d.door)}"]`);
  if (d.machine) el = document.querySelector(`[data-machine="${CSS.escape(d.machine)}"]`);
  if (!el) return;
  const state = d.state || d.lock || "";
  el.dataset.state = state;
  const label = el.querySelector(".state");
  if (label) label.textContent = stateLabel(d.door ? "door" : "machine", state);
  const user = el.querySelector(".user");
  if (user && "user" in d) user.textContent = d.user || "-";
}

function follow(list) {
  const source = new EventSource(list.dataset.live);
  source.onmessage = (message) => {
    let line;
    try {
      line = JSON.parse(message.data);
    } catch (e) {
      return;
    }
    applyState(line);
    const item = document.createElement("li");
    item.dataset.seq = String(line.seq);
    item.dataset.stream = line.stream || "";
    item.textContent = describe(line);  // textContent: nothing from the stream becomes markup
    list.prepend(item);
    while (list.children.length > 200) list.lastElementChild.remove();
  };
}

document.addEventListener("DOMContentLoaded", () => {
  const list = document.getElementById("events");
  if (list && list.dataset.live && window.EventSource) follow(list);
});
