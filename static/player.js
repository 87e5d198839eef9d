// The step player: moves through the server-rendered steps, highlights the cells each step
// reads and writes, keeps the URL fragment on the current step, and reads the step aloud.
const walk = document.querySelector("section.walk");
if (walk) start(walk);

function start(walk) {
  const list = walk.querySelector("[data-steps]");
  const say = walk.querySelector("[data-say]");
  const now = walk.querySelector("[data-now]");
  const counter = walk.querySelector("[data-counter]");
  const player = walk.querySelector(".player");
  const playButton = player.querySelector('[data-act="play"]');
  const speed = player.querySelector('[data-act="speed"]');
  const total = Number(walk.dataset.stepCount);
  const stepsUrl = walk.dataset.stepsUrl;
  let current = 0;
  let timer = null;

  player.hidden = false;
  walk.classList.add("playing-ready");

  // Steps arrive in pages from the server; a jump far ahead fetches only the page it lands in.
  async function ensure(n) {
    if (document.getElementById(`step-${n}`)) return true;
    try {
      const response = await fetch(`${stepsUrl}&offset=${n - 1}`);
      if (!response.ok) return false;
      const holder = document.createElement("ol");
      holder.innerHTML = await response.text();
      for (const li of [...holder.children]) {
        if (document.getElementById(li.id)) continue;
        const number = Number(li.id.slice(5));
        const after = [...list.children].find((el) => Number(el.id.slice(5)) > number);
        list.insertBefore(li, after ?? null);
      }
    } catch {
      return false;
    }
    return Boolean(document.getElementById(`step-${n}`));
  }

  // A target index with an empty part names a whole slice: ",0" is every row of column 0 (im2col).
  function cellsAt(tensor, index) {
    const parts = index.split(",");
    if (parts.length < 2 || !parts.includes("")) {
      return walk.querySelectorAll(`td[data-t="${tensor}"][data-i="${index}"]`);
    }
    return [...walk.querySelectorAll(`td[data-t="${tensor}"]`)].filter((td) => {
      const have = td.dataset.i.split(",");
      return have.length === parts.length && parts.every((part, k) => part === "" || part === have[k]);
    });
  }

  // A tensor drawn twice, given and computed (an optimizer's parameters before and after), lights
  // the given copy where a step reads it and the computed copy where a step writes it. A read of
  // a name no grid has (Adam's "m.w") finds the computed grid whose dotted name ends with it ("state.m.w").
  function side(cells, given) {
    const all = [...cells];
    const picked = all.filter((td) => (td.closest("[data-role]")?.dataset.role === "given") === given);
    return picked.length ? picked : all;
  }

  function readCells(tensor, index) {
    const cells = walk.querySelectorAll(`td[data-t="${tensor}"][data-i="${index}"]`);
    if (cells.length) return side(cells, true);
    return [...walk.querySelectorAll(`td[data-t$=".${tensor}"][data-i="${index}"]`)]
      .filter((td) => td.closest("[data-role]")?.dataset.role !== "given");
  }

  function mark(n) {
    walk.querySelectorAll("td.hl, td.tgt").forEach((td) => td.classList.remove("hl", "tgt"));
    walk.querySelectorAll("li.step.current").forEach((li) => li.classList.remove("current"));
    walk.querySelectorAll("td[data-step]").forEach((td) => {
      td.classList.toggle("pending", Number(td.dataset.step) > n);
    });
    const li = document.getElementById(`step-${n}`);
    if (!li) return;
    li.classList.add("current");
    const reads = JSON.parse(li.dataset.reads || "{}");
    for (const [tensor, indices] of Object.entries(reads)) {
      for (const index of indices) {
        readCells(tensor, index).forEach((td) => td.classList.add("hl"));
      }
    }
    const target = JSON.parse(li.dataset.target || "null");
    if (target) {
      side(cellsAt(target.tensor, target.index), false)
        .forEach((td) => { td.classList.add("tgt"); td.classList.remove("pending"); });
    }
    say.textContent = li.dataset.say;
    if (now) {  // built as nodes: a title's text is never parsed as HTML
      const heading = document.createElement("strong");
      heading.textContent = `Step ${n} of ${total}: ${li.querySelector("h4").textContent}`;
      const expansion = li.querySelector(".x");
      now.replaceChildren(heading, ...(expansion ? [expansion.cloneNode(true)] : []));
    }
    counter.textContent = String(n);
  }

  async function go(n, { updateUrl = true } = {}) {
    n = Math.max(1, Math.min(total, n));
    if (!(await ensure(n))) return;
    current = n;
    mark(n);
    if (updateUrl) history.replaceState(null, "", `#step-${n}`);
    const li = document.getElementById(`step-${n}`);
    if (li && walk.classList.contains("follow")) li.scrollIntoView({ block: "nearest" });
    if (n === total) stop();
  }

  function stop() {
    clearInterval(timer);
    timer = null;
    playButton.setAttribute("aria-pressed", "false");
    playButton.textContent = "▶ Play";
    playButton.setAttribute("aria-label", "Play");
  }

  function play() {
    if (timer) return stop();
    if (current >= total) go(1);
    playButton.setAttribute("aria-pressed", "true");
    playButton.textContent = "⏸ Pause";
    playButton.setAttribute("aria-label", "Pause");
    timer = setInterval(() => go(current + 1), Number(speed.value));
  }

  speed.addEventListener("change", () => { if (timer) { stop(); play(); } });
  player.addEventListener("click", (event) => {
    const act = event.target.closest("button")?.dataset.act;
    if (act === "first") go(1);
    else if (act === "prev") go(current - 1);
    else if (act === "next") go(current + 1);
    else if (act === "last") go(total);
    else if (act === "play") play();
  });

  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, select, [contenteditable]")) return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const keys = { ArrowRight: () => go(current + 1), ArrowLeft: () => go(current - 1),
                   Home: () => go(1), End: () => go(total), " ": () => play() };
    const action = keys[event.key];
    if (!action) return;
    if (event.key === " " && event.target.closest("button, a, summary")) return;
    event.preventDefault();
    action();
  });

  window.addEventListener("hashchange", () => {
    const n = stepFromHash();
    if (n && n !== current) go(n, { updateUrl: false });
  });

  function stepFromHash() {
    const m = /^#step-(\d+)$/.exec(location.hash);
    return m ? Number(m[1]) : null;
  }

  go(stepFromHash() || 1, { updateUrl: Boolean(stepFromHash()) });
}
