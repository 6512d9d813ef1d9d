// 定型文 in the LINE composer: typing "/" at the start of the message opens a picker of the
// shop's saved replies, filtered as you type; ↑/↓ choose, Enter or Tab inserts, Esc closes.
// The inserted text comes filled from the server; a placeholder with no value (no next
// booking) stays visible and is named under the composer (the server refuses to send it).
(function () {
  "use strict";
  var PLACEHOLDER = /\{(お客様名|次回予約|店舗名)\}/g;
  var cache = {};
  var state = { textarea: null, items: [], shown: [], active: 0, labels: {} };

  function pickerOf(textarea) { return textarea.form && textarea.form.querySelector("[data-picker]"); }
  function warningOf(textarea) { return textarea.form && textarea.form.querySelector("[data-picker-missing]"); }

  function load(textarea) {
    var url = textarea.getAttribute("data-saved-replies");
    if (!cache[url]) {
      cache[url] = fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .catch(function (e) { delete cache[url]; throw e; });
    }
    return cache[url];
  }

  function slashQuery(textarea) {
    var value = textarea.value, caret = textarea.selectionStart;
    if (value.charAt(0) !== "/") return null;
    var typed = value.slice(1, caret);
    if (/[\s]/.test(typed)) return null;
    return typed;
  }

  function close() {
    if (!state.textarea) return;
    var picker = pickerOf(state.textarea);
    if (picker) { picker.hidden = true; picker.textContent = ""; }
    state.textarea.removeAttribute("aria-activedescendant");
    state.textarea = null;
  }

  function render(textarea, query) {
    var picker = pickerOf(textarea);
    if (!picker) return;
    var needle = query.toLowerCase();
    state.shown = state.items.filter(function (item) {
      return !needle || item.title.toLowerCase().indexOf(needle) >= 0 || item.text.toLowerCase().indexOf(needle) >= 0;
    });
    state.active = Math.min(state.active, Math.max(0, state.shown.length - 1));
    picker.textContent = "";
    if (!state.shown.length) {
      var empty = document.createElement("p");
      empty.className = "muted";
      empty.textContent = state.labels.empty || "";
      picker.appendChild(empty);
    }
    state.shown.forEach(function (item, index) {
      var option = document.createElement("div");
      option.className = "saved-reply-option" + (index === state.active ? " active" : "");
      option.id = "saved-reply-option-" + item.id;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", index === state.active ? "true" : "false");
      option.setAttribute("data-index", String(index));
      var title = document.createElement("strong");
      title.textContent = item.title;
      var preview = document.createElement("span");
      preview.className = "muted";
      preview.textContent = " " + item.text.slice(0, 60);
      option.appendChild(title);
      option.appendChild(preview);
      if (item.missing.length) {
        var missing = document.createElement("span");
        missing.className = "badge badge-muted";
        missing.textContent = (state.labels.missing || "") + " " + item.missing.join(" ");
        option.appendChild(missing);
      }
      picker.appendChild(option);
      if (index === state.active) textarea.setAttribute("aria-activedescendant", option.id);
    });
    picker.hidden = false;
    state.textarea = textarea;
  }

  function showMissing(textarea) {
    var warning = warningOf(textarea);
    if (!warning) return;
    var found = [];
    (textarea.value.match(PLACEHOLDER) || []).forEach(function (p) { if (found.indexOf(p) < 0) found.push(p); });
    warning.hidden = !found.length;
    warning.textContent = found.length ? warning.getAttribute("data-text") + " " + found.join("、") : "";
  }

  function insert(textarea, item) {
    var rest = textarea.value.slice(textarea.selectionStart);
    textarea.value = item.text + rest;
    var caret = item.text.length;
    textarea.setSelectionRange(caret, caret);
    close();
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
    textarea.focus();
  }

  document.addEventListener("input", function (event) {
    var textarea = event.target;
    if (!(textarea instanceof HTMLTextAreaElement) || !textarea.hasAttribute("data-saved-replies")) return;
    showMissing(textarea);
    var query = slashQuery(textarea);
    if (query === null) { if (state.textarea === textarea) close(); return; }
    load(textarea).then(function (data) {
      state.items = data.items || [];
      state.labels = data.labels || {};
      if (slashQuery(textarea) !== null) render(textarea, slashQuery(textarea));
    }, function () { close(); });
  });

  // Capture phase: the picker's keys win over the composer's Enter-to-send (line_tab.js).
  document.addEventListener("keydown", function (event) {
    var textarea = state.textarea;
    if (!textarea || event.target !== textarea || event.isComposing) return;
    var handled = true;
    if (event.key === "ArrowDown") state.active = Math.min(state.active + 1, state.shown.length - 1);
    else if (event.key === "ArrowUp") state.active = Math.max(state.active - 1, 0);
    else if (event.key === "Escape") { close(); }
    else if ((event.key === "Enter" || event.key === "Tab") && state.shown.length) { insert(textarea, state.shown[state.active]); }
    else handled = false;
    if (!handled) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    if (state.textarea) render(textarea, slashQuery(textarea) || "");
  }, true);

  document.addEventListener("mousedown", function (event) {
    var option = event.target.closest && event.target.closest(".saved-reply-option");
    if (option && state.textarea) {
      event.preventDefault();  // keep the focus in the textarea
      insert(state.textarea, state.shown[Number(option.getAttribute("data-index"))]);
    } else if (state.textarea && !(event.target.closest && event.target.closest("[data-picker]"))) {
      close();
    }
  });

  // A search hit opens the conversation at its message.
  function focusHit() {
    var hit = document.querySelector(".msg-focus");
    if (hit && !hit.hasAttribute("data-focused")) {  // once: polling settles again later
      hit.setAttribute("data-focused", "");
      hit.scrollIntoView({ block: "center" });
    }
  }
  document.addEventListener("DOMContentLoaded", focusHit);
  document.addEventListener("htmx:afterSettle", focusHit);
})();
