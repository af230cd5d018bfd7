/* Starts Swagger UI on the API docs page from its data attributes (no inline script: the CSP allows none). */
(function () {
  "use strict";
  var box = document.getElementById("swagger-ui-container");
  var config = JSON.parse(box.dataset.config || "{}");
  config.url = box.dataset.specUrl;
  config.dom_id = "#swagger-ui-container";
  window.ui = window.SwaggerUIBundle(config);
})();
