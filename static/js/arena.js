// Blind arena: ask for a match (a prompt, answers A and B), then vote. Talks to the JSON API
// with the session and the CSRF token; answers are shown as text, never as markup. The API
// names no model before the round is closed, so neither can this page.
(function () {
  "use strict";
  const root = document.getElementById("arena");
  if (!root) return;
  const api = root.dataset.api;
  const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  const errorBox = document.getElementById("arena-error");
  let matchId = null;

  async function post(url, body) {
    const res = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((data.error && data.error.message) || ("HTTP " + res.status));
    return data;
  }

  document.getElementById("arena-prompt").addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.textContent = "";
    try {
      const source = document.getElementById("prompt-source").value;
      const body = { round: Number(root.dataset.round) };
      if (source) body.from_dataset_version = Number(source);
      else body.prompt = document.getElementById("prompt").value;
      const match = await post(api, body);
      matchId = match.id;
      document.getElementById("match-prompt").textContent = match.prompt;
      document.getElementById("answer-a").textContent = match.a;
      document.getElementById("answer-b").textContent = match.b;
      document.getElementById("voted").hidden = true;
      document.getElementById("arena-match").hidden = false;
      document.getElementById("arena-match").dataset.match = String(match.id);
    } catch (error) { errorBox.textContent = error.message; }
  });

  document.querySelectorAll("button.vote").forEach((button) => {
    button.addEventListener("click", async () => {
      errorBox.textContent = "";
      try {
        const comment = document.getElementById("comment").value;
        await post(api + matchId + "/vote/", { choice: button.dataset.choice, comment: comment });
        document.getElementById("voted").hidden = false;
      } catch (error) { errorBox.textContent = error.message; }
    });
  });
})();
