// Otklik pages: submit a card's forms in place, keyboard shortcuts in the queue, a live dashboard.
// No framework and no build step: every page also works without this file (forms redirect back).
"use strict";

const FRAGMENT = { "X-Otklik-Fragment": "1" };

async function submitInPlace(event) {
  const form = event.target;
  if (!form.matches("form[data-fragment]")) return;
  event.preventDefault();
  const card = form.closest(".card");
  const body = new FormData(form, event.submitter || undefined);
  for (const button of form.querySelectorAll("button")) button.disabled = true;
  let response;
  try {
    // getAttribute: `form.action` would be the form's own field named "action"
    response = await fetch(form.getAttribute("action"), { method: "POST", body, headers: FRAGMENT, credentials: "same-origin" });
  } catch (err) {
    showMessage(card, "Сервер недоступен: проверьте связь и повторите.");
    for (const button of form.querySelectorAll("button")) button.disabled = false;
    return;
  }
  if (response.status === 401) { window.location.assign("/ui/login?next=" + encodeURIComponent(location.pathname)); return; }
  const html = await response.text();
  if (html.trim().startsWith("<article")) {
    card.outerHTML = html;  // the card as it is now: decided, answered, or the current state after a conflict
    const fresh = document.getElementById(card.id);
    if (fresh) { fresh.classList.add("selected"); fresh.focus({ preventScroll: true }); }
  } else {
    showMessage(card, new DOMParser().parseFromString(html, "text/html").body.textContent.trim());
    for (const button of form.querySelectorAll("button")) button.disabled = false;
  }
}

function showMessage(card, text) {
  let box = card.querySelector(":scope > .message");
  if (!box) { box = document.createElement("p"); card.prepend(box); }
  box.className = "message error";
  box.setAttribute("role", "alert");
  box.textContent = text;
}

// A runner-up under the suggested body fills the correction form's agency and opens it; "Исправить и
// направить" (now focused) sends it.
function chooseRunnerUp(event) {
  const button = event.target.closest("button.runner-up");
  if (!button) return;
  const card = button.closest(".card");
  const details = card && card.querySelector("details.correct");
  const agency = details && details.querySelector("select[name=agency]");
  if (!agency || !agency.querySelector(`option[value="${CSS.escape(button.dataset.agency)}"]`)) return;
  agency.value = button.dataset.agency;
  details.open = true;
  details.querySelector("button[type=submit]").focus();
}

// Keyboard: J/K move between cards, A accepts, C opens the correction, D focuses the dismissal reason.
function cards() { return Array.from(document.querySelectorAll(".page-queue .card")); }

function select(card) {
  for (const c of cards()) c.classList.toggle("selected", c === card);
  if (card) { card.focus({ preventScroll: true }); card.scrollIntoView({ block: "nearest" }); }
}

function onKey(event) {
  if (!document.body.classList.contains("page-queue")) return;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target.closest("input, textarea, select")) return;
  const list = cards();
  if (!list.length) return;
  let current = document.querySelector(".page-queue .card.selected") || null;
  const key = event.key.toLowerCase();
  const at = current ? list.indexOf(current) : -1;
  if (key === "j" || key === "о") { select(list[Math.min(at + 1, list.length - 1)]); event.preventDefault(); return; }
  if (key === "k" || key === "л") { select(list[Math.max(at - 1, 0)]); event.preventDefault(); return; }
  if (!current) { current = list[0]; select(current); }
  if (key === "a" || key === "ф") {
    const button = current.querySelector("button[data-key=a]");
    if (button) { button.click(); event.preventDefault(); }
  } else if (key === "c" || key === "с") {
    const details = current.querySelector("details.correct");
    if (details) { details.open = true; details.querySelector("select").focus(); event.preventDefault(); }
  } else if (key === "d" || key === "в") {
    const reason = current.querySelector(".dismiss input[name=reason]");
    if (reason) { reason.focus(); event.preventDefault(); }
  }
}

// The dashboard: its live feed (Server-Sent Events, authenticated by the session cookie) sends an event
// whenever the caller's counters change, and the page then fetches its body. Polling every 5 s is the
// fallback for a browser without EventSource or a feed refused for good; `data-mode` says which runs.
const POLL_MS = 5000;

function live() {
  const box = document.getElementById("dashboard");
  if (!box || !box.dataset.live) return;
  const note = document.querySelector(".live");
  let last = null;
  let busy = false;
  let again = false;

  async function refresh() {
    if (busy) { again = true; return; }  // an event during a fetch: one more fetch after it
    busy = true;
    try {
      do {
        again = false;
        const response = await fetch(box.dataset.live, { headers: FRAGMENT, credentials: "same-origin" });
        if (response.status === 401) {
          window.location.assign("/ui/login?next=" + encodeURIComponent(location.pathname + location.search));
          return;
        }
        if (!response.ok) continue;
        const html = await response.text();
        if (html !== last) { box.innerHTML = html; last = html; }
      } while (again);
    } catch (err) { /* offline for a moment: the next event or tick tries again */ }
    finally { busy = false; }
  }

  function mode(name, title) {
    box.dataset.mode = name;
    if (note) note.title = title;
  }

  function poll() {
    mode("poll", "сводка обновляется каждые 5 секунд");
    setInterval(refresh, POLL_MS);
  }

  if (!box.dataset.stream || typeof EventSource === "undefined") { poll(); return; }
  const feed = new EventSource(box.dataset.stream);
  mode("stream", "сводка обновляется сразу, как меняются счётчики");
  feed.addEventListener("stats", refresh);
  feed.addEventListener("error", () => {
    // A dropped connection (or the feed's planned end) is retried by EventSource itself: readyState is
    // CONNECTING. CLOSED means refused (401 after the session ended, 403, not an event stream): one fetch
    // (which sends an ended session to the login form), then polling.
    if (feed.readyState !== EventSource.CLOSED) return;
    refresh();
    poll();
  });
}

document.addEventListener("submit", submitInPlace);
document.addEventListener("click", chooseRunnerUp);
document.addEventListener("keydown", onKey);
document.addEventListener("DOMContentLoaded", live);
