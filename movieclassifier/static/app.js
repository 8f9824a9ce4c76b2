// Progressive enhancement: send Correct / Incorrect (or "change my answer") without leaving
// the page. Without JavaScript the same form posts normally and the server shows the
// thank-you page, which offers the change itself.
"use strict";

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-feedback")) return;
  event.preventDefault();
  const data = new FormData(form);
  // The button that was pressed carries the answer; FormData(form) alone leaves it out.
  if (event.submitter && event.submitter.name) data.set(event.submitter.name, event.submitter.value);
  const status = form.parentElement.querySelector(".feedback-status");
  form.querySelectorAll("button").forEach((button) => { button.disabled = true; });
  let response;
  try {
    // The form's own CSRF token travels in the body, so the server's check still applies.
    response = await fetch(form.action, {
      method: "POST",
      body: data,
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
  } catch (error) {
    // Network trouble: fall back to the plain form post, which leaves out the button too.
    if (event.submitter && event.submitter.name) {
      const pressed = document.createElement("input");
      pressed.type = "hidden";
      pressed.name = event.submitter.name;
      pressed.value = event.submitter.value;
      form.append(pressed);
    }
    form.submit();
    return;
  }
  const answer = await response.json().catch(() => ({}));
  if (response.ok) {
    form.hidden = true;
    // The words come from the page (result.html's template), the same as thanks.html's.
    const template = document.getElementById("thanks-template");
    if (template) {
      const thanks = template.content.cloneNode(true);
      thanks.querySelectorAll("[data-label]").forEach((node) => { node.textContent = answer.label; });
      status.replaceChildren(thanks, " ");
    } else {
      status.textContent = `Thank you! Your answer is saved: this review is ${answer.label}. `;
    }
    // A "change my answer" button now posts the other answer than the one just saved.
    form.querySelectorAll("[data-change]").forEach((button) => {
      button.value = answer.correct ? "false" : "true";
    });
    if (answer.status === "pending") {
      // Until a retrain takes the answer it may change: show the form again.
      const change = document.createElement("button");
      change.type = "button";
      change.className = "change";
      change.textContent = "Change my answer";
      change.addEventListener("click", () => {
        status.replaceChildren();
        form.querySelectorAll("button").forEach((button) => { button.disabled = false; });
        form.hidden = false;
      });
      status.append(change, " ");
    }
    const again = document.createElement("a");
    again.href = "/";
    again.textContent = "Classify another review";
    status.append(again);
  } else {
    status.textContent = answer.error || `Could not save the answer (error ${response.status}).`;
    form.querySelectorAll("button").forEach((button) => { button.disabled = false; });
  }
});
