// The review pages: a reviewer's page (/r/TOKEN), one item at a time,
// keyboard first; and the admin page (/admin/TOKEN), progress and
// agreement. Text is only ever set as text, never parsed as HTML.
"use strict";

const parts = location.pathname.split("/");
const token = parts[parts.length - 1];
const $ = (id) => document.getElementById(id);

async function api(path, body) {
  const options = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, options);
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

function status(text, error) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

if (parts[1] === "admin") admin(); else reviewer();

async function admin() {
  try {
    const data = await api(`/api/admin/${token}`);
    const body = document.querySelector("#progress tbody");
    for (const [name, p] of Object.entries(data.progress)) {
      const row = body.insertRow();
      for (const text of [name, String(p.done), String(p.assigned)]) row.insertCell().textContent = text;
    }
    const shown = (m) => (m.value === null ? "undefined" : m.value.toFixed(3)) + ` (n=${m.items})`;
    const rows = document.querySelector("#agreement tbody");
    const add = (label, m) => { const row = rows.insertRow(); row.insertCell().textContent = label; row.insertCell().textContent = shown(m); };
    for (const pair of data.stats.pairs) add(`Cohen's kappa ${pair.reviewers.join(" / ")}`, pair.kappa);
    add("Fleiss' kappa", data.stats.fleiss_kappa);
    add("Krippendorff's alpha (nominal)", data.stats.krippendorff_alpha.nominal);
    status(`${data.stats.verdicts} verdicts on ${data.stats.items} items`);
  } catch (e) {
    status(e.message, true);
  }
}

function reviewer() {
  let state = null;
  let index = 0;
  let pendingScore = null;
  const undo = []; // {item, previous verdict or null}

  const item = () => state.items[index];
  const mine = () => state.verdicts[item().id] || null;

  function render() {
    const it = item();
    $("position").textContent = String(index + 1);
    $("total").textContent = String(state.items.length);
    $("progress").textContent = String(Object.keys(state.verdicts).length);
    $("input").textContent = it.input;
    $("output").textContent = it.output;
    const refs = $("references");
    refs.replaceChildren(...it.references.map((r) => { const li = document.createElement("li"); li.textContent = r; return li; }));
    $("references-section").hidden = it.references.length === 0;
    $("record-section").hidden = it.record === null;
    $("record").textContent = it.record || "";
    $("held").textContent = it.held_because ? `Held because: ${it.held_because}` : "";
    $("scores-section").hidden = !it.scores;
    const table = $("scores");
    table.replaceChildren();
    for (const [name, value] of Object.entries(it.scores || {})) {
      const row = table.insertRow();
      row.insertCell().textContent = name;
      row.insertCell().textContent = String(Math.round(value * 1000) / 1000);
    }
    const verdict = mine();
    $("current").textContent = verdict ? verdict.verdict : "none";
    $("current").className = verdict ? verdict.verdict : "";
    pendingScore = verdict ? verdict.score : null;
    $("score").textContent = pendingScore === null ? "–" : String(pendingScore);
    $("comment").value = verdict ? verdict.comment : "";
    for (const box of document.querySelectorAll("#tags input")) box.checked = !!verdict && verdict.tags.includes(box.value);
  }

  function move(step) {
    index = Math.min(Math.max(index + step, 0), state.items.length - 1);
    render();
  }

  async function save(decision) {
    const it = item();
    const tags = [...document.querySelectorAll("#tags input")].filter((b) => b.checked).map((b) => b.value);
    const body = { item: it.id, verdict: decision, score: pendingScore, tags, comment: $("comment").value };
    status("saving…");
    try {
      const answer = await api(`/api/r/${token}/verdict`, body);
      undo.push({ item: it.id, previous: mine() });
      state.verdicts[it.id] = { ...body, reviewer: state.reviewer, at: answer.at };
      status(`saved ${it.id}`);
      if (index < state.items.length - 1) move(1); else render();
    } catch (e) {
      status(`not saved: ${e.message}`, true);
    }
  }

  async function revert() {
    const last = undo.pop();
    if (!last) return status("nothing to undo");
    try {
      if (last.previous) {
        const p = last.previous;
        await api(`/api/r/${token}/verdict`, { item: p.item, verdict: p.verdict, score: p.score, tags: p.tags, comment: p.comment });
        state.verdicts[last.item] = p;
      } else {
        await api(`/api/r/${token}/withdraw`, { item: last.item });
        delete state.verdicts[last.item];
      }
      index = state.items.findIndex((i) => i.id === last.item);
      status(`undone ${last.item}`);
      render();
    } catch (e) {
      status(`not undone: ${e.message}`, true);
    }
  }

  document.addEventListener("keydown", (event) => {
    if (!state || event.ctrlKey || event.metaKey || event.altKey) return;
    const typing = event.target instanceof HTMLTextAreaElement || event.target instanceof HTMLInputElement;
    if (typing) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const scale = state.question.scale;
    if (event.key === "p") save("pass");
    else if (event.key === "f") save("fail");
    else if (event.key === "ArrowRight" || event.key === "j") move(1);
    else if (event.key === "ArrowLeft" || event.key === "k") move(-1);
    else if (event.key === "u") revert();
    else if (event.key === "c") { event.preventDefault(); $("comment").focus(); }
    else if (scale && /^[0-9]$/.test(event.key)) {
      const value = Number(event.key === "0" ? 10 : event.key);
      if (value >= scale[0] && value <= scale[1]) { pendingScore = value; $("score").textContent = String(value); }
    } else return;
    event.preventDefault();
  });
  $("pass").addEventListener("click", () => save("pass"));
  $("fail").addEventListener("click", () => save("fail"));
  $("previous").addEventListener("click", () => move(-1));
  $("next").addEventListener("click", () => move(1));
  $("undo").addEventListener("click", revert);

  api(`/api/r/${token}`).then((data) => {
    state = data;
    $("question").textContent = data.question.text;
    $("reviewer").textContent = data.reviewer;
    if (data.question.scale) { $("score-line").hidden = false; $("scale").textContent = data.question.scale.join("–"); }
    else $("score-line").hidden = true;
    const tags = $("tags");
    for (const tag of data.question.tags) {
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = tag;
      label.append(box, ` ${tag} `);
      tags.append(label);
    }
    if (data.items.length === 0) { status("nothing to review"); return; }
    // Resume: the first item without a verdict.
    const next = data.items.findIndex((i) => !data.verdicts[i.id]);
    index = next === -1 ? data.items.length - 1 : next;
    render();
    status("ready");
  }).catch((e) => status(e.message, true));
}
