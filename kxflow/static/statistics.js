/* The statistics page: draws each chart (vendored ECharts) from the JSON in a data attribute of the page — the same data its
   table shows — links every bar to the list behind it, and sorts the provinces table. No inline script. */
(function () {
  "use strict";
  var holder = document.getElementById("statistics-data");
  var english = document.documentElement.lang === "en";
  var numbers = new Intl.NumberFormat(english ? "en" : "zh-CN", { maximumFractionDigits: 2 });
  var COLOURS = ["#9b1b1b", "#0b4f9c", "#1e6b34", "#8a5300", "#5b3c88", "#00727a"];

  function fmt(value, spec) {
    if (value === null || value === undefined) return "—";
    return numbers.format(value) + (spec.format === "percent" ? "%" : "");
  }

  function option(spec) {
    var horizontal = spec.kind === "hbar";
    var valueAxis = { type: "value", axisLabel: { formatter: function (v) { return fmt(v, spec); } } };
    if (spec.format === "count") valueAxis.minInterval = 1;  // no half applications on the axis
    var categoryAxis = { type: "category", data: spec.categories, axisLabel: { interval: 0, hideOverlap: !horizontal } };
    if (horizontal) categoryAxis.inverse = true;
    if (!horizontal) categoryAxis.axisLabel.rotate = spec.categories.length > 6 ? 40 : 0;
    var base = {
      color: COLOURS,
      animation: false,
      grid: { left: 8, right: 24, top: 36, bottom: 8, containLabel: true },
      legend: { show: spec.series.length > 1, top: 0, type: "scroll" },
      tooltip: { trigger: spec.kind === "funnel" ? "item" : "axis", valueFormatter: function (v) { return fmt(v, spec); } }
    };
    if (spec.kind === "funnel") {
      base.series = [{
        name: spec.series[0].name, type: "funnel", sort: "none", minSize: "8%", left: "10%", width: "80%",
        label: { show: true, position: "inside", color: "#fff", formatter: function (p) { return p.name + " " + fmt(p.value, spec); } },
        data: spec.categories.map(function (c, i) { return { name: c, value: spec.series[0].data[i] }; })
      }];
      return base;
    }
    var values = [valueAxis];
    if (spec.secondary !== undefined) {
      values.push({ type: "value", minInterval: 1, position: horizontal ? "top" : "right", splitLine: { show: false } });
    }
    base.xAxis = horizontal ? values : categoryAxis;
    base.yAxis = horizontal ? categoryAxis : values;
    base.series = spec.series.map(function (s, i) {
      var series = { name: s.name, type: "bar", data: s.data, barMaxWidth: 28 };
      if (spec.stack) series.stack = "total";
      if (spec.secondary === i) series[horizontal ? "xAxisIndex" : "yAxisIndex"] = 1;
      if (i === 0 && spec.target !== undefined) {
        var line = {}; line[horizontal ? "xAxis" : "yAxis"] = spec.target;
        series.markLine = { symbol: "none", silent: true, lineStyle: { color: "#1d1d1f", type: "dashed" },
          label: { formatter: (english ? "target " : "目标 ") + fmt(spec.target, spec) }, data: [line] };
      }
      return series;
    });
    return base;
  }

  function draw(spec) {
    var el = document.querySelector('[data-chart="' + spec.id + '"]');
    if (!el || !spec.categories.length) return;
    if (spec.kind === "hbar") el.style.height = Math.max(220, spec.categories.length * 26 + 70) + "px";
    var chart = window.echarts.init(el, null, { renderer: "canvas", locale: english ? "EN" : "ZH" });
    chart.setOption(option(spec));
    chart.on("click", function (p) {
      var series = spec.series[spec.kind === "funnel" ? 0 : p.seriesIndex];
      var link = series && series.links[p.dataIndex];
      if (link) window.location.href = link;
    });
    el.setAttribute("data-drawn", "1");
    window.addEventListener("resize", function () { chart.resize(); });
  }

  if (holder && window.echarts) {
    JSON.parse(holder.getAttribute("data-charts")).forEach(draw);
  }

  // the provinces table: sort by any column (numbers by value, blanks last)
  Array.prototype.forEach.call(document.querySelectorAll("table[data-sortable]"), function (table) {
    var heads = table.querySelectorAll("thead th");
    Array.prototype.forEach.call(table.querySelectorAll("button.sort"), function (button) {
      button.addEventListener("click", function () {
        var column = Number(button.getAttribute("data-column"));
        var th = heads[column];
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[column].getAttribute("data-value"), y = b.cells[column].getAttribute("data-value");
          if (x === "" || y === "") return x === y ? 0 : (x === "" ? 1 : -1);
          var nx = Number(x), ny = Number(y);
          var order = column === 0 || isNaN(nx) || isNaN(ny) ? x.localeCompare(y, "zh-CN") : nx - ny;
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
})();
