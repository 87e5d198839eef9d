// The architecture page works without this script. With it, opening a row of a large table fetches
// that row's arithmetic in place instead of reloading the page.
for (const details of document.querySelectorAll(".arch-table details[data-row]")) {
  details.addEventListener("toggle", () => {
    if (details.open) load(details);
  });
  if (details.open) load(details);
}

async function load(details) {
  const link = details.querySelector(":scope > .inside > p.more > a[data-steps-url]");
  if (!link || link.dataset.loading) return;
  link.dataset.loading = "1";
  try {
    const response = await fetch(link.dataset.stepsUrl);
    if (!response.ok) throw new Error(String(response.status));
    const list = document.createElement("ol");
    list.className = "steps";
    list.innerHTML = await response.text();
    link.parentElement.replaceWith(list);
  } catch {
    delete link.dataset.loading;  // the link still opens the row's arithmetic in a new page load
  }
}
