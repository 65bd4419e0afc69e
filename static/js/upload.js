// Upload page: send the file in chunks through the resumable upload API, with a progress bar,
// retries of a failed chunk and resumption (the server says which chunks it already holds).
// Without JavaScript the plain multipart form still works.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form || !window.fetch || !window.File || !File.prototype.slice) return;
  const api = form.dataset.api;  // /api/v1/uploads/
  const CHUNK = 8 * 1024 * 1024;
  const RETRIES = 4;
  const box = document.getElementById("upload-progress-box");
  const bar = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  function say(text) { status.textContent = text; }

  async function call(method, url, body, headers) {
    const res = await fetch(url, {
      method: method, credentials: "same-origin", body: body,
      headers: Object.assign({ "X-CSRFToken": csrf, "Accept": "application/json" }, headers || {}),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error((data.error && data.error.message) || ("HTTP " + res.status));
      err.status = res.status;
      throw err;
    }
    return data;
  }

  function json(body) { return [JSON.stringify(body), { "Content-Type": "application/json" }]; }

  // A resumable upload is remembered per file (name, size, modification time) in this tab.
  function memoryKey(file) { return "soberana-upload:" + file.name + ":" + file.size + ":" + file.lastModified; }

  async function startOrResume(file, project) {
    const remembered = sessionStorage.getItem(memoryKey(file));
    if (remembered) {
      try {
        const state = await call("GET", api + remembered + "/");
        if (!state.complete) return state;
      } catch (err) { /* gone or not ours: start again */ }
    }
    const [body, headers] = json({ filename: file.name, total_size: file.size,
                                   project: Number(project), chunk_size: CHUNK });
    const state = await call("POST", api, body, headers);
    sessionStorage.setItem(memoryKey(file), String(state.id));
    return state;
  }

  async function sendChunk(file, state, index) {
    const first = index * state.chunk_size;
    const blob = file.slice(first, Math.min(file.size, first + state.chunk_size));
    for (let attempt = 1; ; attempt++) {
      try {
        return await call("PUT", api + state.id + "/chunks/" + index + "/", blob, {
          "Content-Type": "application/octet-stream",
          "Content-Range": "bytes " + first + "-" + (first + blob.size - 1) + "/" + file.size,
        });
      } catch (err) {
        if (attempt >= RETRIES || (err.status && err.status < 500 && err.status !== 429)) throw err;
        say("Chunk " + (index + 1) + " failed (" + err.message + "); retrying…");
        await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
      }
    }
  }

  async function upload(file) {
    const data = new FormData(form);
    let state = await startOrResume(file, data.get("project"));
    box.hidden = false;
    bar.max = state.chunk_count;
    bar.value = state.received.length;
    if (state.received.length) say("Resuming: " + state.received.length + " of " + state.chunk_count + " chunks already stored.");
    for (const index of state.missing) {
      state = await sendChunk(file, state, index);
      bar.value = state.received.length;
      say("Encrypted and stored " + state.received.length + " of " + state.chunk_count + " chunks.");
    }
    const options = { skip_bad_lines: data.get("skip_bad_lines") === "on", operator: data.get("operator") };
    const sourceColumn = (data.get("source_column") || "").trim();
    if (sourceColumn) options.source_column = sourceColumn;
    const [body, headers] = json({ name: data.get("name") || "", options: options });
    const dataset = await call("POST", api + state.id + "/complete/", body, headers);
    sessionStorage.removeItem(memoryKey(file));
    window.location.href = "/datasets/" + dataset.id + "/";
  }

  form.addEventListener("submit", (event) => {
    const input = form.querySelector("input[type=file]");
    const file = input && input.files && input.files[0];
    if (!file || !form.querySelector("[name=project]").value) return;  // let the form explain
    event.preventDefault();
    const button = document.getElementById("upload-submit");
    button.disabled = true;
    upload(file).catch((err) => {
      say("Upload stopped: " + err.message + ". Submit again to resume.");
      button.disabled = false;
    });
  });
})();
