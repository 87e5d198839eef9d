// What the network page adds to the step player: the diagram shows which layer the current step
// belongs to, heatmap cells read out their value under the pointer or the keyboard focus (and open
// the step that wrote them), and a pad draws a 28×28 input.
const walk = document.querySelector("section.walk.net");
const diagram = document.querySelector(".diagram-box");
if (walk) {
  // The player fetches the steps between the rendered runs as it reaches them.
  walk.querySelectorAll("li.gap").forEach((li) => li.remove());
  followSteps(walk, diagram);
  heatmaps(walk);
}
const pad = document.querySelector("[data-drawpad]");
if (pad) drawPad(pad);

function followSteps(walk, diagram) {
  const list = walk.querySelector("[data-steps]");
  const phase = diagram?.querySelector("[data-phase]");
  let shown = null;
  let jumped = false;

  function update() {
    const li = list.querySelector("li.step.current");
    if (!li || li === shown) return;
    shown = li;
    const id = li.dataset.id;
    const layer = /^layer(\d+)\.(forward|backward)/.exec(id);
    let words = "";
    let box = null;
    if (layer) {
      box = layer[1];
      words = `${layer[2] === "forward" ? "Forward pass" : "Backward pass"}, layer ${layer[1]}`;
    } else if (id.startsWith("loss.")) {
      box = "loss";
      words = "The loss and its gradient";
    } else if (id.startsWith("update.")) {
      words = "The update of the parameters";
    }
    if (diagram) {
      diagram.querySelectorAll(".box.now").forEach((b) => b.classList.remove("now", "back"));
      if (box) {
        diagram.querySelectorAll(`[data-box="${box}"]`).forEach((b) => {
          b.classList.add("now");
          b.classList.toggle("back", Boolean(layer && layer[2] === "backward"));
        });
      }
    }
    if (phase) phase.textContent = words ? `Now: ${words} (step ${li.id.slice(5)})` : "";
    if (jumped) {
      jumped = false;
      li.scrollIntoView({ block: "start" });
    }
  }

  new MutationObserver(update)
    .observe(list, { subtree: true, childList: true, attributes: true, attributeFilter: ["class"] });
  update();
  diagram?.addEventListener("click", (event) => {
    if (event.target.closest('a[href^="#step-"]')) jumped = true;
  });
}

