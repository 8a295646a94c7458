// Copy buttons: shown only when JavaScript runs; the text stays selectable without it.
(function () {
  "use strict";
  function copied(button, label) {
    var original = button.textContent;
    button.textContent = label;
    button.setAttribute("aria-live", "polite");
    setTimeout(function () { button.textContent = original; }, 1500);
  }
  function fallback(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "absolute";
    area.style.left = "-9999px";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }
  document.addEventListener("DOMContentLoaded", function () {
    var buttons = document.querySelectorAll("button[data-copy]");
    Array.prototype.forEach.call(buttons, function (button) {
      var target = document.getElementById(button.getAttribute("data-copy"));
      if (!target) { return; }
      button.hidden = false;
      button.setAttribute("aria-label", "Copy: " + (target.getAttribute("aria-label") || "text"));
      button.addEventListener("click", function () {
        var text = target.textContent.replace(/\n$/, "");
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(
            function () { copied(button, "Copied"); },
            function () { copied(button, fallback(text) ? "Copied" : "Press Ctrl+C"); }
          );
        } else {
          copied(button, fallback(text) ? "Copied" : "Press Ctrl+C");
        }
      });
    });
  });
})();
