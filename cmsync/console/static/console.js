// The console's live parts: the settings page follows /api/live, Sync Now starts a run without a reload,
// and the run history refreshes while a run is in flight. No framework, no build step.
"use strict";

const POLL_MS = 1000;

function csrf() {
  return document.body.dataset.csrf || "";
}

function setText(name, text) {
  for (const element of document.querySelectorAll(`[data-live="${name}"]`)) {
    if (element.textContent !== text) element.textContent = text;
  }
}

function outcomes(counts) {
  return Object.entries(counts).map(([outcome, n]) => `${n} ${outcome}`).join(", ");
}

function showRun(state) {
  const run = state.current_run || state.last_run;
  const line = document.getElementById("run-line");
  const body = document.querySelector("#run-counts tbody");
  if (!line || !body) return;
  if (!run) {
    line.textContent = "No run yet.";
    return;
  }
  const status = state.current_run ? "running" : run.status;
  const error = run.error ? ` (${run.error})` : "";
  line.textContent = `Run ${run.id} (${run.trigger}): ${status}${error}`;
  const rows = run.counts.map((row) => {
    const tr = document.createElement("tr");
    const name = document.createElement("td");
    name.textContent = row.object;
    const records = document.createElement("td");
    records.textContent = outcomes(row.outcomes);
    tr.append(name, records);
    return tr;
  });
  body.replaceChildren(...rows);
}

function showState(state) {
  setText("connection", state.connection);
  for (const badge of document.querySelectorAll('[data-live="connection"]')) {
    badge.className = `badge ${state.connection}`;
  }
  setText("last_sync", state.last_sync || "never");
  setText("next_run", state.next_run);
  setText("rejected_records", String(state.rejected_records));
  setText("sync_reason", state.sync_now.reason || "");
  for (const id of ["sync-now-button", "full-sync-button"]) {
    const button = document.getElementById(id);
    if (button) button.disabled = !state.sync_now.allowed;
  }
  showRun(state);
}

async function followLive() {
  try {
    const response = await fetch("/api/live", { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (response.status === 401) {
      window.location.assign("/signin?next=/");
      return;
    }
    if (response.ok) showState(await response.json());
  } catch (error) {
    setText("sync_reason", "the console cannot reach cmsync; retrying");
  }
}

async function submitAction(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const result = document.getElementById("action-result");
  const response = await fetch(form.action, {
    method: "POST",
    body: new FormData(form),
    headers: { Accept: "application/json", "X-CSRF-Token": csrf() },
    credentials: "same-origin",
  });
  let said = { ok: false, message: `refused (${response.status})` };
  try {
    said = await response.json();
  } catch (error) {
    said.message = await response.text().catch(() => said.message);
  }
  if (result) {
    result.hidden = false;
    result.className = `message ${said.ok ? "ok" : "error"}`;
    result.textContent = said.message;
  }
  followLive();
}

// Every second while a run is in flight, every few seconds otherwise (a new run shows up by itself).
async function refreshFragment(container) {
  try {
    const response = await fetch(container.dataset.refresh, { credentials: "same-origin" });
    if (response.ok) container.innerHTML = await response.text();
  } catch (error) {
    // The next round tries again.
  }
  const busy = container.querySelector("[data-in-flight]") !== null;
  window.setTimeout(() => refreshFragment(container), busy ? POLL_MS : 5 * POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.getElementById("sync-now")) {
    for (const form of document.querySelectorAll('form[data-action="sync-now"]')) {
      form.addEventListener("submit", submitAction);
    }
    window.setInterval(followLive, POLL_MS);
  }
  const history = document.querySelector("[data-refresh]");
  if (history) window.setTimeout(() => refreshFragment(history), POLL_MS);
});
