// Live progress for a training job's admin page: polls the staff-only JSON view
// every second and updates the page in place (textContent only, never HTML),
// until the job has ended. No WebSocket: the admin has no socket route.
(function () {
  "use strict";
  var root = document.querySelector(".ax-job[data-progress-url]");
  if (!root) return;
  var url = root.getAttribute("data-progress-url");
  var POLL_MS = 1000;
  var failures = 0;

  function field(name) {
    return document.querySelector('[data-field="' + name + '"]');
  }
  function setText(name, value) {
    var el = field(name);
    if (el) el.textContent = value === "" || value === null || value === undefined ? "\u2013" : String(value);
  }
  function fmt(value, digits) {
    return typeof value === "number" ? value.toFixed(digits) : "";
  }

  function renderHistory(history) {
    var table = field("history");
    if (!table) return;
    var body = table.tBodies[0];
    while (body.rows.length > history.length) body.deleteRow(-1);
    history.forEach(function (e, i) {
      var row = body.rows[i] || body.insertRow(-1);
      var cells = [e.epoch, fmt(e.loss, 4), fmt(e.accuracy, 3), fmt(e.val_accuracy, 3), fmt(e.val_top3, 3), fmt(e.seconds, 0)];
      cells.forEach(function (text, j) {
        var cell = row.cells[j] || row.insertCell(-1);
        cell.textContent = text === undefined ? "" : String(text);
      });
    });
  }

  function render(s) {
    var status = field("status_label");
    if (status) {
      status.textContent = s.status_label;
      status.className = "ax-badge ax-" + s.status;
      status.setAttribute("data-status", s.status);
    }
    var bar = field("bar");
    if (bar) {
      bar.style.width = Math.round(s.fraction * 1000) / 10 + "%";
      bar.className = "ax-progress-fill ax-" + s.status;
      bar.parentNode.setAttribute("aria-valuenow", String(Math.round(s.fraction * 100)));
    }
    setText("percent", s.percent);
    setText("phase_label", s.phase_label);
    var message = field("message");
    if (message) message.textContent = s.message || "";
    setText("epoch_text", s.epoch_text);
    setText("loss", s.loss);
    setText("accuracy", s.accuracy);
    setText("val_accuracy", s.val_accuracy);
    setText("eta", s.eta);
    setText("elapsed", s.elapsed);
    renderHistory(s.history || []);

    var error = field("error");
    if (error) {
      error.textContent = s.error || "";
      error.hidden = !s.error;
    }
    var result = field("result");
    if (result && s.model_version) {
      var link = field("version_link");
      link.textContent = s.model_version.name;
      link.href = s.model_version.url;
      field("version_labels").textContent = s.model_version.labels.join(", ");
      field("compare_link").href = s.model_version.compare_url;
      result.hidden = false;
    }
    var cancelForm = field("cancel_form");
    if (cancelForm) {
      cancelForm.hidden = s.finished;
      var button = field("cancel_button");
      if (s.cancel_requested && button) {
        button.disabled = true;
        button.textContent = "Stopping\u2026";
      }
    }
    var retryForm = field("retry_form");
    if (retryForm) retryForm.hidden = !s.can_retry;
    setText("worker", s.worker);
    setText("attempt", s.attempt);
    var log = field("log_tail");
    if (log && log.textContent !== s.log_tail) {
      var atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.textContent = s.log_tail;
      if (atBottom) log.scrollTop = log.scrollHeight;
    }
    root.setAttribute("data-finished", s.finished ? "1" : "0");
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (s) {
        failures = 0;
        render(s);
        if (!s.finished) setTimeout(poll, POLL_MS);
        else root.setAttribute("data-polling", "0");
      })
      .catch(function () {
        // A web restart or a network blip: keep trying, more slowly.
        failures += 1;
        setTimeout(poll, Math.min(POLL_MS * (1 + failures), 10000));
      });
  }

  var log = field("log_tail");
  if (log) log.scrollTop = log.scrollHeight;
  if (root.getAttribute("data-finished") !== "1") setTimeout(poll, POLL_MS);
})();
