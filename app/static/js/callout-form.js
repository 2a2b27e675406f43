/* Syrena: the "new call-out" form's live counter (issue 20): characters of the text and SMS parts of what is sent
   (the text with the reply instruction when confirmation is asked), as the server counts them. The form works
   without it. */
(function () {
  "use strict";

  var form = document.getElementById("callout-form");
  var counter = document.getElementById("callout-counter");
  if (!form || !counter || !window.fetch) { return; }
  var body = document.getElementById("callout-body");
  var ack = document.getElementById("callout-ack");
  var csrf = form.querySelector('input[name="csrf_token"]').value;
  var timer = null, asked = 0;

  function update() {
    var mine = ++asked;
    fetch(form.dataset.urlAnalyse, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json" },
      body: JSON.stringify({ body: body.value, ack: ack.checked })
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (a) {
      if (!a || mine !== asked) { return; }
      counter.textContent = form.dataset.labelCounter.replace("{characters}", a.characters).replace("{parts}", a.parts);
    }).catch(function () { /* the limit stays shown */ });
  }

  function soon() { clearTimeout(timer); timer = setTimeout(update, 250); }
  body.addEventListener("input", soon);
  ack.addEventListener("change", soon);
  if (body.value) { update(); }
}());
