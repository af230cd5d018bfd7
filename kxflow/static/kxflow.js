/* kxflow: progressive enhancement only; every page works without it. No inline script anywhere: behaviour
   is attached here, by element ids and data- attributes. */
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");
  var token = document.querySelector('meta[name="csrf-token"]');

  document.addEventListener("DOMContentLoaded", function () {
    menu();
    cardLabels();
    oneSubmitAtATime();
    indicatorForm();
    document.querySelectorAll("[data-picker]").forEach(picker);
    document.querySelectorAll("form[data-upload]").forEach(uploader);
    warnBeforeLeaving(document.getElementById("indicator-form"));
    runningTotal(document.getElementById("score-form"));
    document.querySelectorAll("select[data-phrase-for]").forEach(phrasePicker);
    document.querySelectorAll("input[data-select-all]").forEach(selectAll);
  });

  /* 常用意见: a saved phrase chosen from the list goes into the 审核意见 box (after what is there). */
  function phrasePicker(select) {
    select.addEventListener("change", function () {
      var box = document.getElementById(select.dataset.phraseFor);
      if (!box || !select.value) { return; }
      box.value = box.value.trim() ? box.value.replace(/\s+$/, "") + "\n" + select.value : select.value;
      select.value = "";
      box.focus();
    });
  }

  /* The box in a list's header ticks or clears every application of the page for a bulk action. */
  function selectAll(box) {
    box.addEventListener("change", function () {
      document.querySelectorAll('input[type=checkbox][form="' + box.dataset.selectAll + '"][name=id]').forEach(function (b) {
        b.checked = box.checked;
      });
    });
  }

  /* The expert's total as they score, item by item. */
  function runningTotal(form) {
    var total = document.getElementById("score-total");
    if (!form || !total) { return; }
    form.addEventListener("input", function () {
      var sum = 0;
      form.querySelectorAll("[data-score-item]").forEach(function (input) {
        var v = parseFloat(input.value);
        if (!isNaN(v)) { sum += v; }
      });
      total.textContent = String(Math.round(sum * 100) / 100);
    });
  }

  /* Typed but not saved: say so before the page is left. */
  function warnBeforeLeaving(form) {
    if (!form) { return; }
    var dirty = false;
    form.addEventListener("input", function () { dirty = true; });
    form.addEventListener("submit", function () { dirty = false; });
    window.addEventListener("beforeunload", function (event) {
      if (dirty) { event.preventDefault(); event.returnValue = ""; }
    });
  }

  /* A document goes up without leaving the page (what was typed above stays), checked before it is sent
     (type, size), with its progress; the answer appears in its own row. */
  function uploader(form) {
    var input = form.querySelector("input[type=file]"), status = form.querySelector(".upload-status");
    var allowed = (input.getAttribute("accept") || "").split(",");
    var say = function (text, bad) {
      status.textContent = text;
      status.className = "upload-status " + (bad ? "error-text" : "ok-text");
    };
    form.addEventListener("submit", function (event) {
      var file = input.files && input.files[0];
      if (!file) { return; }
      var name = file.name.toLowerCase();
      var typeOk = allowed.some(function (ext) { return ext && name.slice(-ext.length) === ext.trim(); });
      if (!typeOk) { event.preventDefault(); say(form.dataset.wrongType, true); return; }
      if (file.size > Number(form.dataset.maxBytes)) { event.preventDefault(); say(form.dataset.tooBig, true); return; }
      if (!window.XMLHttpRequest || !window.FormData) { return; }
      event.preventDefault();
      var progress = document.createElement("progress");
      progress.max = 100;
      progress.value = 0;
      status.textContent = form.dataset.uploading + " ";
      status.className = "upload-status";
      status.appendChild(progress);
      var button = form.querySelector("button");
      button.disabled = true;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) { progress.value = Math.round(100 * e.loaded / e.total); }
      });
      xhr.addEventListener("load", function () {
        button.disabled = false;
        delete form.dataset.sending;
        var data = null;
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
        if (xhr.status === 413) { say(form.dataset.tooBig, true); return; }
        if (!data) { say(form.dataset.failed, true); return; }
        if (!data.ok) { say(data.problems.join("；"), true); return; }
        say(data.message, false);
        var cell = form.closest("tr").querySelector(".current-files");
        var link = document.createElement("a");
        link.href = data.file.url;
        link.textContent = data.file.name;
        link.setAttribute("translate", "no");
        var when = document.createElement("span");
        when.className = "hint";
        when.textContent = " " + data.file.uploaded_at;
        if (!form.closest("tr").hasAttribute("data-several") || !cell.querySelector("a")) { cell.innerHTML = ""; }
        cell.appendChild(link);
        cell.appendChild(when);
        cell.appendChild(document.createElement("br"));
        input.value = "";
        var blockers = document.getElementById("blockers");
        if (blockers && data.blockers) {
          blockers.innerHTML = "";
          if (!data.blockers.length) { blockers.textContent = blockers.dataset.none; }
          data.blockers.forEach(function (text) { var li = document.createElement("li"); li.textContent = text; blockers.appendChild(li); });
        }
      });
      xhr.addEventListener("error", function () { button.disabled = false; delete form.dataset.sending; say(form.dataset.failed, true); });
      xhr.send(new FormData(form));
    });
  }

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : []; });
  }

  /* The division picker: results while typing (name, pinyin initials or code), or province → city → county. */
  function picker(box) {
    var level = box.dataset.picker, code = box.querySelector("[data-picker-code]");
    var text = box.querySelector("[data-picker-text]"), list = box.querySelector(".picker-results");
    var timer = null, levels = document.createElement("div");
    levels.className = "picker-levels";
    text.parentNode.insertBefore(levels, list.nextSibling);
    var choose = function (item) {
      code.value = item.code;
      text.value = item.label || item.name;
      list.hidden = true;
      text.setAttribute("aria-expanded", "false");
      code.dispatchEvent(new Event("change", {bubbles: true}));
    };
    var show = function (items) {
      list.innerHTML = "";
      items.forEach(function (item) {
        var li = document.createElement("li"), b = document.createElement("button");
        li.setAttribute("role", "option");
        b.type = "button";
        b.textContent = item.label;
        b.addEventListener("click", function () { choose(item); text.focus(); });
        li.appendChild(b);
        list.appendChild(li);
      });
      list.hidden = items.length === 0;
      text.setAttribute("aria-expanded", items.length ? "true" : "false");
    };
    text.addEventListener("input", function () {
      code.value = "";
      clearTimeout(timer);
      var q = text.value.trim();
      if (!q) { show([]); return; }
      timer = setTimeout(function () {
        getJSON(box.dataset.searchUrl + "?level=" + encodeURIComponent(level) + "&q=" + encodeURIComponent(q)).then(show);
      }, 200);
    });
    text.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" && !list.hidden) { event.preventDefault(); list.querySelector("button").focus(); }
      if (event.key === "Escape") { show([]); }
    });
    list.addEventListener("keydown", function (event) {
      var item = document.activeElement.parentNode;
      if (event.key === "ArrowDown" && item.nextSibling) { event.preventDefault(); item.nextSibling.firstChild.focus(); }
      if (event.key === "ArrowUp") { event.preventDefault(); (item.previousSibling ? item.previousSibling.firstChild : text).focus(); }
      if (event.key === "Escape") { show([]); text.focus(); }
    });
    /* level by level: each choice fills the next list */
    var addLevel = function (of, depth) {
      while (levels.children.length > depth) { levels.removeChild(levels.lastChild); }
      getJSON(box.dataset.childrenUrl + (of ? "?of=" + encodeURIComponent(of) : "")).then(function (items) {
        if (!items.length) { return; }
        var select = document.createElement("select");
        select.setAttribute("aria-label", text.labels[0].textContent.replace("*", "").trim() + " " + (depth + 1));
        var blank = document.createElement("option");
        blank.value = "";
        blank.textContent = "—";
        select.appendChild(blank);
        items.forEach(function (item) {
          var o = document.createElement("option");
          o.value = item.code;
          o.textContent = item.name;
          o.dataset.level = item.level;
          select.appendChild(o);
        });
        select.addEventListener("change", function () {
          var o = select.options[select.selectedIndex];
          if (!o.value) { return; }
          var path = Array.prototype.map.call(levels.querySelectorAll("select"), function (s) {
            return s.selectedIndex > 0 ? s.options[s.selectedIndex].textContent : "";
          }).filter(Boolean).join(" ");
          if (o.dataset.level === level || (level === "any" && o.dataset.level !== "prefecture")) {
            choose({code: o.value, label: path});
          }
          if (o.dataset.level !== "county") { addLevel(o.value, depth + 1); }
        });
        levels.appendChild(select);
      });
    };
    addLevel(null, 0);
  }

  /* The menu button on a phone: the links fold away behind it. */
  function menu() {
    var button = document.getElementById("menu-toggle"), top = document.getElementById("top");
    if (!button || !top) { return; }
    button.addEventListener("click", function () {
      var open = top.classList.toggle("open");
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  /* Under 600 px every row of a list becomes a card: each cell says which column it is. */
  function cardLabels() {
    document.querySelectorAll("table").forEach(function (table) {
      var heads = table.querySelectorAll("thead th");
      if (!heads.length) { return; }
      table.classList.add("cards");
      table.querySelectorAll("tbody tr").forEach(function (row) {
        Array.prototype.forEach.call(row.children, function (cell, i) {
          var label = heads[i] ? heads[i].textContent.trim() : "";
          if (label && !cell.hasAttribute("colspan")) { cell.setAttribute("data-label", label); }
        });
      });
    });
  }

  /* A form is sent once: its buttons wait while it goes (a double click on 县级审核通过 must not send twice). */
  function oneSubmitAtATime() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (event.defaultPrevented || form.method.toLowerCase() !== "post") { return; }
      if (form.dataset.sending === "yes") { event.preventDefault(); return; }
      form.dataset.sending = "yes";
      window.setTimeout(function () {
        form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (b) {
          b.disabled = true;
          b.setAttribute("aria-busy", "true");
        });
      }, 0);  /* after the browser has read which button was pressed */
    });
    window.addEventListener("pageshow", function (event) {
      if (!event.persisted) { return; }  /* back to a page kept in memory: its forms may be sent again */
      document.querySelectorAll("form[data-sending]").forEach(function (form) {
        delete form.dataset.sending;
        form.querySelectorAll("button").forEach(function (b) { b.disabled = false; b.removeAttribute("aria-busy"); });
      });
    });
  }

  /* The indicator form: ask the server what the figures give while the clerk types (it stays the authority). */
  function indicatorForm() {
    var form = document.getElementById("indicator-form");
    if (!form || !window.fetch) { return; }
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
        var blockers = document.getElementById("blockers");
        if (blockers && data.blockers) {
          blockers.innerHTML = "";
          if (!data.blockers.length) { blockers.textContent = blockers.dataset.none; }
          data.blockers.forEach(function (text) { var li = document.createElement("li"); li.textContent = text; blockers.appendChild(li); });
        }
        var warnings = document.getElementById("plausibility");
        if (warnings && data.warnings) {
          warnings.innerHTML = "";
          data.warnings.forEach(function (text) { var li = document.createElement("li"); li.textContent = text; warnings.appendChild(li); });
        }
      }).catch(function () {});
    };
    form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 350); });
    form.addEventListener("change", refresh);
  }
})();
