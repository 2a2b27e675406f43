/* Syrena: the API documentation page. Starts Swagger UI (served from node_modules by app/api_docs.py) on the
   OpenAPI document named by #swagger-ui's data-url; a file of its own, as the Content-Security-Policy allows
   no inline script. No online validator badge: the page must not reach outside our origin. */
(function () {
  "use strict";

  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") { return; }
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.url,
    domNode: root,
    deepLinking: false,
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    tryItOutEnabled: false
  });
}());
