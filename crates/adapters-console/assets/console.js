// Roster console: conveniences over pages that work without this script.
// - A button with `data-panel` shows and hides the panel it controls (`aria-controls`),
//   keeping `aria-expanded` true to what is shown; Escape closes the panel and returns focus.
// - A select with `data-autosubmit` submits its form when the choice changes.
// - A link with `data-carry="a b"` carries the values of the fields named a and b.
// - A dialog with `data-modal`, served open, becomes modal: focus moves into it, Escape leaves
//   to its `data-cancel` address (the page behind it), whose `#id` puts focus back on the
//   button that opened it.
// - "Select all on this page" ticks every row; the Actions dialog shows the chosen action's
//   argument only; a job's progress bar follows `GET /api/v1/jobs/{id}` until it ends.
// - In a dialog, ticking a license (`data-product`) updates every "n of m seats available"
//   of that product (`data-seats-for`).
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

  for (const dialog of document.querySelectorAll("dialog[data-modal][open]")) {
    dialog.close();
    dialog.showModal();
    const first = dialog.querySelector("[aria-invalid=true]") || dialog.querySelector("input:not([type=hidden]), textarea, select");
    if (first) first.focus();
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      window.location.href = dialog.dataset.cancel;
    });
    const recount = () => {
      for (const seats of dialog.querySelectorAll("[data-seats-for]")) {
        const key = seats.dataset.seatsFor;
        const ticked = dialog.querySelectorAll(`form.invite-rows input[data-product="${key}"]:checked`).length;
        const left = Math.max(0, Number(seats.dataset.available) - ticked);
        seats.textContent = `${left} of ${seats.dataset.total} seats available`;
      }
    };
    dialog.addEventListener("change", (event) => {
      if (event.target.matches("input[data-product]")) recount();
    });
  }

  for (const all of document.querySelectorAll("input[data-select-page]")) {
    all.addEventListener("change", () => {
      for (const box of all.form.querySelectorAll("input[name=ids]")) box.checked = all.checked;
    });
  }

  // The Actions dialog shows the argument of the action chosen only.
  for (const form of document.querySelectorAll("#actions-dialog form")) {
    const show = () => {
      const chosen = form.querySelector("input[name=action]:checked");
      const wanted = chosen ? chosen.dataset.argument : "";
      for (const part of form.querySelectorAll("[data-arg]")) part.hidden = part.dataset.arg !== wanted;
    };
    form.addEventListener("change", show);
    show();
  }

  // A job's progress, followed until it ends; then the page shows its result.
  for (const job of document.querySelectorAll("[data-job]")) {
    if (job.dataset.finished === "true") continue;
    const progress = job.querySelector("progress");
    const words = job.querySelector(".job-words");
    const poll = async () => {
      const answer = await fetch(`/api/v1/jobs/${job.dataset.job}`, { credentials: "same-origin" });
      if (!answer.ok) return;
      const state = await answer.json();
      progress.max = state.total;
      progress.value = state.done;
      words.textContent = `Working: ${state.done} of ${state.total} users.`;
      if (state.state === "done" || state.state === "failed") {
        window.location.reload();
      } else {
        window.setTimeout(poll, 1000);
      }
    };
    window.setTimeout(poll, 500);
  }

  // A new search of the CRM keeps the people ticked on this page.
  for (const search of document.querySelectorAll("#crm-dialog form[role=search]")) {
    search.addEventListener("submit", () => {
      for (const box of document.querySelectorAll("#crm-dialog input[name=crm_ids]:checked")) {
        const kept = document.createElement("input");
        kept.type = "hidden";
        kept.name = "crm_ids";
        kept.value = box.value;
        search.append(kept);
      }
    });
  }

  if (window.location.hash.length > 1) {
    const target = document.getElementById(window.location.hash.slice(1));
    if (target && target.matches("button, a, input, select, textarea")) target.focus();
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
