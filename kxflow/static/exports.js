// An export's page: polls its JSON status until the worker is done, moves the bar, then shows the download link;
// a failed export (or one whose worker stopped: the server says "failed") stops the polling and shows the retry button.
(function () {
  "use strict";
  var box = document.getElementById("export");
  if (!box) { return; }
  var bar = document.getElementById("export-progress");
  var label = document.getElementById("export-label");
  var download = document.getElementById("export-download");
  var link = document.getElementById("export-download-link");
  var retry = document.getElementById("export-retry");
  var url = box.getAttribute("data-status-url");
  var delay = 1000;

  function show(status) {
    bar.value = status.progress;
    bar.textContent = status.progress + " %";
    label.textContent = status.label;
    if (status.download_url) {
      link.href = status.download_url;
      download.hidden = false;
    }
    if (status.status === "failed") {
      retry.hidden = false;
    }
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (status) {
        show(status);
        if (status.status === "queued" || status.status === "running") {
          window.setTimeout(poll, delay);
        }
      })
      .catch(function () {
        delay = Math.min(delay * 2, 15000);  // a slow network or a restart: try again, less often
        window.setTimeout(poll, delay);
      });
  }

  if (!download.hidden || !retry.hidden) { return; }
  poll();
}());
