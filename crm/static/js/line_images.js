// The composer's image: chosen with the file input, pasted into the message box or dropped
// onto the composer; checked here (JPEG/PNG, 10 MB) before it is sent, checked again by the server.
(function () {
  "use strict";

  var kept = null; // the image of the last submission, put back when the server refused only its text

  function composer() {
    return document.querySelector("form[data-image-composer]");
  }

  function showError(form, text) {
    var box = form.querySelector("[data-composer-error]");
    if (!box) return;
    box.textContent = text || "";
    box.hidden = !text;
  }

  function preview(form, file) {
    var panel = form.querySelector("[data-image-preview]");
    var thumb = form.querySelector("[data-image-thumb]");
    if (!panel || !thumb) return;
    if (thumb.src && thumb.src.indexOf("blob:") === 0) URL.revokeObjectURL(thumb.src);
    if (!file) {
      panel.hidden = true;
      thumb.removeAttribute("src");
      return;
    }
    thumb.src = URL.createObjectURL(file);
    form.querySelector("[data-image-name]").textContent = file.name + " (" + (file.size / 1024 / 1024).toFixed(1) + " MB)";
    panel.hidden = false;
  }

  function acceptable(form, file) {
    if (file.type !== "image/jpeg" && file.type !== "image/png") return form.dataset.imageTypeError;
    if (file.size > parseInt(form.dataset.imageLimit || "10485760", 10)) return form.dataset.imageSizeError;
    return null;
  }

  function attach(form, file) {
    var input = form.querySelector("[data-image-input]");
    if (!input) return;
    var problem = file ? acceptable(form, file) : null;
    if (problem) {
      showError(form, problem);
      input.value = "";
      preview(form, null);
      return;
    }
    showError(form, "");
    if (file) {
      var transfer = new DataTransfer();
      transfer.items.add(file);
      input.files = transfer.files;
    } else {
      input.value = "";
    }
    preview(form, file);
  }

  function imageOf(items) {
    for (var i = 0; i < (items ? items.length : 0); i++) {
      var item = items[i];
      var file = item.getAsFile ? (item.kind === "file" ? item.getAsFile() : null) : item;
      if (file && file.type && file.type.indexOf("image/") === 0) return file;
    }
    return null;
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!(input instanceof HTMLInputElement) || !input.hasAttribute("data-image-input")) return;
    attach(input.form, input.files[0] || null);
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-image-clear]");
    if (button) attach(button.form, null);
  });

  document.addEventListener("paste", function (event) {
    var form = event.target.closest && event.target.closest("form[data-image-composer]");
    if (!form || !event.clipboardData) return;
    var file = imageOf(event.clipboardData.items) || imageOf(event.clipboardData.files);
    if (!file) return; // text is pasted as usual
    event.preventDefault();
    attach(form, file.name ? file : new File([file], "pasted.png", { type: file.type }));
  });

  document.addEventListener("dragover", function (event) {
    var form = event.target.closest && event.target.closest("form[data-image-composer]");
    if (!form) return;
    event.preventDefault();
    form.classList.add("dropping");
  });
  document.addEventListener("dragleave", function (event) {
    var form = event.target.closest && event.target.closest("form[data-image-composer]");
    if (form) form.classList.remove("dropping");
  });
  document.addEventListener("drop", function (event) {
    var form = event.target.closest && event.target.closest("form[data-image-composer]");
    if (!form) return;
    event.preventDefault();
    form.classList.remove("dropping");
    var files = event.dataTransfer ? event.dataTransfer.files : null;
    var file = files && files.length ? files[0] : null;
    if (file) attach(form, file);
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = composer();
    if (!form || !form.contains(event.detail.elt)) return; // polling and other requests
    var input = form.querySelector("[data-image-input]");
    kept = input && input.files.length ? input.files[0] : null;
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var form = composer();
    var target = event.detail.target;
    if (!form || !kept || !target || (target.id !== "customer-tabs" && target.id !== "line-conversation")) return;
    if (kept && form.querySelector("[data-composer-error]:not([hidden])") && !form.hasAttribute("data-image-refused")) {
      attach(form, kept); // the server refused the text: the chosen image stays
    }
    kept = null;
  });
})();
