/* kxflow: progressive enhancement only; every page works without it. */
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]');

  /* The indicator form: ask the server what the figures give while the clerk types (it stays the authority). */
  var form = document.getElementById("indicator-form");
  if (form && window.fetch) {
    var timer = null;
    var refresh = function () {
      fetch(form.dataset.previewUrl, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: {"X-CSRFToken": token ? token.content : ""}
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
        if (!data) { return; }
        Object.keys(data.computed).forEach(function (key) {
          document.querySelectorAll('[data-computed="' + key + '"]').forEach(function (el) { el.textContent = data.computed[key]; });
        });
        document.getElementById("score").textContent = data.score;
        var veto = document.getElementById("veto");
        veto.innerHTML = "";
        data.veto.forEach(function (label) { var li = document.createElement("li"); li.textContent = "✖ " + label; veto.appendChild(li); });
        form.querySelectorAll("[data-field]").forEach(function (box) {
          var key = box.dataset.field, msgs = data.errors[key] || [], p = document.getElementById("e-" + key);
          box.classList.toggle("invalid", msgs.length > 0);
          p.textContent = msgs.join("；");
          p.hidden = msgs.length === 0;
        });
      }).catch(function () {});
    };
    form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 350); });
    form.addEventListener("change", refresh);
  }
})();
