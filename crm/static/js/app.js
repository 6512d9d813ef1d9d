// Behaviour the templates ask for with data- attributes, so that pages carry no inline
// script and the Content-Security-Policy can forbid it (script-src 'self').
(function () {
  "use strict";

  // <form data-confirm="..."> asks before it is submitted; so does a <button data-confirm="...">
  // that submits it (e.g. 予約を取り消す beside 予約を変更 in one form).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var button = event.submitter;
    var question = (button && button.dataset && button.dataset.confirm) || form.dataset.confirm;
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // <select data-autosubmit> submits its form when changed.
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field instanceof HTMLSelectElement && field.hasAttribute("data-autosubmit") && field.form) {
      field.form.submit();
    }
  });

  // Let htmx show the 409/422 answers of the drafts and scheduling buttons (they carry the message).
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    var elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    if ((status === 409 || status === 422) && elt && elt.closest && elt.closest("[data-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