// Go to a step without scrolling the page to the list: the player follows the fragment.
function openStep(n) {
  history.replaceState(null, "", `#step-${n}`);
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

function heatmaps(walk) {
  function describe(td) {
    const tensor = td.closest("figure").dataset.tensor;
    const at = td.dataset.i ? td.dataset.i.split(",").map((k) => Number(k) + 1) : [];
    const names = { 1: ["entry"], 2: ["row", "column"], 3: ["channel", "row", "column"] }[at.length] ?? [];
    const where = at.map((k, j) => `${names[j] ?? "index"} ${k}`).join(", ");
    const value = td.title || td.textContent.trim();
    const written = td.dataset.step ? ` (written at step ${td.dataset.step})` : "";
    return `${tensor}${where ? ` ${where}` : ""} = ${value}${written}`;
  }
  function show(td) {
    const readout = td.closest("figure").querySelector("[data-readout]");
    if (readout) readout.textContent = describe(td);
  }

  walk.addEventListener("pointerover", (event) => {
    const td = event.target.closest(".heatmap.cells td");
    if (td) show(td);
  });
  walk.addEventListener("focusin", (event) => {
    const td = event.target.closest(".heatmap.cells td");
    if (!td) return;
    td.setAttribute("aria-label", describe(td));
    show(td);
  });
  walk.addEventListener("click", (event) => {
    const td = event.target.closest(".heatmap td[data-step]");
    if (td) openStep(Number(td.dataset.step));
  });
  // Arrow keys move between the cells of a heatmap (one tab stop per map), Enter opens the cell's step.
  walk.addEventListener("keydown", (event) => {
    const td = event.target.closest?.(".heatmap.cells td");
    if (!td) return;
    if (event.key === "Enter" && td.dataset.step) {
      event.preventDefault();
      openStep(Number(td.dataset.step));
      return;
    }
    const move = { ArrowRight: [0, 1], ArrowLeft: [0, -1], ArrowDown: [1, 0], ArrowUp: [-1, 0] }[event.key];
    if (!move) return;
    event.preventDefault();
    event.stopPropagation();   // the arrows move in the map here, not through the steps
    const row = td.parentElement;
    const rows = [...row.parentElement.children];
    const next = rows[rows.indexOf(row) + move[0]]?.children[[...row.children].indexOf(td) + move[1]];
    if (!next) return;
    td.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  });
}

function drawPad(pad) {
  const canvas = pad.querySelector("[data-pad]");
  const input = document.getElementById("f-input");
  if (!canvas || !input) return;
  pad.hidden = false;
  const N = 28;
  const cell = canvas.width / N;
  const ink = new Float32Array(N * N);
  const given = (pad.dataset.pixels || "").trim().split(/\s+/).map(Number);
  if (given.length === N * N && given.every(Number.isFinite)) {
    given.forEach((v, k) => { ink[k] = Math.min(1, Math.max(0, v)); });
  }
  const context = canvas.getContext("2d");
  const pen = { r: 14, c: 14, visible: false };

  function draw() {
    for (let r = 0; r < N; r += 1) {
      for (let c = 0; c < N; c += 1) {
        const g = Math.round(255 * ink[r * N + c]);
        context.fillStyle = `rgb(${g}, ${g}, ${g})`;
        context.fillRect(c * cell, r * cell, cell, cell);
      }
    }
    if (pen.visible) {
      context.strokeStyle = "#ff7a00";
      context.lineWidth = 3;
      context.strokeRect(pen.c * cell + 1.5, pen.r * cell + 1.5, cell - 3, cell - 3);
    }
  }

  // A soft pen: full strength in the middle, half on the four sides, a quarter on the corners.
  function paint(r, c, amount) {
    for (let dr = -1; dr <= 1; dr += 1) {
      for (let dc = -1; dc <= 1; dc += 1) {
        const rr = r + dr;
        const cc = c + dc;
        if (rr < 0 || rr >= N || cc < 0 || cc >= N) continue;
        const weight = dr === 0 && dc === 0 ? 1 : (dr && dc ? 0.25 : 0.5);
        const k = rr * N + cc;
        ink[k] = Math.min(1, Math.max(0, ink[k] + amount * weight));
      }
    }
  }

  let drawing = false;
  let erasing = false;
  function strokeAt(event) {
    const box = canvas.getBoundingClientRect();
    const r = Math.floor(((event.clientY - box.top) / box.height) * N);
    const c = Math.floor(((event.clientX - box.left) / box.width) * N);
    if (r < 0 || r >= N || c < 0 || c >= N) return;
    paint(r, c, erasing ? -1 : 0.6);
    draw();
  }
  canvas.addEventListener("pointerdown", (event) => {
    drawing = true;
    erasing = event.button === 2;
    canvas.setPointerCapture(event.pointerId);
    strokeAt(event);
  });
  canvas.addEventListener("pointermove", (event) => { if (drawing) strokeAt(event); });
  canvas.addEventListener("pointerup", () => { drawing = false; });
  canvas.addEventListener("contextmenu", (event) => event.preventDefault());
  canvas.addEventListener("focus", () => { pen.visible = true; draw(); });
  canvas.addEventListener("blur", () => { pen.visible = false; draw(); });
  canvas.addEventListener("keydown", (event) => {
    const move = { ArrowRight: [0, 1], ArrowLeft: [0, -1], ArrowDown: [1, 0], ArrowUp: [-1, 0] }[event.key];
    if (move) {
      pen.r = Math.min(N - 1, Math.max(0, pen.r + move[0]));
      pen.c = Math.min(N - 1, Math.max(0, pen.c + move[1]));
      if (event.shiftKey) paint(pen.r, pen.c, 0.8);
    } else if (event.key === " " || event.key === "Enter") {
      paint(pen.r, pen.c, 0.8);
    } else if (event.key === "Delete" || event.key === "Backspace") {
      paint(pen.r, pen.c, -1);
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();   // the keys draw here, not step the player
    draw();
  });

  pad.querySelector('[data-draw="clear"]')?.addEventListener("click", () => { ink.fill(0); draw(); });
  pad.querySelector('[data-draw="use"]')?.addEventListener("click", () => {
    const rows = [];
    for (let r = 0; r < N; r += 1) {
      rows.push(Array.from(ink.slice(r * N, r * N + N), (v) => String(Math.round(v * 100) / 100)).join(" "));
    }
    input.value = rows.join("\n");
    input.focus();
  });
  draw();
}
