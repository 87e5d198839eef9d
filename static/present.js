// Presentation mode: body.present shows one step at a time in large type (style.css does the rest).
// The Present link switches in place, keeping the step, and asks for full screen; ?present=1 opens a
// page in the mode. Keys: → space PageDown next, ← PageUp back, Home End, F full screen, Esc leave.
// The keys press the step player's own buttons, so steps not yet on the page are fetched as usual.
const body = document.body;
const player = document.querySelector("section.walk .player");
const enter = document.querySelector('[data-present="on"]');
const leave = document.querySelector('[data-present="off"]');
let leavingFullscreen = false;   // set when the page itself leaves full screen, not the browser's Esc

function presenting() {
  return body.classList.contains("present");
}

function address(present) {
  const url = new URL(location.href);
  if (present) url.searchParams.set("present", "1");
  else url.searchParams.delete("present");
  return url.href;
}

function fullscreen(on) {
  if (on && !document.fullscreenElement) {
    document.documentElement.requestFullscreen?.().catch(() => {});   // refused: the page still fills the window
  } else if (!on && document.fullscreenElement) {
    leavingFullscreen = true;
    document.exitFullscreen().catch(() => { leavingFullscreen = false; });
  }
}

function switchTo(present) {
  body.classList.toggle("present", present);
  history.replaceState(null, "", address(present));
  fit();
  if (present) {
    window.scrollTo(0, 0);
  } else {
    fullscreen(false);
    document.querySelector("section.walk")?.scrollIntoView({ block: "start" });
  }
}

// MathML does not wrap: a long expansion is set smaller until it fits the width of the screen.
const SMALLEST = 0.55;
function fit() {
  document.querySelectorAll("li.step .f, li.step .x").forEach((el) => { el.style.fontSize = ""; });
  const li = document.querySelector("li.step.current");
  if (!presenting() || !li) return;
  for (const el of li.querySelectorAll(".f, .x")) {
    const room = el.clientWidth;
    const need = el.scrollWidth;
    if (need > room && room > 0) {
      const size = parseFloat(getComputedStyle(el).fontSize);
      el.style.fontSize = `${size * Math.max(SMALLEST, (room - 2) / need)}px`;
    }
  }
  li.scrollIntoView({ block: "nearest" });   // a screen taller than the window keeps the step in view
}

function press(act) {
  player?.querySelector(`[data-act="${act}"]`)?.click();
}

const KEYS = {
  ArrowRight: () => press("next"), " ": () => press("next"), PageDown: () => press("next"),
  ArrowLeft: () => press("prev"), PageUp: () => press("prev"),
  Home: () => press("first"), End: () => press("last"),
  f: () => fullscreen(!document.fullscreenElement), F: () => fullscreen(!document.fullscreenElement),
  Escape: () => switchTo(false),
};

function plainClick(event) {
  return event.button === 0 && !event.altKey && !event.ctrlKey && !event.metaKey && !event.shiftKey;
}

if (player) {
  document.querySelector(".present-switch .keys")?.removeAttribute("hidden");   // the keys work from here on
  // Keep the links' addresses on the current step, for a new tab or a copied link.
  const refresh = () => {
    if (enter) enter.href = address(true);
    if (leave) leave.href = address(false);
  };
  for (const link of [enter, leave]) {
    link?.addEventListener("pointerdown", refresh);
    link?.addEventListener("focus", refresh);
  }
  enter?.addEventListener("click", (event) => {
    if (!plainClick(event)) return;
    event.preventDefault();
    switchTo(true);
    fullscreen(true);
  });
  leave?.addEventListener("click", (event) => {
    if (!plainClick(event)) return;
    event.preventDefault();
    switchTo(false);
  });

  // In the capture phase, before the player's own keys: space steps here instead of playing.
  window.addEventListener("keydown", (event) => {
    if (!presenting() || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
    const action = KEYS[event.key];
    if (!action) return;
    event.preventDefault();
    event.stopPropagation();
    action();
  }, true);

  const list = document.querySelector("section.walk [data-steps]");
  if (list) {
    new MutationObserver(() => requestAnimationFrame(fit))
      .observe(list, { subtree: true, attributes: true, attributeFilter: ["class"] });
  }
  window.addEventListener("resize", () => requestAnimationFrame(fit));
  // The browser scrolls to the #step-N it opened at; a presentation starts at the top of its screen.
  window.addEventListener("load", () => {
    if (!presenting()) return;
    window.scrollTo(0, 0);
    fit();
  });
  fit();

  // The browser's own Esc leaves full screen before the page sees the key: leave the mode with it.
  document.addEventListener("fullscreenchange", () => {
    if (!document.fullscreenElement && presenting() && !leavingFullscreen) switchTo(false);
    leavingFullscreen = false;
  });
}
