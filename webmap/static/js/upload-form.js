/* petakota: the upload form sends its file with a progress bar and takes dropped files.
 *
 * A static file rather than an inline script: a refused upload's answer (the form again, with
 * the reason) is written into this page, whose Content-Security-Policy nonce is not that
 * answer's, so only scripts loaded from the app keep working.  The texts come from the JSON
 * block #upload-texts of the page.
 */
(function () {
  "use strict";
  var form = document.getElementById("upload-form"), drop = document.getElementById("drop"),
      input = document.getElementById("file"), bar = document.getElementById("progress"),
      text = document.getElementById("progress-text"),
      texts = JSON.parse(document.getElementById("upload-texts").textContent);
  ["dragenter", "dragover"].forEach(function (name) {
    drop.addEventListener(name, function (e) { e.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    drop.addEventListener(name, function (e) { e.preventDefault(); drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (e) {
    if (e.dataTransfer && e.dataTransfer.files.length) {
      input.files = e.dataTransfer.files;
      text.textContent = texts.selected + " " + input.files[0].name;
    }
  });
  if (!window.XMLHttpRequest || !window.FormData) { return; }  // normal form post
  form.addEventListener("submit", function (e) {
    if (!input.files.length) { return; }
    e.preventDefault();
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    bar.hidden = false;
    xhr.upload.onprogress = function (ev) {
      if (ev.lengthComputable) {
        bar.value = Math.round(100 * ev.loaded / ev.total);
        text.textContent = texts.uploading + " " + bar.value + "%";
      }
    };
    xhr.upload.onload = function () { text.textContent = texts.checking; };
    xhr.onload = function () {
      if (xhr.status === 200 && xhr.responseURL && xhr.responseURL.indexOf("/unggah/") !== -1) {
        window.location.href = xhr.responseURL;  // the report page (after the 303)
      } else if (xhr.status === 413) {
        bar.hidden = true; text.textContent = xhr.responseText;
      } else {
        document.open(); document.write(xhr.responseText); document.close();
      }
    };
    xhr.onerror = function () { form.submit(); };  // fall back to a normal post
    xhr.send(new FormData(form));
  });
})();
