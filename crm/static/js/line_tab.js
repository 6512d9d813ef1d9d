// The LINE tab's composer and conversation: send keys, the character counter,
// keeping the conversation scrolled. Our own code; htmx does the requests.
(function () {
  "use strict";

  function scrollBox(root) {
    return (root || document).querySelector("[data-conversation]");
  }

  function nearBottom(box) {
    return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  }

  function toBottom(root) {
    var box = scrollBox(root);
    if (box) box.scrollTop = box.scrollHeight;
  }

  function updateCounter(textarea) {
    var form = textarea.form;
    var counter = form && form.querySelector("[data-counter]");
    if (!counter) return;
    var limit = parseInt(textarea.dataset.limit || "5000", 10);
    // String length in JavaScript is UTF-16 code units: LINE's own measure.
    var used = textarea.value.length;
    counter.textContent = used + " / " + limit;
    var over = used > limit;
    counter.classList.toggle("over", over);
    var send = form.querySelector("[data-send]");
    if (send) send.disabled = over;
  }

  // A touch keyboard has no Shift+Enter: there Enter always inserts a line break and the button sends.
  function touchKeyboard() {
    return window.matchMedia && window.matchMedia("(hover: none) and (pointer: coarse)").matches;
  }

  function showTouchHints(root) {
    if (!touchKeyboard()) return;
    (root || document).querySelectorAll("#composer [data-hint]").forEach(function (hint) {
      if (hint.dataset.touchHint) hint.textContent = hint.dataset.touchHint;
    });
  }

  document.addEventListener("keydown", function (event) {
    var textarea = event.target;
    if (!(textarea instanceof HTMLTextAreaElement) || !textarea.form || textarea.form.id !== "composer") return;
    // Enter while an IME is composing (Japanese input) confirms the conversion; it never sends.
    if (event.key !== "Enter" || event.isComposing || event.keyCode === 229) return;
    if (touchKeyboard()) return;
    var mode = textarea.form.dataset.sendKey || "enter";
    var sends = mode === "alt_enter" ? event.altKey : !(event.shiftKey || event.altKey || event.ctrlKey || event.metaKey);
    // The button Enter presses: 送信, or 承認を依頼 for staff whose messages need approval.
    var button = textarea.form.querySelector("[data-send]");
    if (!sends || !button) return; // a line break
    event.preventDefault();
    var image = textarea.form.querySelector("[data-image-input]");
    var hasImage = image && image.files && image.files.length;
    if ((!textarea.value.trim() && !hasImage) || button.disabled) return;
    button.click(); // a click, so that a button with its own hx-post (承認を依頼) is the one htmx sends
  });

  document.addEventListener("input", function (event) {
    if (event.target instanceof HTMLTextAreaElement && event.target.dataset.limit) updateCounter(event.target);
  });

  // Older messages are inserted above: keep what the user is looking at in place.
  var heightBefore = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var box = scrollBox();
    if (box && event.detail.target && event.detail.target.classList.contains("older-sentinel")) {
      heightBefore = box.scrollHeight - box.scrollTop;
    }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var box = scrollBox();
    if (!box) return;
    if (heightBefore !== null) {
      box.scrollTop = box.scrollHeight - heightBefore;
      heightBefore = null;
    } else if (event.detail.target && (event.detail.target.id === "customer-tabs" || event.detail.target.id === "line-conversation")) {
      toBottom();
    }
  });
  // New messages from polling: follow them if the user was reading the end.
  document.addEventListener("htmx:oobBeforeSwap", function () {
    var box = scrollBox();
    if (box) box.dataset.follow = nearBottom(box) ? "1" : "";
  });
  document.addEventListener("htmx:oobAfterSwap", function () {
    var box = scrollBox();
    if (box && box.dataset.follow) toBottom();
  });

  document.addEventListener("htmx:afterSettle", function (event) { showTouchHints(event.detail.target); });
  document.addEventListener("DOMContentLoaded", function () { toBottom(); showTouchHints(); });
})();
