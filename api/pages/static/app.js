/* Over de schutting: small enhancements on top of pages that work without JavaScript.
   - drag and drop onto file inputs ([data-dropzone])
   - a busy message while an upload form is sent
   - Beheer: sign in with the admin token, upload, start a re-index, follow jobs live
   No data is ever inserted as HTML: everything goes through textContent. */
"use strict";

document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-dropzone]").forEach(setupDropzone);
  document.querySelectorAll("form[data-busy-text]").forEach(setupBusyForm);
  const admin = document.querySelector("[data-admin]");
  if (admin) setupAdmin(admin);
  focusPassage();
});

function setupDropzone(zone) {
  const input = zone.querySelector('input[type="file"]');
  const label = zone.querySelector("[data-file-name]");
  const show = () => {
    const names = Array.from(input.files || []).map((f) => f.name);
    label.textContent = names.length ? "Gekozen: " + names.join(", ") : label.dataset.empty || "";
  };
  show();
  input.addEventListener("change", show);
  ["dragenter", "dragover"].forEach((type) =>
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("is-dragover");
    })
  );
  ["dragleave", "dragend"].forEach((type) =>
    zone.addEventListener(type, () => zone.classList.remove("is-dragover"))
  );
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("is-dragover");
    const files = event.dataTransfer && event.dataTransfer.files;
    if (!files || !files.length) return;
    const transfer = new DataTransfer();
    const wanted = input.multiple ? Array.from(files) : [files[0]];
    wanted.forEach((file) => transfer.items.add(file));
    input.files = transfer.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  });
}

function setupBusyForm(form) {
  form.addEventListener("submit", () => {
    const status = form.querySelector("[data-form-status]");
    const button = form.querySelector('button[type="submit"]');
    if (button) button.setAttribute("aria-disabled", "true");
    form.setAttribute("aria-busy", "true");
    if (!status) return;
    // Progress while the server reads and compares: a bar and the seconds so far (the page is replaced
    // by the answer; a long draft is read only as far as the comparison needs).
    const bar = el("progress", { class: "busy-bar", "aria-label": form.dataset.busyText });
    const text = el("span", {}, form.dataset.busyText);
    status.replaceChildren(bar, el("br"), text);
    const started = Date.now();
    setInterval(() => {
      const seconds = Math.round((Date.now() - started) / 1000);
      text.textContent = form.dataset.busyText + " " + seconds + " s";
    }, 1000);
  });
}

function focusPassage() {
  if (location.hash !== "#passage") return;
  const mark = document.getElementById("passage");
  if (mark) mark.focus({ preventScroll: true });
}

/* ---------- Beheer ---------- */

const TOKEN_KEY = "schutting-beheerderstoken";
const STATES = { queued: "In de wachtrij", running: "Bezig", done: "Klaar", failed: "Mislukt" };
const KINDS = { ingest: "Documenten toevoegen", reindex: "Herindexeren", embed: "Semantische index aanvullen" };

