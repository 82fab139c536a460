// Aerie UI: progressive enhancement only. Every page works without this
// script; with it, the tenant dropdown switches when a tenant is picked
// with the pointer, destructive buttons ask first, and a running
// execution's page refreshes its live part.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    // Arrow keys on a closed dropdown also fire "change": a keyboard user
    // walking through the tenants must not be switched at every step, so
    // only a pointer's pick submits; the keyboard goes on to the button
    // (or presses Enter).
    let byKeyboard = false;
    select.addEventListener("keydown", (event) => {
      byKeyboard = event.key !== "Enter";
      if (event.key === "Enter") select.form.requestSubmit();
    });
    select.addEventListener("pointerdown", () => { byKeyboard = false; });
    select.addEventListener("change", () => {
      if (!byKeyboard) select.form.requestSubmit();
    });
  }

  // Delegated, so that forms arriving with a refreshed live part ask too.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  const live = document.getElementById("live");
  if (live) refresh(live);
});

// Replaces the live part with the server's fresh rendering (escaped there)
// every second until the execution has ended.
function refresh(live) {
  if (live.dataset.ended === "true") return;
  setTimeout(async () => {
    try {
      const response = await fetch(live.dataset.src, {
        credentials: "same-origin",
        headers: { accept: "text/html" },
      });
      if (response.ok) {
        const holder = document.createElement("div");
        holder.innerHTML = await response.text();
        const fresh = holder.querySelector("#live");
        if (fresh) {
          // What the reader opened stays open.
          const opened = [...live.querySelectorAll("details")].map((d) => d.open);
          fresh.querySelectorAll("details").forEach((d, i) => { d.open = opened[i] || false; });
          live.replaceWith(fresh);
          live = fresh;
        }
      }
    } catch (_) {
      // The next round tries again.
    }
    refresh(live);
  }, 1000);
}
