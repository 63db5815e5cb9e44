// The traveller's chat page. Each question is one streamed turn (POST /api/chat/stream); when its stream is
// cut (a lost connection, a worker restarting: the `resume` event, a reload of the page) the page resumes
// from the turn's resume_url with the last event id it got, so the answer is shown whole and once.
"use strict";

const SESSION_KEY = "travel_agent.session";
const TURN_KEY = "travel_agent.turn"; // the turn being written, so a reload resumes it
const $ = (id) => document.getElementById(id);
const state = { sessionId: sessionStorage.getItem(SESSION_KEY), busy: false };

function headers(extra) {
  const all = Object.assign({}, extra);
  const key = $("api-key").value.trim();
  if (key) all.Authorization = "Bearer " + key;
  return all;
}

function bubble(role, text) {
  const node = document.createElement("div");
  node.className = "bubble " + role;
  node.textContent = text;
  $("log").appendChild(node);
  node.scrollIntoView({ block: "end" });
  return node;
}

function status(text) {
  $("status").textContent = text;
}

function newKey() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return Date.now().toString(36) + Math.random().toString(36).slice(2);
}

function parseBlock(block) {
  const event = { id: null, event: "message", data: "" };
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue; // a heartbeat
    const cut = line.indexOf(":");
    const name = line.slice(0, cut);
    const value = line.slice(cut + 1).replace(/^ /, "");
    if (name === "id") event.id = value;
    else if (name === "event") event.event = value;
    else if (name === "data") event.data += value;
  }
  return event.data ? Object.assign(event, { data: JSON.parse(event.data) }) : null;
}

// Reads a text/event-stream body, handing each event to onEvent until it returns false or the body ends.
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = parseBlock(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
      if (event && onEvent(event) === false) {
        reader.cancel().catch(() => {});
        return;
      }
    }
  }
}

function save(turn) {
  sessionStorage.setItem(TURN_KEY, JSON.stringify({
    message: turn.message, key: turn.key, url: turn.url, lastId: turn.lastId, text: turn.text,
  }));
}

function handle(turn, event) {
  if (event.event !== "resume" && event.id !== null) turn.lastId = event.id;
  switch (event.event) {
    case "start":
      turn.url = event.data.resume_url;
      state.sessionId = event.data.session_id;
      sessionStorage.setItem(SESSION_KEY, state.sessionId);
      break;
    case "chunk":
      turn.text += event.data.text;
      turn.node.textContent = turn.text;
      break;
    case "restart": // the answer starts again after a take-over in restart mode
      turn.text = "";
      turn.node.textContent = "";
      break;
    case "done":
      turn.end = "done";
      return false;
    case "error":
      turn.end = "error";
      turn.error = event.data.message;
      return false;
    case "resume": // the worker is restarting: reconnect
      return false;
  }
  save(turn);
  status("");
  return true;
}

async function follow(turn) {
  let attempt = 0;
  while (!turn.end) {
    try {
      let response;
      if (!turn.url) {
        response = await fetch("/api/chat/stream", {
          method: "POST",
          headers: headers({ "Content-Type": "application/json", "Idempotency-Key": turn.key }),
          body: JSON.stringify({ message: turn.message, session_id: turn.sessionId }),
        });
      } else {
        const last = turn.lastId === null ? {} : { "Last-Event-ID": turn.lastId };
        response = await fetch(turn.url, { headers: headers(last), cache: "no-store" });
      }
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        if (response.status < 500 && response.status !== 409 && response.status !== 429) {
          turn.end = "error";
          turn.error = body.message || "The request was refused (" + response.status + ").";
          break;
        }
        throw new Error(body.message || String(response.status));
      }
      attempt = 0;
      await readEvents(response, (event) => handle(turn, event));
    } catch (error) {
      // the connection dropped or the service is restarting: resume below
    }
    if (!turn.end) {
      status("Reconnecting…");
      await new Promise((done) => setTimeout(done, Math.min(4000, 250 * 2 ** attempt++)));
    }
  }
  turn.node.dataset.state = turn.end;
  if (turn.end === "error") {
    turn.node.textContent = turn.text ? turn.text + "\n\n" + turn.error : turn.error;
  }
  sessionStorage.removeItem(TURN_KEY);
  status("");
}

async function ask(turn) {
  state.busy = true;
  $("send").disabled = true;
  turn.node = bubble("assistant", turn.text || "");
  turn.node.dataset.state = "streaming";
  try {
    await follow(turn);
  } finally {
    state.busy = false;
    $("send").disabled = false;
  }
}

$("ask").addEventListener("submit", (event) => {
  event.preventDefault();
  const message = $("message").value.trim();
  if (!message || state.busy) return;
  $("message").value = "";
  bubble("user", message);
  ask({ message, key: newKey(), sessionId: state.sessionId, url: null, lastId: null, text: "", end: null });
});

$("message").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("ask").requestSubmit();
  }
});

$("new-chat").addEventListener("click", () => {
  if (state.busy) return;
  state.sessionId = null;
  sessionStorage.removeItem(SESSION_KEY);
  $("log").textContent = "";
});

// A reload in the middle of an answer: pick the turn up where the page left it.
const pending = sessionStorage.getItem(TURN_KEY);
if (pending) {
  const turn = Object.assign(JSON.parse(pending), { end: null });
  bubble("user", turn.message);
  ask(turn);
}
