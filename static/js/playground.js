// Chat playground: lists models from /v1/models and streams answers from
// /v1/chat/completions (server-sent events read with fetch + ReadableStream), signed in with
// the browser session and Django's CSRF token. A static file (no inline script) because the
// Content-Security-Policy forbids inline code.
(function () {
  "use strict";
  const root = document.getElementById("playground");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const history = [];
  let controller = null;

  function headers() {
    return { "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrf };
  }

  function showError(message) {
    $("pg-error").textContent = message || "";
  }

  function addTurn(role, text) {
    const li = document.createElement("li");
    const who = document.createElement("strong");
    who.textContent = role + ": ";
    const body = document.createElement("span");
    body.textContent = text;
    li.append(who, body);
    li.className = "turn " + role;
    $("pg-transcript").appendChild(li);
    return body;
  }

  async function loadModels() {
    const res = await fetch(root.dataset.models, { credentials: "same-origin" });
    const body = await res.json();
    if (!res.ok) return showError((body.error && body.error.message) || "Cannot list models.");
    const select = $("pg-model");
    select.replaceChildren();
    for (const model of body.data || []) {
      const option = document.createElement("option");
      option.value = model.id;
      option.textContent = model.id;
      select.appendChild(option);
    }
  }

  // Parses "data: ..." events out of the decoded text; returns the unparsed remainder.
  function drainEvents(buffer, onEvent) {
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of event.split("\n")) {
        if (line.startsWith("data: ")) onEvent(line.slice(6));
      }
    }
    return buffer;
  }

  function request() {
    const messages = [];
    const system = $("pg-system").value.trim();
    if (system) messages.push({ role: "system", content: system });
    return {
      model: $("pg-model").value,
      messages: messages.concat(history),
      stream: true,
      stream_options: { include_usage: true },
      temperature: Number($("pg-temperature").value || 0),
      max_tokens: Number($("pg-max-tokens").value || 128),
    };
  }

  function handleEvent(data, target, answer) {
    if (data === "[DONE]") return;
    const chunk = JSON.parse(data);
    if (chunk.error) throw new Error(chunk.error.message);
    if (chunk.usage) {
      $("pg-usage").textContent = chunk.usage.prompt_tokens + " prompt tokens, " +
        chunk.usage.completion_tokens + " completion tokens";
    }
    for (const choice of chunk.choices || []) {
      const piece = (choice.delta && choice.delta.content) || "";
      answer.text += piece;
      target.textContent = answer.text;
    }
  }

  async function send(event) {
    event.preventDefault();
    const input = $("pg-input");
    const text = input.value.trim();
    if (!text) return;
    showError("");
    history.push({ role: "user", content: text });
    addTurn("user", text);
    input.value = "";
    const target = addTurn("assistant", "");
    const answer = { text: "" };
    controller = new AbortController();
    $("pg-send").disabled = true;
    $("pg-stop").disabled = false;
    try {
      const res = await fetch(root.dataset.chat, {
        method: "POST", credentials: "same-origin", headers: headers(),
        body: JSON.stringify(request()), signal: controller.signal,
      });
      if (!res.ok) {
        const body = await res.json().catch(() => ({}));
        throw new Error((body.error && body.error.message) || "HTTP " + res.status);
      }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        buffer = drainEvents(buffer, (data) => handleEvent(data, target, answer));
      }
      history.push({ role: "assistant", content: answer.text });
    } catch (err) {
      if (err.name !== "AbortError") showError(err.message);
      history.pop();
    } finally {
      controller = null;
      $("pg-send").disabled = false;
      $("pg-stop").disabled = true;
    }
  }

  $("pg-form").addEventListener("submit", send);
  $("pg-stop").addEventListener("click", () => controller && controller.abort());
  $("pg-clear").addEventListener("click", () => {
    history.length = 0;
    $("pg-transcript").replaceChildren();
    $("pg-usage").textContent = "";
  });
  loadModels().catch((err) => showError(err.message));
})();
