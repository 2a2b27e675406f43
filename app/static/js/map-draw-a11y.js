/* Syrena: accessible names for the Leaflet-Geoman drawing toolbar (composer and zones editor). Geoman draws each
   tool as <a href="#" role="button"> holding only an icon, its name on the surrounding <div title>: a screen
   reader announced "button" and nothing else. The name goes onto the button itself, kept in step when Geoman
   re-renders the toolbar, and Space presses it like any button (Enter already does, it is a link). */
(function () {
  "use strict";

  function name(container) {
    Array.prototype.forEach.call(container.querySelectorAll(".leaflet-pm-toolbar .button-container"), function (c) {
      var button = c.querySelector(".leaflet-buttons-control-button");
      if (!button || !c.title) { return; }
      button.setAttribute("aria-label", c.title);
      button.setAttribute("title", c.title);
      button.setAttribute("role", "button");
      button.setAttribute("aria-pressed", button.classList.contains("active") ? "true" : "false");
    });
  }

  function nameDrawButtons(map) {
    var container = map.getContainer();
    name(container);
    ["pm:drawstart", "pm:drawend", "pm:globaldrawmodetoggled", "pm:langchanged"].forEach(function (event) {
      map.on(event, function () { name(container); });
    });
    container.addEventListener("keydown", function (e) {
      var target = e.target;
      if ((e.key === " " || e.key === "Spacebar") && target.classList &&
          (target.classList.contains("leaflet-buttons-control-button") || target.classList.contains("leaflet-pm-action"))) {
        e.preventDefault();
        target.click();
      }
    });
  }

  window.SyrenaMapA11y = { nameDrawButtons: nameDrawButtons };
}());