function setupAdmin(root) {
  document.querySelectorAll("[data-needs-js]").forEach((notice) => notice.remove());
  root.hidden = false;
  const $ = (selector) => root.querySelector(selector);
  const ui = {
    tokenForm: $("[data-token-form]"), tokenStatus: $("[data-token-status]"),
    signedIn: $("[data-signed-in]"), tools: $("[data-admin-tools]"),
    ingestForm: $("[data-ingest-form]"), reindex: $("[data-reindex]"),
    reindexStatus: $("[data-reindex-status]"), jobs: $("[data-jobs]"),
  };
  const state = { token: sessionStorage.getItem(TOKEN_KEY) || "", timer: null, details: new Map() };

  async function call(method, path, body) {
    const response = await fetch(path, {
      method, body, headers: { Authorization: "Bearer " + state.token, Accept: "application/json" },
    });
    let data = null;
    try { data = await response.json(); } catch (error) { data = null; }
    if (!response.ok) {
      const problem = new Error((data && data.melding) || "Er ging iets mis (foutcode " + response.status + ").");
      problem.status = response.status;
      throw problem;
    }
    return data;
  }

  function signedIn(yes) {
    ui.tokenForm.hidden = yes;
    ui.signedIn.hidden = !yes;
    ui.tools.hidden = !yes;
  }

  async function signIn(token) {
    state.token = token;
    try {
      await refresh();
    } catch (error) {
      state.token = "";
      sessionStorage.removeItem(TOKEN_KEY);
      signedIn(false);
      say(ui.tokenStatus, error.status === 401 || error.status === 403 ? "Dit token klopt niet. Controleer het en probeer opnieuw." : error.message, true);
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    signedIn(true);
    say(ui.tokenStatus, "");
  }

  ui.tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    signIn(ui.tokenForm.elements.token.value.trim());
  });
  root.querySelector("[data-sign-out]").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = "";
    clearTimeout(state.timer);
    signedIn(false);
    ui.tokenForm.elements.token.value = "";
    ui.tokenForm.elements.token.focus();
    say(ui.tokenStatus, "U bent afgemeld.");
  });

  ui.ingestForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = ui.ingestForm.querySelector("[data-form-status]");
    const data = new FormData();
    const files = ui.ingestForm.elements.files.files;
    if (!files.length) return say(status, "Kies eerst één of meer bestanden.", true);
    Array.from(files).forEach((file) => data.append("files", file));
    ["municipality", "type", "date"].forEach((name) => {
      const value = ui.ingestForm.elements[name].value.trim();
      if (value) data.append(name, value);
    });
    const started = await startJob(status, () => call("POST", "/admin/ingest", data), files.length + " bestand(en) geüpload.");
    if (!started) return; // keep the chosen files and fields, so the admin can fix and send again
    ui.ingestForm.reset();
    ui.ingestForm.elements.files.dispatchEvent(new Event("change"));
  });

  ui.reindex.addEventListener("click", () =>
    startJob(ui.reindexStatus, () => call("POST", "/admin/reindex"), "Herindexering gestart.")
  );

  async function startJob(status, request, message) {
    say(status, "Bezig met versturen…");
    let started = false;
    try {
      const job = await request();
      const id = job && (job.id || (job.job && job.job.id));
      say(status, message + (id ? " Taak " + id + " staat hieronder." : ""), false, true);
      started = true;
    } catch (error) {
      say(status, error.status === 401 || error.status === 403 ? "U bent niet (meer) aangemeld als beheerder." : error.message, true);
    }
    await refresh().catch(() => {});
    return started;
  }

  async function refresh() {
    clearTimeout(state.timer);
    const data = await call("GET", "/admin/jobs");
    const jobs = Array.isArray(data) ? data : (data && data.jobs) || [];
    await Promise.all(jobs.slice(0, 10).filter(needsDetail).map(async (job) => {
      try { state.details.set(job.id, await call("GET", "/admin/jobs/" + job.id)); } catch (error) { /* shown next time */ }
    }));
    renderJobs(ui.jobs, jobs.map((job) => Object.assign({}, job, state.details.get(job.id) || {})));
    if (jobs.some((job) => job.state === "queued" || job.state === "running")) {
      state.timer = setTimeout(() => refresh().catch(() => {}), 1000);
    }
  }

  function needsDetail(job) {
    const seen = state.details.get(job.id);
    return (job.failed > 0 || job.state === "failed") && (!seen || seen.state !== job.state || seen.failed !== job.failed);
  }

  if (state.token) signIn(state.token);
}

function say(element, text, isError = false, isOk = false) {
  element.textContent = text;
  element.classList.toggle("is-error", isError);
  element.classList.toggle("is-ok", isOk);
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  Object.entries(attributes).forEach(([key, value]) => node.setAttribute(key, value));
  children.filter((c) => c !== null && c !== undefined).forEach((c) => node.append(c));
  return node;
}

