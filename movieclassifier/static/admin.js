// Keyboard shortcuts for the review queue (progressive enhancement: without JavaScript the
// buttons and the skip link work as they are). In a form marked data-shortcuts, a key
// press that matches an element's data-key clicks it, unless the focus is in a text field.
"use strict";

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  const target = event.target;
  if (target instanceof HTMLElement && target.closest("input, textarea, select, [contenteditable]")) return;
  const form = document.querySelector("form[data-shortcuts]");
  if (!form) return;
  const key = event.key.toLowerCase();
  const match = form.querySelector(`[data-key="${CSS.escape(key)}"]`);
  if (!match) return;
  event.preventDefault();
  // One answer per question: a second key press while the page loads sends nothing.
  if (form.dataset.sent) return;
  form.dataset.sent = "true";
  match.click();
});
