// Progressive enhancement: send Correct / Incorrect without leaving the page.
// Without JavaScript the same form posts normally and the server shows the thank-you page.
"use strict";

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-feedback")) return;
  event.preventDefault();
  const data = new FormData(form);
  // The button that was pressed carries the answer; FormData(form) alone leaves it out.
  if (event.submitter && event.submitter.name) data.set(event.submitter.name, event.submitter.value);
  const status = document.getElementById("feedback-status");
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
    form.submit();  // Network trouble: fall back to the plain form post.
    return;
  }
  const answer = await response.json().catch(() => ({}));
  if (response.ok) {
    form.hidden = true;
    status.textContent = `Thank you! Your answer is saved: this review is ${answer.label}. `;
    const again = document.createElement("a");
    again.href = "/";
    again.textContent = "Classify another review";
    status.append(again);
  } else {
    status.textContent = answer.error || `Could not save the answer (error ${response.status}).`;
    form.querySelectorAll("button").forEach((button) => { button.disabled = false; });
  }
});