function renderJobs(container, jobs) {
  container.replaceChildren();
  if (!jobs.length) {
    container.append(el("p", {}, "Nog geen taken."));
    return;
  }
  const head = el("tr", {}, ...["Taak", "Status", "Voortgang", "Resultaat"].map((h) => el("th", { scope: "col" }, h)));
  const table = el("table", { class: "jobs-table" }, el("caption", { class: "visually-hidden" }, "Taken, nieuwste eerst"),
    el("thead", {}, head), el("tbody", {}, ...jobs.map(jobRow)));
  container.append(table);
}

function jobRow(job) {
  const started = job.started_at || job.created_at;
  const when = started ? new Date(started).toLocaleString("nl-NL", { dateStyle: "short", timeStyle: "short" }) : "";
  const title = el("td", {}, el("strong", {}, KINDS[job.kind] || job.kind), el("br"), "Taak " + job.id + (when ? " · " + when : ""));
  const status = el("td", {}, el("span", { class: "state state-" + job.state, "data-job-state": job.state }, STATES[job.state] || job.state));
  if (job.state === "failed" && job.error) {
    status.append(el("br"), el("span", { class: "muted" }, "Technische melding: "), el("span", { lang: "en" }, job.error));
  }
  return el("tr", { "data-job": job.id }, title, status, progressCell(job), resultCell(job));
}

function progressCell(job) {
  const cell = el("td");
  const processed = job.processed !== undefined ? job.processed : job.done + job.failed + job.skipped;
  const bar = el("progress", { max: String(job.total || 1), "aria-label": "Voortgang taak " + job.id });
  if (job.total) bar.value = processed;
  else if (job.state === "done") bar.value = 1;
  else bar.removeAttribute("value");
  const unit = job.kind === "embed" ? " passages" : " documenten";
  cell.append(bar, el("br"), job.total ? processed + " van " + job.total + unit : processed + unit);
  if (job.kind === "embed" && job.state === "running") cell.append(el("br"), el("span", { class: "muted" }, embedPace(job)));
  const failed = new Set((job.errors || []).map((e) => baseName(Array.isArray(e) ? e[0] : e.source || "")));
  if (job.kind !== "embed" && job.state === "running" && job.current && !failed.has(baseName(job.current))) {
    cell.append(el("br"), el("span", { class: "muted" }, "Bezig met: " + baseName(job.current)));
  }
  return cell;
}

// An embed job's pace: passages per second and the time left, in Dutch.
function embedPace(job) {
  const rate = job.rate ? job.rate.toLocaleString("nl-NL", { maximumFractionDigits: 1 }) + " passages per seconde" : "snelheid nog onbekend";
  if (job.eta_seconds === null || job.eta_seconds === undefined) return rate;
  const minutes = Math.round(job.eta_seconds / 60);
  return rate + " · nog ongeveer " + (minutes < 1 ? "een minuut" : minutes + " minuten");
}

function resultCell(job) {
  if (job.kind === "embed") {
    const share = job.result && job.result.semantic_coverage !== undefined ? Math.floor(job.result.semantic_coverage * 100) : null;
    return el("td", {}, job.chunks + " passages verwerkt" + (share !== null ? "; semantische index " + share + "% gereed" : ""));
  }
  const parts = [job.done + " verwerkt"];
  if (job.skipped) parts.push(job.skipped + " ongewijzigd");
  if (job.removed) parts.push(job.removed + " verwijderd");
  parts.push(job.failed + " mislukt");
  const cell = el("td", {}, parts.join(", "));
  const errors = (job.errors || []).map((e) => (Array.isArray(e) ? { source: e[0], reason: e[1] } : e));
  if (errors.length) {
    const list = el("ul", { class: "job-errors", "aria-label": "Documenten die niet konden worden verwerkt" });
    errors.forEach((e) => list.append(el("li", {}, el("strong", {}, baseName(e.source || "")), ": ",
      e.melding || "kon niet worden verwerkt.",
      el("br"), el("span", { class: "muted technical" }, "Technische melding: ", el("span", { lang: "en" }, e.reason || "")))));
    cell.append(list);
  }
  return cell;
}

function baseName(path) {
  return String(path).split(/[\\/]/).pop();
}
