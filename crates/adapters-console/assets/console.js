// Roster console: conveniences over pages that work without this script.
// - A button with `data-panel` shows and hides the panel it controls (`aria-controls`),
//   keeping `aria-expanded` true to what is shown; Escape closes the panel and returns focus.
// - A select with `data-autosubmit` submits its form when the choice changes.
// - A link with `data-carry="a b"` carries the values of the fields named a and b.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button[data-panel]")) {
    const panel = document.getElementById(button.getAttribute("aria-controls"));
    if (!panel) continue;
    const show = (open) => {
      button.setAttribute("aria-expanded", String(open));
      panel.hidden = !open;
    };
    show(button.hasAttribute("data-open"));
    button.addEventListener("click", () => {
      const open = button.getAttribute("aria-expanded") !== "true";
      show(open);
      if (open) {
        const first = panel.querySelector("input, select, button, textarea");
        if (first) first.focus();
      }
    });
    panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        show(false);
        button.focus();
      }
    });
  }

  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.requestSubmit());
  }

  for (const link of document.querySelectorAll("a[data-carry]")) {
    link.addEventListener("click", () => {
      const url = new URL(link.href, window.location.href);
      for (const name of link.dataset.carry.split(" ")) {
        const field = document.querySelector(`[name="${name}"]`);
        if (field && field.value) url.searchParams.set(name, field.value);
      }
      link.href = url.toString();
    });
  }
});
